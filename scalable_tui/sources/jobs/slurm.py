"""Batch-scheduler job sources: Slurm now, room for PBS/SGE/LSF beside it.

``SlurmSource.poll()`` runs ONE ``squeue`` for all of the user's jobs (fixed
``-o`` format, optionally ``--name`` filtered), adds final states and exit
codes from ``sacct`` where accounting works (remembered when it does not),
and returns a ``JobsSnapshot``.  A slow or unreachable slurmctld is a status
on the snapshot (``slow``/``down`` with a message, previous jobs kept),
never an exception.  Every command runs with a timeout.  Polling cadence is
the caller's: every 15-30 s is gentle enough for a busy controller.

Workers are tied to jobs by name (dask-jobqueue's ``--name`` in the job's
batch script, fetched once per job id and cached; older
``dask-worker--<jobid>--`` names; Scalable's ``<worker>-job`` job names; the
``Worker name:`` line of the job's log), by ``SLURM_JOB_ID`` when the caller
asked the workers, and by host as a last resort.

Nothing here imports distributed or Textual.

Use (from a worker thread; ``poll`` blocks on subprocesses)::

    src = job_source("auto", name="dask-worker", log_dir=log_directory)  # None: no squeue / --no-slurm
    snap = src.poll()                    # JobsSnapshot, every DEFAULT_POLL_INTERVAL_S; never raises
    snap.status, snap.message            # "ok" | "slow" | "down", why
    snap.pending_summary()               # "3 jobs PENDING: Resources"
    wm = src.map_workers(snap, [WorkerSeen(name, host=host) for name, host in workers])
    wm.worker_to_job, wm.jobs_without_worker, wm.workers_without_job
    assistant.hpc.hpc_findings(snap, departures, log_directory)   # -> list[Finding]
"""

from __future__ import annotations

import abc
import os
import pwd
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

from scalable_tui.model.jobs import Job, JobsSnapshot, WorkerJobMap, WorkerSeen
from scalable_tui.sources.jobs import attribution
from scalable_tui.sources.jobs.slurm_logs import JobLog, LogScanner
from scalable_tui.sources.jobs.slurm_parse import (
    SACCT_FORMAT,
    SQUEUE_FORMAT,
    base_state,
    format_duration,
    job_id_from_worker_name,
    parse_duration,
    parse_sacct,
    parse_scontrol_job,
    parse_squeue,
    parse_squeue_json,
)

__all__ = [
    "CmdResult",
    "DEFAULT_POLL_INTERVAL_S",
    "JobSource",
    "SlurmSource",
    "job_source",
    "reconcile_workers",
    "run_command",
    "slurm_available",
    "parse_duration",
    "time_left_text",
]

DEFAULT_POLL_INTERVAL_S = 20.0


# -- running commands ----------------------------------------------------------
@dataclass(slots=True)
class CmdResult:
    argv: list[str]
    returncode: int | None
    stdout: str = ""
    stderr: str = ""
    duration_s: float = 0.0
    timed_out: bool = False
    #: The program is not installed / not on PATH.
    missing: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out and not self.missing

    def error_text(self) -> str:
        if self.missing:
            return f"{self.argv[0]} not found on PATH"
        if self.timed_out:
            return f"{self.argv[0]} gave no answer within {self.duration_s:.0f} s"
        text = (self.stderr or self.stdout).strip().splitlines()
        return text[-1][:300] if text else f"{self.argv[0]} exited with {self.returncode}"


Runner = Callable[[Sequence[str], float], CmdResult]

#: Environment variables that change what squeue/sacct print: dropped for our calls.
_ENV_DROP = re.compile(r"^(SQUEUE_|SACCT_|SLURM_TIME_FORMAT$|SLURM_CLUSTERS$|SINFO_)")


def _command_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not _ENV_DROP.match(k)}
    env["SLURM_TIME_FORMAT"] = "standard"
    env["LC_ALL"] = "C"
    return env


def run_command(argv: Sequence[str], timeout: float) -> CmdResult:
    """Run one scheduler command with a timeout; never raises for a missing, failing or hung command."""
    t0 = time.monotonic()
    try:
        proc = subprocess.run(
            list(argv), capture_output=True, text=True, errors="replace", timeout=timeout,
            env=_command_env(), stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        return CmdResult(list(argv), None, duration_s=time.monotonic() - t0, missing=True)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode("utf-8", "replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return CmdResult(list(argv), None, stdout=out, duration_s=time.monotonic() - t0, timed_out=True)
    except OSError as exc:
        return CmdResult(list(argv), None, stderr=str(exc), duration_s=time.monotonic() - t0)
    return CmdResult(list(argv), proc.returncode, proc.stdout, proc.stderr, time.monotonic() - t0)


def slurm_available() -> bool:
    """Is ``squeue`` on PATH?"""
    return shutil.which("squeue") is not None


# -- the interface -------------------------------------------------------------
class JobSource(abc.ABC):
    """A batch scheduler's view of the jobs behind the Dask workers.

    Implementations must never raise from ``poll``: a scheduler that is slow
    or down is ``JobsSnapshot.status``.  ``poll`` blocks (subprocesses), so a
    UI calls it from a worker thread.
    """

    scheduler: str = "?"

    @abc.abstractmethod
    def poll(self) -> JobsSnapshot:
        """One gentle look at the scheduler (one listing call for all jobs)."""

    def map_workers(
        self, snapshot: JobsSnapshot, workers: Iterable[WorkerSeen | str], *, grace_s: float = 60.0,
        now: float | None = None,
    ) -> WorkerJobMap:
        """Tie Dask workers to jobs and report what does not line up (default: names and hosts only)."""
        return reconcile_workers(snapshot, workers, grace_s=grace_s, now=now)

    def logs(self, job_ids: set[str] | None = None) -> dict[str, JobLog]:
        """What the job logs say ({} when the source has no log directory)."""
        return {}


# -- Slurm ---------------------------------------------------------------------
_DOWN = re.compile(r"Unable to contact slurm controller|connect failure|Connection refused|"
                   r"Zero Bytes were transmitted|No route to host|Invalid user|Unable to establish", re.I)
_SLOW = re.compile(r"Socket timed out|timed out|Resource temporarily unavailable|Slurm backup controller in standby", re.I)
_ACCT_OFF = re.compile(r"accounting storage is disabled|slurmdbd|Connection refused|"
                       r"Problem talking to the database|not running a supported accounting_storage|"
                       r"Unable to contact|No such file", re.I)


class SlurmSource(JobSource):
    """Slurm jobs of one user via ``squeue``/``sacct``/``scontrol``.

    Parameters
    ----------
    user: whose jobs (default: the current user).
    name: only jobs with this job name (dask-jobqueue's default is ``dask-worker``); a list is allowed.
    log_dir: dask-jobqueue ``log_directory`` to read job logs from (worker names, kill reasons).
    timeout_s: per command; squeue needs ~9 s to report an unreachable controller.
    slow_after_s: a listing slower than this makes the status ``slow``.
    use_json: ``True`` uses ``squeue --json`` when this squeue has it (probed once);
        default ``False`` keeps the fixed ``-o`` format, which every version prints alike.
    resolve_worker_names: fetch each new job's batch script once (``scontrol write batch_script``)
        to learn its Dask worker names; at most ``max_scripts_per_poll`` per poll.
    forget_after_s: jobs no longer listed are kept (as ``gone``) this long.
    cluster: the Dask scheduler address whose jobs these are (``attach``/``record``): only jobs with
        evidence (``sources.slurm_attribution``) are ``snapshot.jobs``; the user's other jobs are
        ``snapshot.other_jobs``.  ``None``: no filtering (a caller that filters by a unique job name).
    runner: replaces ``run_command`` (tests).
    """

    scheduler = "slurm"

    def __init__(
        self,
        *,
        user: str | None = None,
        name: str | Sequence[str] | None = None,
        log_dir: str | os.PathLike[str] | None = None,
        timeout_s: float = 15.0,
        slow_after_s: float = 5.0,
        use_json: bool = False,
        resolve_worker_names: bool = True,
        max_scripts_per_poll: int = 32,
        forget_after_s: float = 24 * 3600.0,
        runner: Runner | None = None,
        clock: Callable[[], float] = time.time,
        cluster: str | None = None,
    ) -> None:
        self.cluster = cluster
        #: Every address this cluster's scheduler is known by (``cluster``, the scheduler's own address).
        self.cluster_addresses: list[str] = [cluster] if cluster else []
        self.user = user or _current_user()
        self.names = [name] if isinstance(name, str) else (list(name) if name else [])
        self.timeout_s = timeout_s
        self.slow_after_s = slow_after_s
        self.use_json = use_json
        self.resolve_worker_names = resolve_worker_names
        self.max_scripts_per_poll = max_scripts_per_poll
        self.forget_after_s = forget_after_s
        self.run: Runner = runner or run_command
        self.clock = clock
        self.log_scanner = LogScanner(log_dir) if log_dir is not None else None
        #: Does sacct work here?  None until first needed; False is remembered.
        self.accounting: bool | None = None
        self.version: str | None = None
        self._noconvert = True
        self._json_ok: bool | None = None
        self._jobs: dict[str, Job] = {}
        #: Job ids whose final facts are in (sacct or scontrol answered): never asked again.
        self._final: set[str] = set()
        self._sacct_tries: dict[str, int] = {}
        #: Job id -> worker names from its batch script ([] = no dask worker in it / no script).
        self._script_names: dict[str, list[str]] = {}
        #: Job id -> what its batch script says (scheduler address, worker names); None: no script.
        self._scripts: dict[str, attribution.ScriptInfo | None] = {}
        #: Job id -> evidence from workers registered on ``cluster`` (``map_workers``), kept across polls.
        self._worker_evidence: dict[str, str] = {}
        self._last_ok: float | None = None
        #: Worker names ever seen connected (for "never connected").
        self.ever_seen: set[str] = set()

    # -- polling --
    def squeue_argv(self) -> list[str]:
        argv = ["squeue", "-h", "-t", "all", "-u", self.user]
        if self.names:
            argv.append("--name=" + ",".join(self.names))
        if self._json_ok:
            return argv + ["--json"]
        if self._noconvert:
            argv.append("--noconvert")
        return argv + ["-o", SQUEUE_FORMAT]

    def poll(self) -> JobsSnapshot:
        now = self.clock()
        t0 = time.monotonic()
        snap = JobsSnapshot(polled_at=now, scheduler="slurm", version=self.version)
        if self.use_json and self._json_ok is None:
            self._json_ok = self._probe_json()
        res = self.run(self.squeue_argv(), self.timeout_s)
        snap.commands.append(" ".join(res.argv))
        if not res.ok and self._noconvert and "noconvert" in (res.stderr or ""):
            self._noconvert = False  # very old squeue: no --noconvert
            res = self.run(self.squeue_argv(), self.timeout_s)
            snap.commands.append(" ".join(res.argv))
        if not res.ok:
            snap.status, snap.message = _classify_failure(res)
            self._fill(snap, now, t0)
            return snap
        if self._json_ok:
            listed, bad = parse_squeue_json(res.stdout)
        else:
            listed, bad = parse_squeue(res.stdout)
        # squeue --json (22.05) ignores -u/--name: filter here (a no-op for the -o listing)
        listed = [j for j in listed if (j.user is None or j.user == self.user)
                  and (not self.names or j.name in self.names)]
        snap.parse_errors = bad
        self._last_ok = now
        if self.version is None:
            self.probe_version()
        if res.duration_s > self.slow_after_s:
            snap.status, snap.message = "slow", f"squeue took {res.duration_s:.1f} s (slurmctld busy?)"
        elif bad:
            snap.message = f"{bad} line(s) of squeue output could not be read"
        self._merge(listed, now)
        self._final_facts(snap)
        if self.resolve_worker_names:
            self._resolve_scripts(snap)
        if self.log_scanner is not None:
            self._apply_logs(self.log_scanner.scan(set(self._jobs)))
        self._fill(snap, now, t0)
        return snap

    def _fill(self, snap: JobsSnapshot, now: float, t0: float) -> None:
        snap.jobs = sorted(self._jobs.values(), key=_job_sort_key)
        if self.cluster is not None:
            self._split(snap)
        snap.last_ok = self._last_ok
        snap.accounting = self.accounting
        snap.poll_duration_s = time.monotonic() - t0
        snap.version = self.version

    def _merge(self, listed: list[Job], now: float) -> None:
        seen = set()
        for job in listed:
            seen.add(job.job_id)
            old = self._jobs.get(job.job_id)
            if old is not None and job.job_id in self._final and old.is_final and job.is_final:
                old.last_seen, old.gone = now, False  # final facts (sacct/scontrol) are in: keep them
                continue
            job.first_seen = old.first_seen if old else now
            job.last_seen = now
            if old is not None:
                job.worker_names = old.worker_names
                job.mapped_by = old.mapped_by
                job.exit_code = job.exit_code or old.exit_code
                job.max_rss_mb = old.max_rss_mb
                job.step_states = old.step_states
            if job.job_id in self._script_names and not job.worker_names:
                self._set_names(job, self._script_names[job.job_id], "batch_script")
            if not job.worker_names:
                self._names_from_job(job)
            if job.job_id in self._final and not job.is_final:
                self._final.discard(job.job_id)  # requeued
            self._jobs[job.job_id] = job
        for jid, job in list(self._jobs.items()):
            if jid in seen:
                continue
            if job.last_seen is not None and now - job.last_seen > self.forget_after_s:
                del self._jobs[jid]
                self._final.discard(jid)
                self._script_names.pop(jid, None)
                self._scripts.pop(jid, None)
                self._worker_evidence.pop(jid, None)
                continue
            job.gone = True

    def _split(self, snap: JobsSnapshot) -> None:
        """This cluster's jobs in ``snap.jobs``, the rest in ``snap.other_jobs`` (evidence: module doc)."""
        every = sorted([*snap.jobs, *snap.other_jobs], key=_job_sort_key)
        for j in every:
            info = self._scripts.get(j.job_id)
            j.scheduler_address = info.scheduler if info is not None else None
        ev = attribution.attribute(every, self.cluster_addresses, self._scripts, self._worker_evidence)
        snap.jobs, snap.other_jobs = attribution.split_by_cluster(every, ev)
        snap.cluster = self.cluster

    def add_cluster_address(self, address: str | None) -> None:
        """Another address of the same scheduler (the one it reports itself, behind a tunnel or alias)."""
        if self.cluster is not None and address and address not in self.cluster_addresses:
            self.cluster_addresses.append(address)

    def _names_from_job(self, job: Job) -> None:
        """Worker names without any extra call: old jobqueue names, Scalable's ``<worker>-job``."""
        if job.name.endswith("-job") and len(job.name) > 4:
            self._set_names(job, [job.name[:-4]], "job_name")

    @staticmethod
    def _set_names(job: Job, names: list[str], how: str) -> None:
        if names:
            job.worker_names = list(names)
            job.mapped_by = how

    def _final_facts(self, snap: JobsSnapshot) -> None:
        """sacct (one call) for ended or vanished jobs; scontrol for exit codes when there is no accounting."""
        need = [j for j in self._jobs.values() if (j.is_final or j.gone) and j.job_id not in self._final]
        if not need:
            return
        if self.accounting is not False:
            ids = sorted({j.job_id.split("+")[0] for j in need})
            for j in need:
                self._sacct_tries[j.job_id] = self._sacct_tries.get(j.job_id, 0) + 1
            # no --noconvert here: it prints MaxRSS as bare bytes but ReqMem with a unit
            argv = ["sacct", "-n", "-P", "-j", ",".join(ids), "-o", SACCT_FORMAT]
            res = self.run(argv, self.timeout_s)
            snap.commands.append(" ".join(argv[:6]) + " …")
            if res.ok:
                self.accounting = True
                got, bad = parse_sacct(res.stdout)
                snap.parse_errors += bad
                for jid, acct in got.items():
                    cur = self._jobs.get(jid)
                    if cur is None:
                        continue
                    _apply_sacct(cur, acct)
                    if cur.is_final:
                        self._final.add(jid)
                for j in need:  # accounting never heard of it (or still lags) after several polls
                    if self._sacct_tries.get(j.job_id, 0) >= 5 and j.job_id not in self._final:
                        self._final.add(j.job_id)
            elif res.missing or (res.returncode not in (None, 0) and _ACCT_OFF.search(res.stderr + res.stdout)):
                self.accounting = False
            # a timeout is transient: ask again next poll
        if self.accounting is False:
            budget = 16
            for job in need:
                if job.job_id in self._final or job.gone or budget <= 0:
                    if job.gone and job.job_id not in self._final:
                        self._final.add(job.job_id)  # nothing more to learn without accounting
                    continue
                budget -= 1
                res = self.run(["scontrol", "-o", "show", "job", job.job_id], self.timeout_s)
                if res.ok:
                    kv = parse_scontrol_job(res.stdout)
                    if kv.get("ExitCode"):
                        job.exit_code = kv["ExitCode"]
                    if kv.get("JobState"):
                        job.state = base_state(kv["JobState"])
                    job.source = "scontrol"
                    self._final.add(job.job_id)
                elif res.returncode not in (None, 0):
                    self._final.add(job.job_id)  # purged: nothing more to learn

    def history(self, start: float, end: float | None = None) -> JobsSnapshot:
        """The user's jobs (name filter applies) between ``start`` and ``end`` (epoch s), from sacct.

        For ``review`` of a finished run: one sacct call over the run's time window, so job ids
        need not be known.  Without accounting: ``accounting=False`` and no jobs, not an error.
        """
        now = self.clock()
        t0 = time.monotonic()
        snap = JobsSnapshot(polled_at=now, scheduler="slurm")
        fmt = "%Y-%m-%dT%H:%M:%S"
        argv = ["sacct", "-n", "-P", "-u", self.user, "-S", time.strftime(fmt, time.localtime(start)),
                "-E", time.strftime(fmt, time.localtime(end if end is not None else now)), "-o", SACCT_FORMAT]
        if self.names:
            argv.append("--name=" + ",".join(self.names))
        res = self.run(argv, self.timeout_s)
        snap.commands.append(" ".join(argv))
        if not res.ok:
            if res.missing or (res.returncode not in (None, 0) and _ACCT_OFF.search(res.stderr + res.stdout)):
                self.accounting = False
                snap.message = "no accounting (sacct): " + res.error_text()
            else:
                snap.status, snap.message = _classify_failure(res)
        else:
            self.accounting = True
            got, snap.parse_errors = parse_sacct(res.stdout)
            for job in got.values():
                job.first_seen = job.last_seen = now
                self._names_from_job(job)
            if self.log_scanner is not None:
                for jid, log in self.log_scanner.scan(set(got)).items():
                    if jid in got and not got[jid].worker_names and log.worker_names:
                        self._set_names(got[jid], log.worker_names, "log")
            snap.jobs = sorted(got.values(), key=_job_sort_key)
            snap.last_ok = now
        snap.accounting = self.accounting
        snap.poll_duration_s = time.monotonic() - t0
        return snap

    def _resolve_scripts(self, snap: JobsSnapshot) -> None:
        if self.cluster is not None:  # attribution needs every job's script (cached: asked once per job)
            todo = [j for j in self._jobs.values() if j.job_id not in self._scripts]
        else:
            todo = [j for j in self._jobs.values() if not j.gone and j.job_id not in self._script_names
                    and j.mapped_by in (None, "host")]
        todo.sort(key=lambda j: (not j.is_active, j.job_id))
        deadline = time.monotonic() + max(1.0, self.timeout_s)
        for job in todo[: self.max_scripts_per_poll]:
            if time.monotonic() > deadline:
                break
            names = self.batch_script_names(job.job_id)
            if names is None:
                break  # controller trouble: try the rest next poll
            if job.mapped_by in (None, "host"):
                self._set_names(job, names, "batch_script")

    def batch_script_names(self, job_id: str) -> list[str] | None:
        """Worker names from the job's batch script, cached per job id (``None``: ask again later)."""
        if job_id in self._script_names:
            return self._script_names[job_id]
        res = self.run(["scontrol", "write", "batch_script", job_id, "-"], self.timeout_s)
        if res.timed_out or res.missing:
            return None
        if not res.ok:
            err = res.error_text()
            if _DOWN.search(err):
                return None
            names: list[str] = []  # not a batch job (salloc/srun), or purged
            self._scripts[job_id] = None
        else:
            info = attribution.parse_script(res.stdout, job_id)
            names = list(info.names)
            self._scripts[job_id] = info
        self._script_names[job_id] = names
        return names

    def script_info(self, job_id: str) -> attribution.ScriptInfo | None:
        """What the job's batch script says (scontrol while slurmctld remembers the job, else ``sacct -B``
        where accounting stores scripts); ``None``: no script to be had."""
        if job_id not in self._scripts:
            self.batch_script_names(job_id)
        info = self._scripts.get(job_id)
        if info is None and self.accounting is not False:
            res = self.run(["sacct", "-B", "-j", job_id], self.timeout_s)
            if res.ok and attribution.scheduler_from_script(res.stdout):
                info = self._scripts[job_id] = attribution.parse_script(res.stdout, job_id)
        return info

    def _apply_logs(self, logs: Mapping[str, JobLog]) -> None:
        for jid, log in logs.items():
            job = self._jobs.get(jid)
            if job is not None and not job.worker_names and log.worker_names:
                self._set_names(job, log.worker_names, "log")

    def logs(self, job_ids: set[str] | None = None) -> dict[str, JobLog]:
        if self.log_scanner is None:
            return {}
        return self.log_scanner.scan(set(self._jobs) if job_ids is None else job_ids)

    def _probe_json(self) -> bool:
        res = self.run(["squeue", "--help"], self.timeout_s)
        return res.ok and "--json" in res.stdout

    def probe_version(self) -> str | None:
        """``squeue --version`` once (``slurm 22.05.8`` -> ``22.05.8``)."""
        if self.version is None:
            res = self.run(["squeue", "--version"], min(self.timeout_s, 5.0))
            if res.ok:
                m = re.search(r"(\d+\.\d+(?:\.\d+)?)", res.stdout)
                self.version = m.group(1) if m else res.stdout.strip()[:40]
        return self.version

    # -- workers --
    def map_workers(
        self, snapshot: JobsSnapshot, workers: Iterable[WorkerSeen | str], *, grace_s: float = 60.0,
        now: float | None = None,
    ) -> WorkerJobMap:
        seen = [w if isinstance(w, WorkerSeen) else WorkerSeen(name=w) for w in workers]
        if self.cluster is not None:
            # workers registered on this scheduler are evidence too (SLURM_JOB_ID; name + host + time)
            every = [*snapshot.jobs, *snapshot.other_jobs]
            found = attribution.worker_evidence(every, self._scripts, seen, self.cluster_addresses)
            if any(self._worker_evidence.get(k) != v for k, v in found.items()):
                self._worker_evidence.update(found)
                self._split(snapshot)
        self.ever_seen.update(w.name for w in seen)
        return reconcile_workers(snapshot, seen, grace_s=grace_s, now=now, ever_seen=self.ever_seen)


def _apply_sacct(cur: Job, acct: Job) -> None:
    if acct.is_final or cur.gone:
        cur.state, cur.raw_state = acct.state, acct.raw_state
        cur.reason = acct.reason or cur.reason
    cur.exit_code = acct.exit_code or cur.exit_code
    cur.max_rss_mb = acct.max_rss_mb if acct.max_rss_mb is not None else cur.max_rss_mb
    cur.step_states = acct.step_states or cur.step_states
    for attr in ("elapsed_s", "end_time", "start_time", "node", "time_limit_s"):
        if getattr(acct, attr) is not None and (cur.gone or getattr(cur, attr) is None):
            setattr(cur, attr, getattr(acct, attr))
    if cur.is_final:
        cur.time_left_s = None
    cur.source = "sacct"


def _classify_failure(res: CmdResult) -> tuple[str, str]:
    if res.missing:
        return "down", res.error_text()
    if res.timed_out:
        return "slow", res.error_text() + " (slurmctld busy or unreachable)"
    err = res.error_text()
    if _SLOW.search(err):
        return "slow", err
    return "down", err


def _job_sort_key(j: Job) -> tuple[int, int, str]:
    order = 0 if j.is_active else 1 if j.is_pending else 2
    num = re.match(r"\d+", j.job_id)
    return (order, -int(num.group(0)) if num else 0, j.job_id)


def _current_user() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return os.environ.get("USER") or str(os.getuid())


# -- worker <-> job --------------------------------------------------------------
_host_cache: dict[str, set[str]] = {}


def _host_keys(host: str) -> set[str]:
    """Names and addresses a host is known by (cached; resolution failures are fine)."""
    h = host.strip().lower()
    if h.startswith(("tcp://", "tls://", "ucx://", "inproc://")):
        h = h.split("://", 1)[1]
    h = h.rsplit(":", 1)[0] if h.count(":") == 1 else h
    keys = _host_cache.get(h)
    if keys is not None:
        return keys
    keys = {h, h.split(".", 1)[0]}
    try:
        old = socket.getdefaulttimeout()
        socket.setdefaulttimeout(1.0)
        try:
            keys.add(socket.gethostbyname(h))
        finally:
            socket.setdefaulttimeout(old)
    except (OSError, UnicodeError):
        pass
    _host_cache[h] = keys
    return keys


def _expand_nodelist(nodes: str) -> list[str]:
    """``node[01-03,07],gpu5`` -> ``['node01', 'node02', 'node03', 'node07', 'gpu5']`` (simple forms)."""
    out: list[str] = []
    for m in re.finditer(r"([^,\[]+)(?:\[([^\]]*)\])?", nodes):
        prefix, ranges = m.group(1), m.group(2)
        if not ranges:
            out.append(prefix)
            continue
        for part in ranges.split(","):
            a, _, b = part.partition("-")
            if b and a.isdigit() and b.isdigit():
                out.extend(f"{prefix}{i:0{len(a)}d}" for i in range(int(a), int(b) + 1))
            else:
                out.append(prefix + a)
    return out


def reconcile_workers(
    snapshot: JobsSnapshot,
    workers: Iterable[WorkerSeen | str],
    *,
    grace_s: float = 60.0,
    now: float | None = None,
    ever_seen: set[str] | None = None,
) -> WorkerJobMap:
    """Map the connected Dask workers to jobs; list jobs without a worker and workers without a job.

    ``workers`` are the workers the scheduler lists now (names; hosts help the
    fallback; ``job_id`` from ``SLURM_JOB_ID`` wins when given).  A job whose
    worker never connected is an active job, running longer than ``grace_s``,
    none of whose worker names is in ``workers`` or ``ever_seen``.
    """
    now = time.time() if now is None else now
    seen = [w if isinstance(w, WorkerSeen) else WorkerSeen(name=w) for w in workers]
    names_now = {w.name for w in seen}
    ever = set(ever_seen or ()) | names_now
    jobs = snapshot.by_id()
    by_name: dict[str, str] = {}
    for j in snapshot.jobs:
        for n in j.worker_names:
            by_name.setdefault(n, j.job_id)
    out = WorkerJobMap()
    for w in seen:
        jid, how = None, None
        if w.job_id and w.job_id in jobs:
            jid, how = w.job_id, "env"
        elif w.name in by_name:
            jid, how = by_name[w.name], jobs[by_name[w.name]].mapped_by or "name"
        else:
            old = job_id_from_worker_name(w.name)
            if old and old in jobs:
                jid, how = old, "name"
        if jid is None and w.host:
            keys = _host_keys(w.host)
            cands = [
                j.job_id for j in snapshot.jobs
                if j.is_active and not j.gone and j.node
                and any(keys & _host_keys(n) for n in _expand_nodelist(j.node))
            ]
            if len(cands) == 1:
                jid, how = cands[0], "host"
        if jid is None:
            if w.job_id:  # SLURM_JOB_ID of a job this source does not list (other user/filter, or purged)
                out.workers_without_job.append(w.name)
                continue
            out.unmapped_workers.append(w.name)
            continue
        out.worker_to_job[w.name] = jid
        out.how[w.name] = how or "name"
        job = jobs[jid]
        if job.is_final or job.gone:
            out.workers_without_job.append(w.name)
    mapped_jobs = set(out.worker_to_job.values())
    for j in snapshot.jobs:
        if not j.is_active or j.gone or j.job_id in mapped_jobs:
            continue
        started = j.start_time
        if started is None or now - started < grace_s:
            continue
        if j.worker_names and any(n in ever for n in j.worker_names):
            continue
        if not j.worker_names:
            continue  # not known to run a Dask worker (no batch script with --name, no log line)
        out.jobs_without_worker.append(j.job_id)
    return out


# -- choosing a source ------------------------------------------------------------
def job_source(
    kind: str | None = "auto", *, force: bool = False, **kwargs: object
) -> JobSource | None:
    """The job source to use: ``"auto"`` -> Slurm when ``squeue`` is on PATH (or ``force``);
    ``None``/``"none"`` (``--no-slurm``) -> no source.  Other schedulers plug in here."""
    if kind in (None, "none", "off"):
        return None
    if kind in ("auto", "slurm"):
        if force or kind == "slurm" or slurm_available():
            return SlurmSource(**kwargs)  # type: ignore[arg-type]
        return None
    raise ValueError(f"unknown job scheduler {kind!r} (known: slurm)")


def time_left_text(job: Job) -> str:
    """Walltime left for a status column (``00:12:34``, ``UNLIMITED``, ``-``)."""
    if job.time_left_s is None:
        return "-"
    return format_duration(job.time_left_s)


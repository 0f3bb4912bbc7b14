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

Layout: ``base.py`` (the ``JobSource`` protocol, running a command), this
module (``squeue`` polling, batch scripts, logs), ``sacct.py`` (final facts,
history), ``reconcile.py`` (worker <-> job), ``attribution.py`` (which
cluster a job belongs to), ``slurm_parse.py``/``slurm_logs.py`` (reading
command output and job logs).

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

import os
import pwd
import re
import shutil
import time
from typing import Callable, Iterable, Mapping, Sequence

from scalable_tui.model.jobs import Job, JobsSnapshot, WorkerJobMap, WorkerSeen
from scalable_tui.sources.jobs import attribution
from scalable_tui.sources.jobs.base import (
    DEFAULT_POLL_INTERVAL_S,
    CmdResult,
    JobSource,
    Runner,
    _classify_failure,
    _job_sort_key,
    run_command,
    time_left_text,
)
from scalable_tui.sources.jobs.reconcile import reconcile_workers
from scalable_tui.sources.jobs.sacct import SacctFacts
from scalable_tui.model.jobs import JobLog
from scalable_tui.sources.jobs.slurm_logs import LogScanner
from scalable_tui.sources.jobs.slurm_parse import SQUEUE_FORMAT, parse_duration, parse_squeue, parse_squeue_json

#: ``SlurmSource``, ``job_source``; the protocol names for callers that import them from here.
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


def slurm_available() -> bool:
    """Is ``squeue`` on PATH?"""
    return shutil.which("squeue") is not None



# -- Slurm ---------------------------------------------------------------------
_DOWN = re.compile(r"Unable to contact slurm controller|connect failure|Connection refused|"
                   r"Zero Bytes were transmitted|No route to host|Invalid user|Unable to establish", re.I)


class SlurmSource(SacctFacts, JobSource):
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
        evidence (``attribution.py``) are ``snapshot.jobs``; the user's other jobs are
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
                job.total_cpu_s = old.total_cpu_s
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


def _current_user() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return os.environ.get("USER") or str(os.getuid())



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

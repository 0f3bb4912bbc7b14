"""Slurm facts -> findings: why the batch jobs behind the Dask workers died or never started.

Inputs are what a job source saw (``JobsSnapshot``: final states such as
TIMEOUT or OUT_OF_MEMORY, pending reasons), the job logs (dask-jobqueue's
``log_directory``: ``DUE TO TIME LIMIT``, ``oom-kill event``, …) and the
Dask workers that left.  Output is ``Finding``s with the usual categories
(``walltime``, ``oom``, ``preemption``, ``worker_lost`` for node failures
and crashed jobs, ``cluster_startup`` for jobs that never start) and advice
in dask-jobqueue terms, naming the job ids and worker names.

``hpc_failure_records`` gives the same facts as ``FailureRecord``s worded
so that the generic rules (``assistant.rules``) put them in the same
categories, for callers that merge them into a ``RunState``.

Headless: imports neither distributed nor Textual, and calls no scheduler.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from scalable_tui.model.diagnosis import SEVERITY_RANK, Evidence, Finding
from scalable_tui.model.jobs import Job, JobsSnapshot, WorkerDeparture
from scalable_tui.model.run import FailureRecord, WorkerEvent
from scalable_tui.model.jobs import JobLog, departure_job, format_duration

__all__ = ["DEFAULT_PENDING_AFTER_S", "hpc_facts", "hpc_failure_records", "hpc_findings", "lifetime_advice"]

#: A job pending longer than this is worth a finding (the UI shows pending jobs at once).
DEFAULT_PENDING_AFTER_S = 300.0
MAX_EVIDENCE = 12

#: Pending reason -> (what it means, what to change).  Unknown reasons get a generic line.
PENDING_ADVICE: dict[str, tuple[str, str]] = {
    "Resources": ("the partition has no free CPUs/memory/nodes for this request right now",
                  "ask for less per job (`cores=`, `memory=`, or several smaller jobs instead of one big one), or use a "
                  "partition with idle nodes (`queue=`; `sinfo -s` shows them)"),
    "Priority": ("other jobs are ahead in the queue",
                 "wait, or make jobs easier to backfill: a shorter `walltime=` and smaller requests"),
    "PartitionTimeLimit": ("the requested walltime is above the partition's MaxTime",
                           "lower `walltime=` below the partition limit (`sinfo -o '%P %l'`) or pick another partition"),
    "PartitionNodeLimit": ("the request needs more nodes than the partition allows", "ask for fewer nodes per job"),
    "PartitionDown": ("the partition is down", "use another partition (`queue=`) or wait for the admins"),
    "PartitionInactive": ("the partition is inactive", "use another partition (`queue=`)"),
    "ReqNodeNotAvail": ("the nodes it needs are unavailable (down, drained or reserved; maintenance?)",
                        "use another partition, or drop node constraints (`--nodelist`, `--constraint`)"),
    "NodeDown": ("a node it needs is down", "use another partition or drop `--nodelist`"),
    "BadConstraints": ("no node satisfies the constraints", "fix `--constraint`/`--gres` in `job_extra_directives`"),
    "Dependency": ("it waits for another job", "check the `--dependency` in `job_extra_directives`"),
    "DependencyNeverSatisfied": ("its dependency can never be met", "cancel it and drop the `--dependency`"),
    "JobHeldUser": ("it is held by its owner", "`scontrol release <job id>`"),
    "JobHeldAdmin": ("it is held by an administrator", "ask the admins why"),
    "BeginTime": ("it has a future start time", "drop `--begin` from `job_extra_directives`"),
    "Reservation": ("it waits for its reservation", "check `--reservation`"),
    "InvalidAccount": ("the account is invalid", "fix `account=`"),
    "InvalidQOS": ("the QOS is invalid", "fix the `--qos` in `job_extra_directives`"),
    "Licenses": ("it waits for licenses", "request fewer licenses or wait"),
}
_QOS_LIMIT = ("QOS", "Assoc", "MaxJobs", "MaxCpu", "MaxNode", "MaxMem", "MaxSubmit", "Grp", "MaxTRES")


def _pending_advice(reason: str) -> tuple[str, str]:
    if reason in PENDING_ADVICE:
        return PENDING_ADVICE[reason]
    if reason.startswith(_QOS_LIMIT) or "Limit" in reason:
        return (f"a QOS or association limit holds it ({reason})",
                "run fewer workers at once (`cluster.scale(n)` / `adapt(maximum=n)`) or smaller jobs, or use a QOS "
                "with higher limits (`job_extra_directives=['--qos=…']`; `sacctmgr show qos` / "
                "`sacctmgr show assoc user=$USER` list the limits)")
    return (f"Slurm's reason is {reason}", "see `scontrol show job <id>` and the site's documentation for this reason")


# -- facts ---------------------------------------------------------------------
@dataclass(slots=True)
class JobFact:
    """One job's Slurm story, with the evidence behind it."""

    kind: str  # walltime, oom, oom_suspected, preemption, node_fail, failed_start, failed, pending
    category: str
    job: Job
    workers: list[str] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    ts: float | None = None
    log: JobLog | None = None


_KIND_CATEGORY = {
    "walltime": "walltime",
    "oom": "oom",
    "oom_suspected": "oom",
    "preemption": "preemption",
    "node_fail": "worker_lost",
    "failed": "worker_lost",
    "failed_start": "cluster_startup",
    "pending": "cluster_startup",
}


def _iso(ts: float | None) -> str | None:
    if ts is None or not math.isfinite(ts):
        return None
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _as_departure(d: Any) -> WorkerDeparture | None:
    if isinstance(d, WorkerDeparture):
        return d
    if isinstance(d, str):
        return WorkerDeparture(name=d)
    if isinstance(d, WorkerEvent):
        name = d.worker_id or (d.details or {}).get("name")
        if not name:
            return None
        return WorkerDeparture(name=str(name), ts=d.ts, expected=(d.details or {}).get("expected"),
                               reason=(d.details or {}).get("reason"), job_id=(d.details or {}).get("job_id"))
    if isinstance(d, Mapping):
        name = d.get("name") or d.get("worker")
        if not name:
            return None
        ts = d.get("ts", d.get("time"))
        return WorkerDeparture(name=str(name), ts=ts if isinstance(ts, (int, float)) else None,
                               expected=d.get("expected"), reason=d.get("reason") or d.get("stimulus_id"),
                               address=d.get("address"), job_id=d.get("job_id"))
    return None


def _own_jobs(jobs: JobsSnapshot | Iterable[Job]) -> list[Job]:
    """The jobs that may become findings: a snapshot attributed to a cluster keeps only the jobs with
    evidence that they are that cluster's (``sources.slurm_attribution``); no evidence, no finding."""
    if isinstance(jobs, JobsSnapshot):
        if jobs.cluster is not None:
            return [j for j in jobs.jobs if j.cluster_evidence]
        return list(jobs.jobs)
    return list(jobs)


def _with_names(job: Job, names: list[str]) -> Job:
    """A copy of ``job`` that knows the worker names its log gives (the caller's job is not changed)."""
    from dataclasses import replace

    return replace(job, worker_names=list(names))


def _job_line(job: Job, workers: list[str]) -> str:
    who = f" (worker{'s' if len(workers) > 1 else ''} {', '.join(workers)})" if workers else ""
    bits = [f"job {job.job_id}{who}: {job.state}"]
    if job.reason and job.reason not in ("None", job.state):
        bits.append(f"reason {job.reason}")
    if job.is_pending:
        if job.partition:
            bits.append(f"partition {job.partition}")
    else:
        if job.elapsed_s is not None:
            lim = f" of {format_duration(job.time_limit_s)}" if job.time_limit_s is not None else ""
            bits.append(f"ran {format_duration(job.elapsed_s)}{lim}")
        if job.node:
            bits.append(f"on {job.node}")
        if job.exit_code:
            bits.append(f"exit code {job.exit_code}")
    if job.req_mem or job.req_cpus:
        bits.append(f"requested {job.req_cpus or '?'} CPU(s), {job.req_mem or '?'} memory")
    if job.max_rss_mb is not None:
        bits.append(f"peak RSS {job.max_rss_mb:.0f}M")
    odd = {k: v for k, v in job.step_states.items() if v not in (job.state, "COMPLETED")}
    if odd:
        bits.append("steps " + ", ".join(f"{k} {v}" for k, v in odd.items()))
    return ", ".join(bits)


def hpc_facts(
    jobs: JobsSnapshot | Iterable[Job],
    worker_departures: Iterable[WorkerDeparture | str | Mapping[str, Any] | WorkerEvent] = (),
    log_dir: str | os.PathLike[str] | Mapping[str, JobLog] | None = None,
    *,
    now: float | None = None,
    pending_after_s: float = DEFAULT_PENDING_AFTER_S,
) -> list[JobFact]:
    """One ``JobFact`` per job with something to say (failed, killed or stuck pending)."""
    now = time.time() if now is None else now
    job_list = _own_jobs(jobs)
    by_id = {j.job_id: j for j in job_list}
    if log_dir is None:
        logs: Mapping[str, JobLog] = {}
    elif isinstance(log_dir, Mapping):
        logs = log_dir
    else:  # the assistant reads no files: session.slurm_join.job_findings scans a log directory
        raise TypeError(f"pass the scanned job logs ({{job id: JobLog}}), not a directory: {log_dir!r}")
    # a shared log_directory holds other clusters' logs: only these jobs' logs count
    logs = {jid: log for jid, log in logs.items() if jid in by_id}
    for jid, log in logs.items():
        job = by_id[jid]
        if log.worker_names and not job.worker_names:
            job = by_id[jid] = _with_names(job, log.worker_names)
    named = list(by_id.values())
    deps: dict[str, list[WorkerDeparture]] = {}
    for raw in worker_departures:
        d = _as_departure(raw)
        if d is None:
            continue
        # by (this cluster's jobs, worker name, time): SLURMCluster-0 is another job in every cluster
        jid = departure_job(named, d.name, d.ts, d.job_id)
        if jid is not None:
            deps.setdefault(jid, []).append(d)

    facts: list[JobFact] = []
    for job in job_list:
        log = logs.get(job.job_id)
        kinds = log.kinds() if log else set()
        workers = list(dict.fromkeys([*job.worker_names, *(log.worker_names if log else []),
                                      *(d.name for d in deps.get(job.job_id, []))]))
        connected = bool(log and log.worker_names) or bool(deps.get(job.job_id))
        st = job.state
        if st in ("TIMEOUT", "DEADLINE") or "walltime" in kinds:
            kind = "walltime"
        elif st == "OUT_OF_MEMORY" or "oom" in kinds or "OUT_OF_MEMORY" in job.step_states.values():
            kind = "oom"
        elif st == "PREEMPTED" or "preemption" in kinds:
            kind = "preemption"
        elif st in ("NODE_FAIL", "BOOT_FAIL") or "node_fail" in kinds:
            kind = "node_fail"
        elif st == "FAILED":
            kind = "failed" if connected else "failed_start"
        elif "killed_signal_9" in kinds and job.req_mem and st != "CANCELLED":
            kind = "oom_suspected"
        elif job.is_pending and not job.gone and (job.pending_for(now) or 0) >= pending_after_s:
            kind = "pending"
        else:
            continue
        fact = JobFact(kind=kind, category=_KIND_CATEGORY[kind], job=job, workers=workers, log=log,
                       ts=job.end_time if job.is_final else (job.submit_time if kind == "pending" else now))
        text = _job_line(job, workers)
        if kind == "pending":
            text += f", pending for {format_duration(job.pending_for(now))}"
        fact.evidence.append(Evidence(timestamp=_iso(fact.ts), source=job.source, text=text))
        if log:
            want = {"walltime": ("walltime",), "oom": ("oom",), "oom_suspected": ("killed_signal_9",),
                    "preemption": ("preemption",), "node_fail": ("node_fail",)}.get(kind, ())
            for ev in log.events:
                if ev.kind in want:
                    fact.evidence.append(Evidence(timestamp=ev.timestamp, source=f"{ev.path}:{ev.line_no}", text=ev.line))
                    if kind == "oom_suspected" and sum(e.source != job.source for e in fact.evidence) >= 2:
                        break
        for d in deps.get(job.job_id, []):
            exp = "unknown" if d.expected is None else str(d.expected)
            why = f", {d.reason}" if d.reason else ""
            fact.evidence.append(Evidence(timestamp=_iso(d.ts), source="scheduler",
                                          text=f"worker {d.name} left (expected={exp}{why})"))
        facts.append(fact)
    return facts


# -- advice --------------------------------------------------------------------
def _dask_time(seconds: float) -> str:
    s = max(1, int(seconds))
    if s % 3600 == 0:
        return f"{s // 3600}h"
    if s % 60 == 0:
        return f"{s // 60}m"
    return f"{s}s"


def lifetime_advice(walltime_s: float) -> tuple[str, str]:
    """(``--lifetime``, ``--lifetime-stagger``) that retire a worker a few minutes before its walltime.

    lifetime + stagger stays below the walltime: 5 min margin and 2 min stagger for
    walltimes of 20 min or more, otherwise 75 % of it and a 5 % stagger.
    """
    if walltime_s >= 1200:
        return _dask_time((walltime_s - 300) // 60 * 60), "2m"
    return _dask_time(walltime_s * 0.75), _dask_time(max(1.0, walltime_s * 0.05))


def _margin(walltime_s: float) -> str:
    """How far below the walltime ``lifetime_advice`` retires workers, in words that fit its size."""
    if walltime_s >= 1200:
        return "about 5 minutes"
    life = walltime_s * 0.75
    gap = walltime_s - life
    return f"about {round(gap)} s" if gap < 90 else f"about {round(gap / 60)} minutes"


def _longer(walltime_s: float) -> str:
    return format_duration(math.ceil(walltime_s * 1.5 / 60) * 60)


def _mem_text(mb: float) -> str:
    return f"{mb / 1024:g}G" if mb >= 1024 and mb % 1024 == 0 else f"{int(math.ceil(mb))}M"


def _walls(facts: list[JobFact]) -> list[float]:
    return sorted({f.job.time_limit_s for f in facts if f.job.time_limit_s and math.isfinite(f.job.time_limit_s)})


def _suggest(kind: str, facts: list[JobFact], reason: str | None = None) -> str:
    ids = ", ".join(f.job.job_id for f in facts[:10]) + (" …" if len(facts) > 10 else "")
    if kind == "walltime":
        walls = _walls(facts)
        if walls:
            w = walls[0]
            life, stagger = lifetime_advice(w)
            return (
                f"Slurm killed job(s) {ids} at their walltime ({format_duration(w)}), so their workers vanished "
                f"with whatever they were running, and dask-jobqueue does not resubmit them. Request a longer "
                f"walltime (`walltime='{_longer(w)}'`), or let workers retire before the limit: "
                f"`worker_extra_args=['--lifetime', '{life}', '--lifetime-stagger', '{stagger}']` ({_margin(w)} "
                f"below the walltime) together with adaptive scaling (`cluster.adapt(minimum=…, maximum=…)`) so new "
                f"jobs replace the retired ones and their tasks move instead of failing."
            )
        return (
            f"Slurm killed job(s) {ids} at their walltime. Request a longer `walltime=`, or use "
            f"`worker_extra_args=['--lifetime', '<walltime minus 5 min>', '--lifetime-stagger', '2m']` with "
            f"`cluster.adapt(...)` so jobs are replaced before they are killed."
        )
    if kind in ("oom", "oom_suspected"):
        mems = sorted({f.job.req_mem_mb for f in facts if f.job.req_mem_mb})
        peak = max((f.job.max_rss_mb for f in facts if f.job.max_rss_mb), default=None)
        req = f" (job memory {_mem_text(mems[0])}" + (f", peak RSS {peak:.0f}M" if peak else "") + ")" if mems else ""
        nxt = f"e.g. `memory='{_mem_text(mems[0] * 2)}'`" if mems else "e.g. twice the current value"
        head = (f"The cgroup memory limit of job(s) {ids} was hit{req}: the kernel OOM killer killed the worker "
                f"process, which Dask sees as a worker dying (KilledWorker after repeated deaths).")
        if kind == "oom_suspected":
            head = (f"Worker processes inside job(s) {ids} were killed by signal 9 while the job kept running{req}: "
                    f"under Slurm that is usually the job's cgroup memory limit (Slurm reports the oom-kill event "
                    f"only when the job ends).")
        return (
            f"{head} Raise `memory=` ({nxt}), which raises `#SBATCH --mem` with it; or keep Dask's memory limit "
            f"below the cgroup's so the nanny restarts or spills before the kernel kills: request more for the job "
            f"than for Dask with `job_mem=` (e.g. `memory='1GB', job_mem='1300M'`) or lower "
            f"`distributed.worker.memory.target/spill/pause`. Fewer threads per worker also lowers the peak."
        )
    if kind == "preemption":
        return (
            f"Job(s) {ids} were preempted by higher-priority work: transient, a rerun is likely to work. Use "
            f"`job_extra_directives=['--requeue']` so Slurm requeues them, a non-preemptible partition/QOS for long "
            f"tasks, adaptive scaling so replacements are requested, and checkpoint long tasks so they resume."
        )
    if kind == "node_fail":
        return (
            f"The node under job(s) {ids} failed (NODE_FAIL): not caused by the tasks, rerun them. "
            f"`job_extra_directives=['--requeue']` lets Slurm restart such jobs; if the same node fails repeatedly, "
            f"exclude it (`--exclude=<node>`) and tell the admins."
        )
    if kind == "failed_start":
        codes = sorted({f.job.exit_code for f in facts if f.job.exit_code})
        return (
            f"Worker job(s) {ids} exited ({', '.join(codes) or 'non-zero'}) before a Dask worker connected: the job "
            f"script itself fails (python/env not found on the node, module load, wrong scheduler address or "
            f"firewall). Read the job's .err file in dask-jobqueue's `log_directory`, run `cluster.job_script()` by "
            f"hand on a compute node, and check `python=`, `job_script_prologue=` and `scheduler_options`."
        )
    if kind == "failed":
        return (
            f"Job(s) {ids} failed while their workers ran (non-zero exit). Read the job's .err file for the last "
            f"worker/nanny lines; a kill at the memory limit or a crashing native library are the usual causes."
        )
    # pending
    meaning, change = _pending_advice(reason or "?")
    return f"Job(s) {ids} have been PENDING ({reason}): {meaning}. To start sooner: {change}."


_TITLES = {
    "walltime": "Slurm killed {n} worker job{s} at the walltime{wall}",
    "oom": "Slurm's cgroup OOM killer hit {n} worker job{s}",
    "oom_suspected": "Worker processes killed by signal 9 inside {n} running job{s} (cgroup memory limit?)",
    "preemption": "{n} worker job{s} preempted by Slurm",
    "node_fail": "{n} worker job{s} lost to a node failure",
    "failed": "{n} worker job{s} FAILED while running",
    "failed_start": "{n} worker job{s} failed before the worker started",
    "pending": "{n} worker job{s} PENDING: {reason}",
}
_SEVERITY = {"walltime": "error", "oom": "error", "oom_suspected": "error", "preemption": "warning",
             "node_fail": "error", "failed": "error", "failed_start": "critical", "pending": "warning"}
_TRANSIENT = {"walltime": False, "oom": False, "oom_suspected": False, "preemption": True, "node_fail": True,
              "failed": None, "failed_start": False, "pending": True}
_MATCHED = {"walltime": "Slurm state TIMEOUT / 'DUE TO TIME LIMIT'", "oom": "Slurm state OUT_OF_MEMORY / 'oom-kill event'",
            "oom_suspected": "'Worker process … was killed by signal 9' in a running job's log",
            "preemption": "Slurm state PREEMPTED / 'DUE TO PREEMPTION'", "node_fail": "Slurm state NODE_FAIL",
            "failed": "Slurm state FAILED", "failed_start": "Slurm state FAILED, no worker connected",
            "pending": "Slurm state PENDING"}


def _finding(kind: str, facts: list[JobFact], reason: str | None, any_active: bool) -> Finding:
    facts = sorted(facts, key=lambda f: (f.ts if f.ts is not None else math.inf, f.job.job_id))
    n = len(facts)
    walls = _walls(facts)
    title = _TITLES[kind].format(n=n, s="s" if n != 1 else "", reason=reason,
                                 wall=f" ({format_duration(walls[0])})" if walls and kind == "walltime" else "")
    ids = [f.job.job_id for f in facts]
    title += f": job{'s' if n != 1 else ''} {', '.join(ids[:5])}{' …' if n > 5 else ''}"
    evidence: list[Evidence] = []
    for f in facts:
        evidence.extend(f.evidence[:4])
    if len(evidence) > MAX_EVIDENCE:
        evidence = evidence[: MAX_EVIDENCE - 1] + evidence[-1:]
    workers = list(dict.fromkeys(w for f in facts for w in f.workers))
    severity = _SEVERITY[kind]
    if kind == "pending" and not any_active:
        severity = "error"  # nothing runs at all
    j0 = facts[0].job
    category = _KIND_CATEGORY[kind]
    sig = f"slurm:{kind}" + (f":{reason}" if reason else "")
    return Finding(
        id=sig,
        category=category,
        severity=severity,  # type: ignore[arg-type]
        title=title,
        count=n,
        transient=_TRANSIENT[kind],
        exception_types=[],
        pattern=sig,
        suggestion=_suggest(kind, facts, reason),
        matched=_MATCHED[kind] + f" (job ids {', '.join(ids[:20])}{' …' if n > 20 else ''})",
        evidence=evidence,
        workers=workers[:50],
        first_seen=_iso(facts[0].ts),
        last_seen=_iso(facts[-1].ts),
        example_message=facts[0].evidence[0].text if facts[0].evidence else "",
        signature=sig,
        resources={
            "provider": "slurm",
            "requested_walltime": format_duration(j0.time_limit_s) if j0.time_limit_s is not None else None,
            "requested_memory": j0.req_mem,
            "requested_cpus": j0.req_cpus,
            "partition": j0.partition,
            "job_ids": ", ".join(ids[:50]),
        },
    )


def hpc_findings(
    jobs: JobsSnapshot | Iterable[Job],
    worker_departures: Iterable[WorkerDeparture | str | Mapping[str, Any] | WorkerEvent] = (),
    log_dir: str | os.PathLike[str] | Mapping[str, JobLog] | None = None,
    *,
    now: float | None = None,
    pending_after_s: float = DEFAULT_PENDING_AFTER_S,
) -> list[Finding]:
    """Findings from Slurm jobs, their logs and the Dask workers that left; most severe first.

    ``worker_departures``: ``WorkerDeparture``s, worker names, dicts with
    ``name``/``expected``/``ts``/``job_id``, or ``WorkerEvent``s.  ``log_dir``:
    dask-jobqueue's ``log_directory`` (or already scanned ``{job id: JobLog}``).
    Cancelled and completed jobs are not findings (closing a cluster cancels its jobs).
    """
    job_list = _own_jobs(jobs)
    facts = hpc_facts(job_list, worker_departures, log_dir, now=now, pending_after_s=pending_after_s)
    any_active = any(j.is_active and not j.gone for j in job_list)
    groups: dict[tuple[str, str | None], list[JobFact]] = {}
    for f in facts:
        key = (f.kind, (f.job.reason or "?") if f.kind == "pending" else None)
        groups.setdefault(key, []).append(f)
    findings = [_finding(kind, fs, reason, any_active) for (kind, reason), fs in groups.items()]
    findings.sort(key=lambda f: (SEVERITY_RANK[f.severity], -f.count, f.category, f.id))
    return findings


# -- as failure records ------------------------------------------------------------
_RECORD_WORDING = {
    # failure_class, message template: worded so that assistant.rules classifies them like hpc_findings
    "walltime": ("SlurmJobTimeout", "Slurm job {id} ended TIMEOUT: CANCELLED DUE TO TIME LIMIT ({wall})"),
    "oom": ("SlurmJobOutOfMemory", "Slurm job {id} ended OUT_OF_MEMORY: oom-kill event in the job's cgroup"),
    "oom_suspected": ("SlurmJobOutOfMemory", "Slurm job {id}: worker process killed by the cgroup oom-kill (signal 9 while the job ran)"),
    "preemption": ("SlurmJobPreempted", "Slurm job {id} ended PREEMPTED: CANCELLED DUE TO PREEMPTION"),
    "node_fail": ("SlurmJobNodeFail", "Slurm job {id} ended NODE_FAIL: node failure"),
    "failed": ("SlurmJobFailed", "Slurm job {id} ended FAILED (exit code {exit}): worker died"),
    "failed_start": ("SlurmJobFailed", "Slurm job {id} ended FAILED (exit code {exit}): worker failed to start"),
    "pending": ("SlurmJobPending", "Slurm job {id} PENDING ({reason}) for {pending}: worker failed to start"),
}


def hpc_failure_records(
    jobs: JobsSnapshot | Iterable[Job],
    worker_departures: Iterable[WorkerDeparture | str | Mapping[str, Any] | WorkerEvent] = (),
    log_dir: str | os.PathLike[str] | Mapping[str, JobLog] | None = None,
    *,
    now: float | None = None,
    pending_after_s: float = DEFAULT_PENDING_AFTER_S,
    start_index: int = 0,
) -> list[FailureRecord]:
    """The same facts as ``FailureRecord``s (``source='slurm'``), one per job, to append to a RunState."""
    now = time.time() if now is None else now
    out: list[FailureRecord] = []
    for i, f in enumerate(hpc_facts(jobs, worker_departures, log_dir, now=now, pending_after_s=pending_after_s)):
        cls, tmpl = _RECORD_WORDING[f.kind]
        j = f.job
        msg = tmpl.format(
            id=j.job_id, wall=format_duration(j.time_limit_s), exit=j.exit_code or "?",
            reason=j.reason or "?", pending=format_duration(j.pending_for(now)),
        )
        if f.workers:
            msg += f"; worker{'s' if len(f.workers) > 1 else ''} {', '.join(f.workers)}"
        out.append(FailureRecord(
            index=start_index + i,
            failure_class=cls,
            message=msg,
            timestamp=_iso(f.ts),
            ts=f.ts,
            task_id=None,
            provider="slurm",
            worker=f.workers[0] if f.workers else None,
            details={"job_id": j.job_id, "slurm_state": j.state, "job_name": j.name, "node": j.node or "",
                     "category": f.category, "evidence": " | ".join(e.text for e in f.evidence[1:3])[:500]},
            source="slurm",
        ))
    return out


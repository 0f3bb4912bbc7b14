"""Per-job facts from Slurm: which batch job behind which Dask worker ended how, and when.

One :class:`JobFact` per job of this run that ended badly or waits, joined
with its log and with the workers that left, so findings and failure
records are built from the same facts.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from scalable_tui.model.diagnosis import Evidence
from scalable_tui.model.jobs import Job, JobsSnapshot, WorkerDeparture, JobLog, departure_job, format_duration
from scalable_tui.model.run import WorkerEvent

__all__ = ["DEFAULT_PENDING_AFTER_S", "JobFact", "hpc_facts"]

#: A job pending longer than this is worth a finding (the UI shows pending jobs at once).
DEFAULT_PENDING_AFTER_S = 300.0


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

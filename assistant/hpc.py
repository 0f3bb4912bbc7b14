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

This module assembles the findings and the records; the per-job facts are
:mod:`assistant.hpc_facts` and the advice (pending reasons, walltime,
lifetime, memory wording) is :mod:`assistant.hpc_advice`.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any, Iterable, Mapping

from assistant.hpc_advice import _suggest, _walls
from assistant.hpc_facts import DEFAULT_PENDING_AFTER_S, JobFact, _KIND_CATEGORY, _iso, _own_jobs, hpc_facts
from scalable_tui.model.diagnosis import Evidence, Finding, SEVERITY_RANK
from scalable_tui.model.jobs import Job, JobsSnapshot, WorkerDeparture, JobLog, format_duration
from scalable_tui.model.run import FailureRecord, WorkerEvent

__all__ = ["hpc_failure_records", "hpc_findings"]

MAX_EVIDENCE = 12

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

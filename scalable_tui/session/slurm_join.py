"""Join a past run with what Slurm remembers about its jobs (``review`` and ``diagnose``).

A run made through Scalable's Slurm provider (or dask-jobqueue) lost workers
to walltime, cgroup OOM kills or preemption without any trace in its own
telemetry: Dask only saw workers disappear.  When ``sacct`` can be reached,
one call over the run's own time window (first event .. last event: nothing
that started after the run ended) brings back the final states of the user's
jobs; only those with evidence that they ran this run's workers (batch script
naming its scheduler, or worker names of the run; ``sources.slurm_attribution``)
are kept, and ``assistant.hpc`` turns them into findings beside the heuristic
ones.  Nothing here runs when the run was not on Slurm, or when
``--no-slurm`` was given.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from assistant.diagnose import WORKER_DIED
from assistant.textsafe import clip
from scalable_tui.model.diagnosis import Diagnosis, Finding, SEVERITY_RANK
from scalable_tui.model.run import RunState


@dataclass(slots=True)
class SlurmJoin:
    findings: list[Finding] = field(default_factory=list)
    note: str | None = None
    jobs: int = 0


def ran_on_slurm(state: RunState) -> bool:
    """run.json's provider, a Slurm resource profile, or dask-jobqueue cluster kwargs."""
    if (state.meta.provider_name or "").lower() == "slurm":
        return True
    if any((p.provider or "").lower() == "slurm" for p in state.profiles):
        return True
    for ev in state.worker_events:
        if (ev.provider or "").lower() == "slurm" or isinstance(ev.details.get("cluster_kwargs"), dict):
            return True
    return False


def slurm_join(
    state: RunState,
    mode: str = "auto",
    *,
    name: str | None = None,
    log_dir: str | None = None,
    source: object | None = None,
    recorded_jobs: object | None = None,
) -> SlurmJoin:
    """Findings from Slurm accounting for a past run; never raises.

    ``source`` is a ready ``SlurmSource`` (tests give one that answers from
    recorded sacct output); by default one is made when ``sacct`` is here.
    ``recorded_jobs``: the ``JobsSnapshot`` a recording stored (already this
    cluster's jobs only): used as is, Slurm is not asked.
    """
    from scalable_tui.sources.jobs.attribution import run_findings_input

    out = SlurmJoin()
    if mode == "off":
        return out
    departures = [e for e in state.worker_events if e.state in ("worker_removed", "worker_lost", "remove-worker", "worker-removed")]
    if recorded_jobs is not None and getattr(recorded_jobs, "jobs", None) is not None:
        from assistant.hpc import hpc_findings

        out.jobs = len(recorded_jobs.jobs)  # type: ignore[attr-defined]
        out.findings = hpc_findings(recorded_jobs, departures, scanned_logs(recorded_jobs, log_dir), now=state.last_event_ts)  # type: ignore[arg-type]
        return out
    if mode == "auto" and not ran_on_slurm(state):
        return out
    from assistant.hpc import hpc_findings
    from scalable_tui.sources.jobs.slurm import job_source

    src = source or job_source("slurm" if mode == "force" else "auto", name=name, log_dir=log_dir)
    if src is None:
        out.note = "the run used Slurm, but squeue/sacct are not on PATH here: job states not joined"
        return out
    start = state.first_event_ts
    if start is None:
        out.note = "no event timestamps: cannot ask Slurm about the run's jobs"
        return out
    try:
        snap, why = run_findings_input(state, src)
    except Exception as exc:  # noqa: BLE001 - Slurm trouble is a note, never a crash
        out.note = f"Slurm accounting could not be read: {type(exc).__name__}: {exc}"
        return out
    if snap.status != "ok" or snap.message:
        out.note = slurm_note(snap.message or snap.status)
    elif why:
        out.note = why
    out.jobs = len(snap.jobs)
    out.findings = hpc_findings(snap, departures, scanned_logs(snap, log_dir), now=state.last_event_ts)
    return out


#: sacct/squeue on a machine with the Slurm client but no configuration (a laptop, a login-less VM).
_NOT_CONFIGURED = re.compile(r"Could not establish a configuration source", re.I)


def slurm_note(message: str) -> str:
    """The note for a Slurm answer that was not "ok", in the words a user acts on (Slurm's own kept).

    A run made on Slurm and read on a machine with the Slurm client but no
    configuration said only "Slurm: sacct: fatal: Could not establish a
    configuration source", on every diagnosis of every such run.
    """
    first = clip(message.strip().splitlines()[0], 200) if message.strip() else message
    if _NOT_CONFIGURED.search(message):
        return (f"the run used Slurm, but Slurm is not configured on this machine ({first}): job states not "
                "joined (--slurm off leaves Slurm out)")
    return f"Slurm: {message}"


def merge_findings(diag: Diagnosis, extra: list[Finding], note: str | None = None) -> Diagnosis:
    """The diagnosis with ``extra`` (Slurm) findings added, ordered like the heuristic ones.

    A failed or killed job is a failure (``job_failures``): "⚠ 0 failures detected in 2 groups"
    was the result of counting only the run's own records; pending jobs are not failures.  A
    worker death that a failed job explains is that job's failure, not a second one: a
    ``WorkerDied`` group whose workers all ran in the failed jobs is dropped (the Slurm finding
    carries the scheduler's departure as evidence), as a death a KilledWorker names is inside
    that failure (``assistant.diagnose.failure_counts``).
    """
    if not extra and not note:
        return diag
    failed = [f for f in extra if not f.id.startswith("slurm:pending")]
    job_workers = {w for f in failed for w in f.workers}
    explained = [f for f in diag.findings
                 if f.count and f.exception_types == [WORKER_DIED] and f.workers and set(f.workers) <= job_workers]
    gone = {id(f) for f in explained}
    findings = [f for f in diag.findings if id(f) not in gone] + list(extra)
    findings.sort(key=lambda f: (SEVERITY_RANK[f.severity], f.count > 0, -f.count, f.category, f.id))
    notices = list(diag.notices) + ([note] if note else [])
    summary = diag.summary
    if extra:
        summary += f" Slurm: {len(extra)} job finding{'s' if len(extra) != 1 else ''}."
    failed_jobs = sum(f.count for f in failed)
    return diag.model_copy(update={"findings": findings, "notices": notices, "summary": summary,
                                   "failures_total": diag.failures_total + failed_jobs - sum(f.count for f in explained),
                                   "job_failures": diag.job_failures + failed_jobs})


def scanned_logs(jobs: Any, log_dir: str | os.PathLike[str] | Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The job logs of ``jobs`` found in ``log_dir`` (dask-jobqueue's ``log_directory``), read here.

    The assistant reads no files: every door reads the logs through this one
    function and hands ``assistant.hpc`` the result.
    """
    if log_dir is None or isinstance(log_dir, Mapping):
        return log_dir
    from scalable_tui.sources.jobs.slurm_logs import scan_log_dir

    job_list = getattr(jobs, "jobs", jobs) or []
    ids = {getattr(j, "job_id", None) for j in job_list} - {None}
    return scan_log_dir(log_dir, ids or None)


def job_findings(jobs: Any, departures: Any = (), log_dir: Any = None, **kw: Any) -> list[Finding]:
    """``assistant.hpc.hpc_findings`` with the job logs read from ``log_dir``."""
    from assistant.hpc import hpc_findings

    return hpc_findings(jobs, departures, scanned_logs(jobs, log_dir), **kw)


def map_live_workers(source: Any, snapshot: Any, live: Any) -> Any:
    """Tie a jobs poll to the workers the scheduler lists now: the one way attach and record do it.

    The scheduler's own address joins the addresses a batch script may name
    (behind a tunnel or an alias it differs from the one dialled), and the
    workers registered on it are evidence of which jobs are this cluster's
    (name, host and time; ``sources.jobs.attribution``).  That evidence moves
    jobs into ``snapshot.jobs`` — the only evidence there is when the batch
    scripts name a scheduler file instead of an address.  Returns the
    worker/job map (None when the source cannot map).
    """
    from scalable_tui.model.jobs import WorkerSeen

    if not hasattr(source, "map_workers"):
        return None
    workers = live.alive_workers if live is not None else []
    seen = [WorkerSeen(w.name, host=w.host, address=w.address, first_seen=w.first_seen) for w in workers]
    if live is not None and live.scheduler_address and hasattr(source, "add_cluster_address"):
        source.add_cluster_address(live.scheduler_address)
    return source.map_workers(snapshot, seen)

"""Batch-scheduler job snapshot types (Slurm today; PBS/SGE/LSF fit the same shapes).

Plain slotted dataclasses like ``scalable_tui.model.run``: the UI polls them every
15-30 s and the assistant reads them, neither needs validation.  Nothing here
imports a scheduler client, Textual or distributed.

Conventions:
- times are epoch seconds (floats) or ``None`` when the scheduler did not say;
- durations are seconds; an UNLIMITED time limit is ``math.inf``;
- ``state`` is the scheduler's base state in upper case (``CANCELLED by 0`` ->
  ``CANCELLED``); the text as printed is kept in ``raw_state``.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Sequence

SourceStatus = Literal["ok", "slow", "down"]

#: Waiting for resources or a start condition.
PENDING_STATES = frozenset({"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD", "CONFIGURING"})
#: Holding resources (a worker may be alive).
ACTIVE_STATES = frozenset({"RUNNING", "COMPLETING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT", "RESIZING"})
#: Ended; no worker can be alive any more.
FINAL_STATES = frozenset({
    "COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "OUT_OF_MEMORY", "PREEMPTED", "NODE_FAIL",
    "BOOT_FAIL", "DEADLINE", "REVOKED", "SPECIAL_EXIT",
})
#: Final states that are a failure of the job (CANCELLED is usually the owner closing the cluster).
FAILED_STATES = frozenset({"FAILED", "TIMEOUT", "OUT_OF_MEMORY", "PREEMPTED", "NODE_FAIL", "BOOT_FAIL", "DEADLINE"})


@dataclass(slots=True)
class Job:
    """One batch job as the scheduler reports it."""

    job_id: str
    name: str
    state: str
    reason: str | None = None
    #: Node list as printed (``localhost``, ``node[01-04]``); ``None`` while pending.
    node: str | None = None
    elapsed_s: float | None = None
    #: ``math.inf`` for UNLIMITED, ``None`` when unknown.
    time_limit_s: float | None = None
    #: Only for pending/active jobs; 0 once a running job is past its limit (Slurm prints INVALID).
    time_left_s: float | None = None
    #: Requested memory as printed (``954M``; older sacct ``1000Mn``/``1000Mc``).
    req_mem: str | None = None
    #: The same in MiB for the whole job when it can be worked out.
    req_mem_mb: float | None = None
    req_cpus: int | None = None
    #: ``exit:signal`` as Slurm prints it (``0:15``), from sacct or scontrol.
    exit_code: str | None = None
    submit_time: float | None = None
    #: For a pending job: Slurm's estimate, when it has one.
    start_time: float | None = None
    #: For a running job: the expected end (start + limit).
    end_time: float | None = None
    #: Dask worker names this job runs (from its batch script, job name or log).
    worker_names: list[str] = field(default_factory=list)
    #: How ``worker_names`` was found: batch_script, name, job_name, log, env, host.
    mapped_by: str | None = None
    user: str | None = None
    partition: str | None = None
    nodes: int | None = None
    raw_state: str | None = None
    #: Peak memory of the job's steps (sacct MaxRSS) in MiB, when accounting has it.
    max_rss_mb: float | None = None
    #: CPU time the job used, all steps (sacct TotalCPU) in seconds: with ``elapsed_s`` and ``req_cpus``, seff's
    #: CPU efficiency.
    total_cpu_s: float | None = None
    #: sacct step states (``{"batch": "OUT_OF_MEMORY", "extern": "COMPLETED"}``): a cancelled job's
    #: batch step can still say OUT_OF_MEMORY.
    step_states: dict[str, str] = field(default_factory=dict)
    #: Which call the latest facts came from: squeue, sacct, scontrol, json.
    source: str = "squeue"
    #: No longer listed by the scheduler (facts are the last ones seen).
    gone: bool = False
    #: When this source first / last saw the job (epoch seconds).
    first_seen: float | None = None
    last_seen: float | None = None
    scheduler: str = "slurm"
    #: Why this job is this Dask cluster's (``sources.slurm_attribution``): ``batch_script`` (its
    #: script names this scheduler), ``env`` (a worker's SLURM_JOB_ID), ``worker`` (name, host and
    #: time of a registered worker).  ``None``: no evidence, never a finding.
    cluster_evidence: str | None = None
    #: The scheduler address the job's batch script points its workers at, when read.
    scheduler_address: str | None = None

    @property
    def is_pending(self) -> bool:
        return self.state in PENDING_STATES

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def is_failed(self) -> bool:
        return self.state in FAILED_STATES

    def pending_for(self, now: float | None = None) -> float | None:
        """Seconds since submission for a pending job, else ``None``."""
        if not self.is_pending or self.submit_time is None:
            return None
        return max(0.0, (time.time() if now is None else now) - self.submit_time)

    def walltime_warning(self, threshold_s: float = 600.0) -> bool:
        """A running job with less than ``threshold_s`` (default 10 min) of walltime left."""
        return self.is_active and self.time_left_s is not None and self.time_left_s < threshold_s

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if d["time_limit_s"] == math.inf:
            d["time_limit_s"] = None
            d["unlimited"] = True
        return d


@dataclass(slots=True)
class JobsSnapshot:
    """What a job source knew at one poll.

    When ``status`` is not ``ok`` the jobs are those of the last good poll
    (``last_ok``), so a slow or down controller never empties the screen.
    """

    jobs: list[Job] = field(default_factory=list)
    status: SourceStatus = "ok"
    message: str | None = None
    #: When this poll ran / when a listing last succeeded (epoch seconds).
    polled_at: float | None = None
    last_ok: float | None = None
    poll_duration_s: float | None = None
    #: Does accounting (sacct) work?  ``None`` until it was needed once.
    accounting: bool | None = None
    scheduler: str = "slurm"
    version: str | None = None
    #: Lines of scheduler output that could not be parsed in this poll (garbage, partial lines).
    parse_errors: int = 0
    #: The command lines this poll ran, for a status line or a debug view.
    commands: list[str] = field(default_factory=list)
    #: The scheduler address ``jobs`` were attributed to (``None``: not filtered by cluster).
    cluster: str | None = None
    #: The user's other listed jobs: no evidence they belong to ``cluster``.  Shown dimmed, never
    #: findings, never recorded.
    other_jobs: list[Job] = field(default_factory=list)

    @property
    def accounting_available(self) -> bool | None:
        return self.accounting

    def by_id(self) -> dict[str, Job]:
        return {j.job_id: j for j in self.jobs}

    def job(self, job_id: str) -> Job | None:
        return next((j for j in self.jobs if j.job_id == job_id), None)

    def pending(self) -> list[Job]:
        return [j for j in self.jobs if j.is_pending and not j.gone]

    def active(self) -> list[Job]:
        return [j for j in self.jobs if j.is_active and not j.gone]

    def counts_by_state(self) -> dict[str, int]:
        return dict(Counter(j.state for j in self.jobs))

    def pending_summary(self) -> str | None:
        """``3 jobs PENDING: Resources`` or ``3 jobs PENDING: Resources (2), Priority (1)``."""
        pend = self.pending()
        if not pend:
            return None
        reasons = Counter(j.reason or "?" for j in pend)
        n = len(pend)
        head = f"{n} job{'s' if n != 1 else ''} PENDING"
        if len(reasons) == 1:
            return f"{head}: {next(iter(reasons))}"
        return f"{head}: " + ", ".join(f"{r} ({c})" for r, c in reasons.most_common())

    def job_for_worker(self, worker_name: str) -> Job | None:
        for j in self.jobs:
            if worker_name in j.worker_names:
                return j
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "scheduler": self.scheduler,
            "status": self.status,
            "message": self.message,
            "polled_at": self.polled_at,
            "last_ok": self.last_ok,
            "poll_duration_s": self.poll_duration_s,
            "accounting": self.accounting,
            "version": self.version,
            "parse_errors": self.parse_errors,
            "cluster": self.cluster,
            #: Only a count: other clusters' and plain jobs are not this cluster's to store.
            "not_this_cluster": len(self.other_jobs),
            "jobs": [j.to_dict() for j in self.jobs],
        }


@dataclass(slots=True)
class WorkerSeen:
    """A Dask worker as the scheduler lists it (key workers by name: addresses change on restarts)."""

    name: str
    host: str | None = None
    address: str | None = None
    #: ``SLURM_JOB_ID`` from the worker's environment, when the caller asked it (``client.run``).
    job_id: str | None = None
    #: When the worker registered on this scheduler (epoch s), for the name-host-time match.
    first_seen: float | None = None


@dataclass(slots=True)
class WorkerDeparture:
    """A Dask worker that left (scheduler ``remove-worker`` event, or a worker missing from a poll)."""

    name: str
    ts: float | None = None
    #: ``False`` for a crash/kill, ``True`` for a graceful close (``--lifetime``, retire), ``None`` unknown.
    expected: bool | None = None
    reason: str | None = None
    address: str | None = None
    host: str | None = None
    job_id: str | None = None


@dataclass(slots=True)
class WorkerJobMap:
    """Which job each Dask worker runs in, and what does not line up."""

    #: Worker name -> job id.
    worker_to_job: dict[str, str] = field(default_factory=dict)
    #: Worker name -> how it was mapped: env, batch_script, name, job_name, log, host.
    how: dict[str, str] = field(default_factory=dict)
    #: Active jobs (past a grace period) none of whose workers ever connected.
    jobs_without_worker: list[str] = field(default_factory=list)
    #: Connected workers whose job has ended or is no longer listed.
    workers_without_job: list[str] = field(default_factory=list)
    #: Connected workers that could not be tied to any job (not a batch worker, or ambiguous host).
    unmapped_workers: list[str] = field(default_factory=list)

    def job_of(self, worker_name: str) -> str | None:
        return self.worker_to_job.get(worker_name)

    def workers_of(self, job_id: str) -> list[str]:
        return sorted(w for w, j in self.worker_to_job.items() if j == job_id)


# -- pure helpers shared by the Slurm source and the assistant (no I/O) -------------
def format_duration(seconds: float | None) -> str:
    """Seconds -> Slurm's ``[d-]hh:mm:ss`` (``UNLIMITED`` for inf, ``?`` for unknown)."""
    if seconds is None:
        return "?"
    if seconds == math.inf:
        return "UNLIMITED"
    s = int(round(seconds))
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return f"{d}-{h:02d}:{m:02d}:{s:02d}" if d else f"{h:02d}:{m:02d}:{s:02d}"

_OLD_NAME = re.compile(r"--(\d+)--")

def job_id_from_worker_name(name: str) -> str | None:
    """Older dask-jobqueue names carry the job id: ``dask-worker--1234--`` (``-0`` per process)."""
    m = _OLD_NAME.search(name)
    return m.group(1) if m else None

#: Seconds of clock slack when matching a worker's time to a job's run.
TIME_SLACK_S = 30.0

def _ran_at(job: Job, ts: float | None, slack: float = TIME_SLACK_S) -> bool:
    """Was the job running (or about to) at ``ts``?  Unknown times do not exclude."""
    if ts is None:
        return True
    start = job.start_time if not job.is_pending else None
    if start is not None and ts < start - slack:
        return False
    end = job.end_time if job.is_final else None
    return not (end is not None and ts > end + slack)

def departure_job(jobs: Sequence[Job], name: str, ts: float | None, job_id: str | None = None) -> str | None:
    """The job (among this cluster's ``jobs``) a departed worker ran in, by name AND time.

    ``job_id`` (``SLURM_JOB_ID``) wins when it is one of ``jobs``.  A name that
    several jobs ran (a rescale reuses ``SLURMCluster-0``) goes to the job that
    ran at ``ts``; still several (or ``ts`` unknown): the latest one that had
    started by then.  ``None`` when no job of this cluster fits.
    """
    by_id = {j.job_id: j for j in jobs}
    if job_id and job_id in by_id:
        return job_id
    fits = [j for j in jobs if name in j.worker_names or job_id_from_worker_name(name) == j.job_id]
    if len(fits) > 1:
        fits = [j for j in fits if _ran_at(j, ts)] or []
    if not fits:
        return None
    if len(fits) == 1:
        return fits[0].job_id
    return max(fits, key=lambda j: (j.start_time or 0.0, int(j.job_id) if j.job_id.isdigit() else 0)).job_id

@dataclass(slots=True)
class JobLogEvent:
    kind: str
    line: str
    path: str
    line_no: int
    job_id: str | None = None
    #: As printed (``2026-11-25T11:58:02`` or ``2026-11-25 11:58:46``), when the line has one.
    timestamp: str | None = None

@dataclass(slots=True)
class JobLog:
    """What the log files of one job say."""

    job_id: str | None
    paths: list[str] = field(default_factory=list)
    worker_names: list[str] = field(default_factory=list)
    events: list[JobLogEvent] = field(default_factory=list)

    def kinds(self) -> set[str]:
        return {e.kind for e in self.events}

    def first(self, kind: str) -> JobLogEvent | None:
        return next((e for e in self.events if e.kind == kind), None)

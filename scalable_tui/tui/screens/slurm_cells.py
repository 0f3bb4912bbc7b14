"""Slurm facts as the Workers screen shows them: a worker's job, its state and what Slurm says happened.

Kept apart from ``live_jobs`` (which imports ``live_base``) so that the
Workers screen in ``live_workers`` can use it without an import cycle.
"""

from __future__ import annotations

import time

from rich.text import Text

from scalable_tui.model.jobs import Job
from scalable_tui.model.jobs import format_duration
from scalable_tui.session.view import ViewModel
from scalable_tui.model.jobs import departure_job

STATE_STYLE = {"RUNNING": "green", "PENDING": "bold yellow", "COMPLETING": "cyan", "COMPLETED": "dim",
               "CANCELLED": "dim", "TIMEOUT": "bold red", "OUT_OF_MEMORY": "bold red", "FAILED": "bold red",
               "NODE_FAIL": "bold red", "PREEMPTED": "bold magenta", "BOOT_FAIL": "bold red"}


def shows_jobs(view: ViewModel) -> bool:
    """Does the session have Slurm jobs to show (a job source, or a recording with jobs)?  Fixed for its life,
    so the Workers screen's columns never change under it."""
    return view.caps.has_jobs


def slurm_cause(job: Job) -> str:
    """What Slurm says happened to the job, in words (for the Workers screen and worker detail)."""
    jid = job.job_id
    limit = format_duration(job.time_limit_s) if job.time_limit_s is not None else "?"
    st = job.state
    if st in ("TIMEOUT", "DEADLINE"):
        return f"Slurm killed job {jid} at its walltime ({limit})"
    if st == "OUT_OF_MEMORY" or "OUT_OF_MEMORY" in job.step_states.values():
        return f"job {jid} hit its cgroup memory limit ({job.req_mem or '?'}): OOM kill ({st})"
    if st == "PREEMPTED":
        return f"Slurm preempted job {jid}"
    if st in ("NODE_FAIL", "BOOT_FAIL"):
        return f"job {jid}: {st} (the node failed)"
    if st == "FAILED":
        return f"job {jid} FAILED (exit code {job.exit_code or '?'})"
    if st == "CANCELLED":
        return f"job {jid} CANCELLED (scancel or the cluster closing)"
    if job.is_pending:
        return f"job {jid} PENDING ({job.reason or '?'})"
    bits = f"job {jid} {st}"
    if job.reason and job.reason not in ("None", st):
        bits += f" ({job.reason})"
    return bits


def worker_job(view: ViewModel, name: str, alive: bool, left_at: float | None) -> Job | None:
    """This cluster's job a worker runs (or ran when it left): by (scheduler, name, time)."""
    snap = view.jobs
    if snap is None or not snap.jobs:
        return None
    wm = view.job_map
    if alive and wm is not None and (jid := wm.job_of(name)):
        return snap.job(jid)
    jid = departure_job(snap.jobs, name, left_at if not alive else time.time())
    return snap.job(jid) if jid else None


def worker_job_cell(job: Job | None) -> Text:
    """The Workers screen's job column: ``2 TIMEOUT``."""
    if job is None:
        return Text("-", style="dim")
    t = Text(job.job_id + " ", style="bold")
    t.append(job.state, style=STATE_STYLE.get(job.state, ""))
    return t

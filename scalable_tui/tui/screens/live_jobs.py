"""The attach app's Jobs screen: the Slurm jobs behind the Dask workers.

Renders ``app.jobs`` (the latest ``JobsSnapshot``, polled in a thread worker
every ~20 s) and ``app.job_map`` (``WorkerJobMap``: which worker runs in which
job, jobs whose worker never connected, workers whose job is gone).  The
header says how Slurm answered (a slow or unreachable slurmctld is shown
here, the last good jobs stay on screen) and what is pending and why.
"""

from __future__ import annotations

import re
import time
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.widgets import Static

from scalable_tui.tui.fmt import ago, hl, line, safe
from scalable_tui.tui.messages import RefreshJobs
from scalable_tui.tui.screens.live_base import LiveListScreen
from scalable_tui.tui.widgets.status import StatusLine
from scalable_tui.model.jobs import Job, JobsSnapshot, WorkerJobMap, format_duration
from scalable_tui.session.view import ViewModel
from scalable_tui.tui.screens.slurm_cells import STATE_STYLE


#: Walltime left below this is shown as a warning.
WARN_LEFT_S = 600.0


def time_left_now(job: Job, snap: JobsSnapshot | None, now: float) -> float | None:
    """Walltime left now (the poll's value minus the time since the poll, for running jobs)."""
    left = job.time_left_s
    if left is None or job.is_final:
        return None
    if not job.is_active or job.gone:
        return left
    polled = snap.polled_at if snap is not None else None
    if polled is not None and left != float("inf"):
        left = max(0.0, left - max(0.0, now - polled))
    return left


def elapsed_now(job: Job, snap: JobsSnapshot | None, now: float) -> float | None:
    """Elapsed now (the poll's value plus the time since the poll, for running jobs), so that elapsed
    and left move together between polls."""
    el = job.elapsed_s
    if el is None or not job.is_active or job.gone:
        return el
    polled = snap.polled_at if snap is not None else None
    if polled is not None:
        el += max(0.0, now - polled)
    return el


def is_other(job: Job, snap: JobsSnapshot | None) -> bool:
    """Listed by Slurm, but no evidence it is this cluster's (dimmed; never a finding)."""
    return snap is not None and snap.cluster is not None and not job.cluster_evidence


def jobs_header(snap: JobsSnapshot | None, wm: WorkerJobMap | None, enabled: bool, why_off: str | None,
                now: float) -> Text:
    """The Jobs screen header: Slurm status, pending summary, what does not line up."""
    t = Text()
    if not enabled:
        t.append("Slurm: off", style="bold")
        t.append(f"  ·  {why_off or 'no job source'}", style="dim")
        return t
    if snap is None:
        t.append("Slurm: asking squeue…", style="bold")
        return t
    counts = snap.counts_by_state()
    mine = " of this cluster" if snap.cluster is not None else ""
    t.append(f"Slurm: {len(snap.jobs)} job{'s' if len(snap.jobs) != 1 else ''}{mine}", style="bold")
    if counts:
        t.append(" (" + ", ".join(f"{n} {s}" for s, n in sorted(counts.items(), key=lambda kv: -kv[1])) + ")")
    if snap.polled_at:
        t.append(f"  ·  polled {ago(now - snap.polled_at)} ago")
    other = len(snap.other_jobs) if snap.cluster is not None else 0
    if other:
        t.append(f"  ·  {other} other job{'s' if other != 1 else ''} of the user, dimmed: not this cluster",
                 style="dim")
    if snap.status == "down" and "not found on PATH" in (snap.message or ""):
        t.append("\n")
        t.append(f"Slurm commands missing: {safe(line(snap.message, 120))}", style="bold red")
    elif snap.status == "down":
        t.append("\n")
        t.append(f"slurmctld unreachable: {safe(line(snap.message, 120))}", style="bold red")
        last = f"last good poll {ago(now - snap.last_ok)} ago" if snap.last_ok else "no good poll yet"
        t.append(f"  ·  {last}; jobs shown are from then", style="red")
    elif snap.status == "slow":
        t.append("\n")
        t.append(f"slurmctld slow: {safe(line(snap.message, 120))}", style="yellow")
    elif snap.message:
        t.append(f"  ·  {safe(line(snap.message, 100))}", style="yellow")
    pend = snap.pending_summary()
    if pend:
        t.append("\n")
        t.append(pend, style="bold yellow")
    if wm is not None:
        if wm.jobs_without_worker:
            t.append("\n")
            t.append("jobs whose worker never connected: ", style="bold red")
            t.append(", ".join(wm.jobs_without_worker))
        if wm.workers_without_job:
            t.append("\n")
            t.append("workers whose job is gone: ", style="bold red")
            t.append(", ".join(wm.workers_without_job))
        if wm.unmapped_workers:
            t.append("\n")
            t.append("workers not tied to any listed job: ", style="dim")
            t.append(", ".join(wm.unmapped_workers[:12]) + (" …" if len(wm.unmapped_workers) > 12 else ""),
                     style="dim")
    return t


class LiveJobsScreen(LiveListScreen):
    """Slurm jobs: id, name, state, pending reason, node, elapsed, limit, time left, Dask workers."""

    #: (jobs version, poll version) last rendered.
    _live_key: Any = None

    DEFAULT_CSS = """
    LiveJobsScreen #live-info { height: auto; max-height: 8; padding: 0 1; }
    LiveJobsScreen #live-table { height: 1fr; }
    """
    BINDINGS = [
        Binding("f", "toggle_faults", "Troubled only", tooltip="pending, failed, short on walltime, no worker"),
        Binding("R", "refresh_jobs", "Ask Slurm now", show=False),
    ]
    FAULTS_LABEL = "troubled only: pending, failed, < 10 min left, worker missing"
    COLUMNS = (
        ("job id", lambda j: (len(j.job_id), j.job_id)),
        ("name", lambda j: j.name),
        ("state", lambda j: j.state),
        ("reason", lambda j: j.reason or ""),
        ("node", lambda j: j.node or ""),
        ("elapsed", lambda j: j.elapsed_s or 0.0),
        ("limit", lambda j: j.time_limit_s),
        ("left", lambda j: j.time_left_s),
        ("workers", lambda j: ",".join(j.worker_names)),
    )

    # -- data --
    def _jobs_app(self) -> Any:
        return self.app  # type: ignore[return-value]

    @property
    def view(self) -> ViewModel:
        return self.app.view  # type: ignore[attr-defined]

    def workers_of(self, job: Job) -> list[str]:
        """Connected workers mapped to this job, else the names its batch script gives."""
        wm = self.view.job_map
        if wm is not None:
            got = wm.workers_of(job.job_id)
            if got:
                return got
        return list(job.worker_names)

    def connected(self, name: str) -> bool:
        wm = self.view.job_map
        return wm is not None and name in wm.worker_to_job

    def all_items(self, live: Any) -> list[Job]:
        snap = self.view.jobs
        if snap is None:
            return []
        return [*snap.jobs, *(snap.other_jobs if snap.cluster is not None else [])]

    def is_fault(self, j: Job) -> bool:
        wm = self.view.job_map
        if is_other(j, self.view.jobs):
            return False  # another cluster's (or a plain) job: not ours to worry about
        return (j.is_pending or j.is_failed or j.walltime_warning(WARN_LEFT_S)
                or (wm is not None and j.job_id in wm.jobs_without_worker))

    def fields(self, j: Job) -> list[str]:
        return [j.job_id, j.name, j.state, j.reason or "", j.node or "", *self.workers_of(j)]

    def row_style(self, j: Job) -> str:
        other = is_other(j, self.view.jobs)
        return "dim" if other or j.gone or (j.is_final and not j.is_failed) else ""

    def cells(self, j: Job, pattern: re.Pattern[str] | None) -> list[Text]:
        now = time.time()
        snap = self.view.jobs
        other = is_other(j, snap)
        left = time_left_now(j, snap, now)
        if left is None:
            left_t = Text("-")
        else:
            warn = j.is_active and not j.gone and left < WARN_LEFT_S and not other
            left_t = Text(format_duration(left), style="bold yellow" if warn else "")
            if warn:
                left_t.append(" !", style="bold red")
        reason = j.reason if j.reason and j.reason != "None" else ""
        state = j.state + (" (gone)" if j.gone else "")
        workers = Text()
        wm = self.view.job_map
        for i, n in enumerate(self.workers_of(j)):
            if i:
                workers.append(", ")
            style = "bold" if self.connected(n) else "dim"
            workers.append_text(hl(n, pattern, style))
        if other:
            workers = Text("not this cluster", style="dim italic")
        elif wm is not None and j.job_id in wm.jobs_without_worker:
            workers.append("  never connected", style="bold red")
        return [
            hl(j.job_id, pattern, "dim" if other else "bold"),
            hl(j.name, pattern),
            hl(state, pattern, "dim" if other else STATE_STYLE.get(j.state, "")),
            hl(reason, pattern, "yellow" if j.is_pending else ""),
            hl(j.node or "-", pattern),
            Text(format_duration(el) if (el := elapsed_now(j, snap, now)) is not None else "-"),
            Text(format_duration(j.time_limit_s) if j.time_limit_s is not None else "-"),
            left_t,
            workers,
        ]

    def info_head(self, live: Any, total: int, shown: int) -> str:
        return ""

    # -- rendering (works before the scheduler answers: the jobs do not need it) --
    def sync(self) -> None:  # type: ignore[override]
        if not self.is_mounted or not self._columns_ready:
            return
        try:
            self.query_one(StatusLine).update_status()
            body = self.query_one("#body")
        except NoMatches:
            return
        body.loading = False
        view = self.view
        key = (view.jobs_version, view.live_version)
        if key != self._live_key:
            self._live_key = key
            self.shown_live = view.live_version
            snap = view.run
            if snap is not None:
                self.shown_version = snap.version
            self.apply()

    def apply(self) -> None:
        view = self.view
        items = self.all_items(None)
        total = len(items)
        pattern, items = self.filter_and_sort(items)
        self.fill_table(items, pattern)
        info = jobs_header(view.jobs, view.job_map, view.caps.has_jobs, view.jobs_off_reason, time.time())
        extra = Text()
        if shown := (len(items) if len(items) != total else None):
            extra.append(f"showing {shown} of {total}")
        if self.sort_column is not None:
            extra.append(f"  ·  sorted by {self.COLUMNS[self.sort_column][0]}{' ↓' if self.sort_reverse else ' ↑'}")
        self.filter_summary(extra)
        if extra.plain.strip():
            info.append("\n")
            info.append_text(extra)
        self.query_one(f"#{self.INFO_ID}", Static).update(info)

    def action_refresh_jobs(self) -> None:
        self.post_message(RefreshJobs())

    def copy_text(self) -> str | None:
        j = self.current()
        if j is None:
            return None
        return (f"{j.job_id}\t{j.name}\t{j.state}\t{j.reason or ''}\t{j.node or ''}\t"
                f"{format_duration(j.elapsed_s)}\t{format_duration(j.time_limit_s)}\t"
                f"{','.join(self.workers_of(j))}\n")

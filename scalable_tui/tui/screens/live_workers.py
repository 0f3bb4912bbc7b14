"""The live Workers screen: every worker seen, alive or gone, with its Slurm job when there is one."""

from __future__ import annotations

import re
from typing import Any, Callable

from rich.text import Text
from textual.binding import Binding

from scalable_tui.tui.fmt import (
    ago,
    clock,
    hl,
    line,
    memory_of,
    mib,
    safe,
)
from scalable_tui.tui.screens.slurm_cells import shows_jobs, slurm_cause, worker_job, worker_job_cell
from scalable_tui.tui.widgets.live_bars import memory_bar
from scalable_tui.model.live import LiveSnapshot, WorkerInfo

from scalable_tui.tui.screens.live_base import STATUS_STYLE, view_time, LiveListScreen


def _w_mem(w: WorkerInfo) -> float | None:
    return w.memory_fraction


class LiveWorkersScreen(LiveListScreen):
    """Workers, alive first; departed ones dimmed with when and why they left."""

    DEFAULT_CSS = """
    LiveWorkersScreen #live-info { height: 1; padding: 0 1; }
    LiveWorkersScreen #live-table { height: 1fr; }
    LiveWorkersScreen #live-detail { height: auto; max-height: 4; padding: 0 1; background: $boost; }
    """
    BINDINGS = [Binding("f", "toggle_faults", "Troubled only",
                        tooltip="departed, paused, restarted or above 80% memory")]
    FAULTS_LABEL = "troubled only: departed, paused, restarted, memory ≥ 80%"
    WORKER_COLUMNS = (
        ("name", lambda w: w.name),
        ("address", lambda w: w.address),
        ("host", lambda w: w.host or ""),
        ("status", lambda w: w.status),
        ("memory", _w_mem),
        ("spill", lambda w: w.spilled or 0),
        ("cpu%", lambda w: w.cpu),
        ("exec", lambda w: w.executing),
        ("ready", lambda w: w.ready),
        ("mem", lambda w: w.in_memory),
        ("seen", lambda w: -(w.last_seen or 0)),
        ("up", lambda w: -(w.first_seen or 0)),
        ("rst", lambda w: w.restarts),
        ("left / why", lambda w: w.left_at or 0),
    )
    #: With a Slurm job source (attach) or recorded jobs (replay): the worker's job before "left / why".
    WORKER_COLUMNS_WITH_JOB = (*WORKER_COLUMNS[:-1], ("job", lambda w: 0), WORKER_COLUMNS[-1])

    @property  # type: ignore[override]
    def COLUMNS(self) -> tuple[tuple[str, Callable[[Any], Any]], ...]:  # noqa: N802 - the base's name
        return self.WORKER_COLUMNS_WITH_JOB if shows_jobs(self.app.view) else self.WORKER_COLUMNS

    def all_items(self, live: LiveSnapshot) -> list[WorkerInfo]:
        self.names = live.display_names
        return list(live.workers.values())

    def default_order(self, items: list[WorkerInfo]) -> list[WorkerInfo]:
        return sorted(items, key=lambda w: (not w.alive, -(w.left_at or 0) if not w.alive else 0, w.name))

    def is_fault(self, w: WorkerInfo) -> bool:
        return (not w.alive or w.status in ("paused", "closing", "closing_gracefully") or w.restarts > 0
                or w.memory_kills > 0 or (w.memory_fraction or 0) >= 0.8)

    def fields(self, w: WorkerInfo) -> list[str]:
        return [self.names.get(w.key, w.own_name), w.name, w.address, w.host or "", w.status, w.left_reason or "",
                *w.previous_addresses]

    def row_style(self, w: WorkerInfo) -> str:
        return "dim" if not w.alive else ""

    def cells(self, w: WorkerInfo, pattern: re.Pattern[str] | None) -> list[Text]:
        now = view_time(self.app)
        job = worker_job(self.app.view, w.name, w.alive, w.left_at)
        if w.alive:
            why = Text()
            if w.memory_kills:
                why.append(f"{w.memory_kills} memory kill(s)", style="red")
            mem = memory_bar(w, 10)
        else:
            why = Text(f"{clock(w.left_at)} ", style="bold")
            if job is not None and job.is_final:  # what Slurm says beats "the connection was lost"
                why.append(slurm_cause(job) + " · ", style="bold red" if job.is_failed else "")
            why.append_text(hl(line(w.left_reason, 90), pattern))
            mem = Text("-")
        return [
            hl(self.names.get(w.key, w.own_name), pattern, "bold"),
            hl(w.address.split("://", 1)[-1], pattern),
            hl(w.host, pattern),
            hl(w.status, pattern, STATUS_STYLE.get(w.status, "")),
            mem,
            Text(mib(w.spilled) if w.spilled else "-"),
            Text("-" if w.cpu is None or not w.alive else f"{w.cpu:.0f}"),
            Text("-" if w.executing is None or not w.alive else str(w.executing)),
            Text("-" if w.ready is None or not w.alive else str(w.ready)),
            Text("-" if w.in_memory is None or not w.alive else str(w.in_memory)),
            Text(ago(now - w.last_seen) if w.last_seen and w.alive else "-"),
            Text(ago(now - w.first_seen) if w.first_seen else "-"),
            Text(str(w.restarts) if w.restarts else "", style="bold red" if w.restarts else ""),
            *([worker_job_cell(job)] if shows_jobs(self.app.view) else []),
            why,
        ]

    def info_head(self, live: LiveSnapshot, total: int, shown: int) -> str:
        return (f"{len(live.alive_workers)} workers alive, {len(live.departed_workers)} departed"
                + (f"  ·  showing {shown}" if shown != total else "")
                + "  ·  memory: managed █ unmanaged ▓ free ░  ·  exec/ready/mem: tasks")

    def detail(self, w: WorkerInfo) -> Text:
        t = Text()
        t.append(safe(self.names.get(w.key, w.own_name)), style="bold")
        t.append(f"  {safe(w.address)}")
        if w.host:
            t.append(f"  on {safe(w.host)}")
        if w.previous_addresses:
            t.append(f"  (earlier: {', '.join(safe(a) for a in w.previous_addresses)})", style="dim")
        if w.restarts:
            t.append(f"  ·  restarted {w.restarts}×", style="bold red")
        if w.memory_kills:
            t.append(f"  ·  {w.memory_kills} memory kill(s)", style="red")
        job = worker_job(self.app.view, w.name, w.alive, w.left_at)
        if job is not None:
            t.append(f"\nSlurm job {job.job_id}: {job.state}", style="bold")
            if job.reason and job.reason not in ("None", job.state):
                t.append(f", reason {safe(job.reason)}")
            t.append(f" · {slurm_cause(job)}", style="bold red" if job.is_failed else "")
        if not w.alive:
            t.append(f"\nleft at {clock(w.left_at)}: ", style="bold")
            t.append(safe(w.left_reason or "no reason recorded"))
        return t

    def copy_text(self) -> str | None:
        w = self.current()
        if w is None:
            return None
        return (f"{self.names.get(w.key, w.own_name)}\t{w.address}\t{w.host}\t{w.status}\tmemory {memory_of(w.memory, [w.memory_limit])}\t"
                f"restarts {w.restarts}\t{w.left_reason or ''}\n")

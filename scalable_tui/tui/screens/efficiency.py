"""Efficiency: requested vs used per task function, Slurm job name or worker group (seff in the app).

The report comes from the session (``session.efficiency``: the same table as
``scalable-tui efficiency``), computed in a thread: over a run directory it
reads resources.jsonl again.  Over a live scheduler it is recomputed as the
workers report (at most every few seconds); ``r`` asks again at once.
"""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from scalable_tui.session.snapshot import RunSnapshot
from scalable_tui.tui.fmt import SEVERITY_STYLE, line, safe
from scalable_tui.tui.screens.base import NO_EXPLAIN_BINDING, RunScreen

COLUMNS = ("task / job / workers", "component", "n", "observed", "mem req", "mem peak", "mem mean", "mem eff",
           "cpus", "cpu mean", "cpu eff")
#: Live sessions: recompute at most this often (the figures move with heartbeats, not with every poll).
LIVE_EVERY_S = 5.0
#: Rows put in the table: a run whose tasks each have their own function name has one row per task
#: (300k rows took the UI thread for many seconds); the rest are counted, and the command lists them all.
MAX_ROWS = 2000


def _gb(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _pct(x: float | None) -> Text:
    if x is None:
        return Text("-")
    style = "bold red" if x > 1.0 else ("yellow" if x < 0.25 else "")
    return Text(f"{x:.0%}", style=style)


class EfficiencyScreen(RunScreen):
    BINDINGS = [NO_EXPLAIN_BINDING, Binding("r", "recompute", "Recompute")]
    DEFAULT_CSS = """
    EfficiencyScreen #eff-info { height: auto; max-height: 3; padding: 0 1; }
    EfficiencyScreen #eff-table { height: 1fr; }
    EfficiencyScreen #eff-findings { height: auto; max-height: 12; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.report: Any = None
        self.error: str | None = None
        self._computed_at = 0.0
        self._busy = False

    def compose_body(self) -> ComposeResult:
        yield Static(Text("computing…", style="dim"), id="eff-info")
        yield DataTable(id="eff-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="eff-findings")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for col in COLUMNS:
            table.add_column(col)
        super().on_mount()
        self.compute()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        if self.report is None or self.review.view.caps.live:
            self.compute()

    def render_snapshot(self, snap: RunSnapshot) -> None:
        # A live session's figures move with the workers' heartbeats: follow them, not faster than LIVE_EVERY_S.
        if self.review.view.caps.live and time.monotonic() - self._computed_at >= LIVE_EVERY_S:
            self.compute()

    def action_recompute(self) -> None:
        self.compute(force=True)

    def compute(self, force: bool = False) -> None:
        if self._busy and not force:
            return
        self._busy = True
        self._computed_at = time.monotonic()
        self._compute()

    @work(thread=True, exclusive=True, group="efficiency")
    def _compute(self) -> None:
        try:
            report, error = self.review.efficiency_report(), None
        except Exception as exc:  # noqa: BLE001 - shown on the screen, never a crash
            report, error = None, f"{type(exc).__name__}: {exc}"
        self.app.call_from_thread(self._show, report, error)

    def _show(self, report: Any, error: str | None) -> None:
        self._busy = False
        self.report, self.error = report, error
        info = self.query_one("#eff-info", Static)
        table = self.query_one(DataTable)
        findings = self.query_one("#eff-findings", Static)
        table.clear()
        if error is not None:
            info.update(Text(f"cannot compute efficiency: {line(error, 300)}", style="bold red"))
            findings.update("")
            return
        for r in report.rows[:MAX_ROWS]:
            table.add_row(
                Text(line(r.key, 40)), Text(safe(r.component)), Text(str(r.tasks)), Text(str(r.observed)),
                Text(safe(r.requested_memory)), Text(_gb(r.peak_memory_gb)), Text(_gb(r.mean_memory_gb)),
                _pct(r.memory_efficiency), Text("-" if r.requested_cpus is None else f"{r.requested_cpus:g}"),
                Text("-" if r.mean_cpu is None else f"{r.mean_cpu:.2f}"), _pct(r.cpu_efficiency))
        head = Text(f"Efficiency of {safe(report.run_id)}", style="bold")
        head.append("  (memory in GB; CPU in cores; r: recompute)", style="dim")
        if not report.rows:
            head.append("\nnothing to compare: no requests or usage known", style="yellow")
        elif len(report.rows) > MAX_ROWS:
            head.append(f"\nshowing the first {MAX_ROWS:,} of {len(report.rows):,} rows; "
                        "`scalable-tui efficiency` on the run lists them all", style="yellow")
        info.update(head)
        out = Text()
        for f in report.findings:
            out.append(f" {f.severity} ", style=SEVERITY_STYLE.get(f.severity, "bold"))
            out.append(" ")
            out.append(line(f.title, 200))
            out.append("\n")
        for n in report.notes:
            out.append(f"note: {line(n, 200)}\n", style="dim")
        findings.update(out)

    def copy_text(self) -> str | None:
        table = self.query_one(DataTable)
        if self.report is None or not table.row_count:
            return None
        r = self.report.rows[min(table.cursor_row, len(self.report.rows) - 1)]
        return (f"{r.key}\tcomponent={r.component or '-'}\tmem_req={r.requested_memory or '-'}\t"
                f"mem_peak_gb={_gb(r.peak_memory_gb)}\tcpus={r.requested_cpus}\tcpu_mean={r.mean_cpu}\n")

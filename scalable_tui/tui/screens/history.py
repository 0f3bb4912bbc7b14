"""History: every failure group seen across the runs of the open run's project (``scalable-tui history``).

The other runs are read in a thread worker (``session.history_view``: cached
summaries, seconds the first time over many runs) while the screen says what
it is reading; the open run's own groups come from the diagnosis on screen,
so a new diagnosis (a run still being written) updates the rows at once.
Group titles come from exception messages: shown through ``safe``, never markup.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static
from textual.worker import get_current_worker

from typing import Any

from scalable_tui.session.snapshot import RunSnapshot
from scalable_tui.tui.fmt import SEVERITY_STYLE, fit_last, line, safe
from scalable_tui.tui.screens.base import NO_EXPLAIN_BINDING, RunScreen

STATUS_STYLE = {"persistent": "bold red", "new": "bold yellow", "flaky": "magenta", "recurring": "red",
                "resolved": "green"}


class HistoryScreen(RunScreen):
    """The open run's project over time: one row per failure group, as ``scalable-tui history`` lists them."""

    BINDINGS = [NO_EXPLAIN_BINDING]
    DEFAULT_CSS = """
    HistoryScreen #history-info { height: auto; padding: 0 1; }
    HistoryScreen #history-table { height: 1fr; }
    HistoryScreen #history-detail { height: auto; max-height: 7; padding: 0 1; border-top: solid $primary; }
    """

    def __init__(self) -> None:
        super().__init__()
        #: The other runs (``history_view.ProjectRuns``), once read (None while reading), and their run directory.
        self.runs: Any = None
        self.runs_for: str | None = None
        #: What the table shows (a ``history_view.HistoryTable``; tests read it).
        self.table: Any = None
        self.reading = ""

    def compose_body(self) -> ComposeResult:
        yield Static(id="history-info")
        yield DataTable(id="history-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="history-detail"):
            yield Static(id="history-text")

    def render_snapshot(self, snap: RunSnapshot) -> None:
        if self.runs_for != snap.run_dir:
            self.runs_for, self.runs, self.table = snap.run_dir, None, None
            self.reading = f"reading the other runs of {safe(snap.meta.project_name or 'this project')} beside this one…"
            self._read_runs(snap.run_dir, snap.meta.project_name)
        self.show(snap)

    @work(thread=True, exclusive=True, group="history", name="history", exit_on_error=False)
    def _read_runs(self, run_dir: str, project: str | None) -> None:
        worker = get_current_worker()
        hv = self.review.history_view
        who = f"reading the other runs of {safe(project or 'this project')} beside this one"

        def progress(done: int, total: int) -> None:
            if done % 10 == 0:
                self.app.call_from_thread(self._progress, run_dir, f"{who}: run {done + 1} of {total}…")

        try:
            runs = hv.load_project_runs(run_dir, project, cancelled=lambda: worker.is_cancelled, progress=progress)
        except Exception as exc:  # noqa: BLE001 - said on the screen, never a crash
            from pathlib import Path

            runs = hv.ProjectRuns(str(Path(run_dir).parent), project, error=f"{type(exc).__name__}: {exc}")
        if not worker.is_cancelled:
            self.app.call_from_thread(self._read, run_dir, runs)

    def _progress(self, run_dir: str, text: str) -> None:
        if self.runs_for == run_dir and self.runs is None:
            self.reading = text
            snap = self.shown_snapshot()
            if snap is not None:
                self.show(snap)

    def _read(self, run_dir: str, runs: Any) -> None:
        if self.runs_for != run_dir:
            return  # another run was picked meanwhile
        self.runs = runs
        snap = self.shown_snapshot()
        if snap is not None:
            self.show(snap)

    def show(self, snap: RunSnapshot) -> None:
        table = self.query_one(DataTable)
        info = self.query_one("#history-info", Static)
        if self.runs is None:
            table.loading = True
            info.update(Text(self.reading, style="bold"))
            return
        table.loading = False
        hv = self.review.history_view
        self.table = hv.history_table(self.runs, hv.snapshot_summary(snap))
        t = Text()
        t.append(safe(self.table.header), style="bold")
        t.append("\n" + hv.LEGEND, style="dim")
        for n in self.table.notes:
            t.append("\n" + safe(n), style="yellow")
        info.update(t)
        self.fill(table, self.table.rows)

    def fill(self, table: DataTable, rows: tuple[Any, ...]) -> None:
        cursor = table.cursor_row
        cells = [(Text(r.status, style=STATUS_STYLE.get(r.status, "")), Text(f"{r.runs_seen}/{r.runs_total}"),
                  Text(str(r.total)), Text(r.spark), Text(str(r.here) if r.here else "-"), Text(r.first_when),
                  Text(r.last_when)) for r in rows]
        cols = ("STATUS", "RUNS", "TOTAL", "COUNTS", "HERE", "FIRST (UTC)", "LAST")
        widths = [max([len(c), *(row[i].cell_len for row in cells)]) for i, c in enumerate(cols)]
        room = fit_last(widths, table.size.width or self.app.size.width, minimum=20)
        table.clear(columns=True)
        for c, w in zip(cols, widths):
            table.add_column(c, key=c, width=w)
        table.add_column("GROUP", key="GROUP", width=room)
        for i, (r, row) in enumerate(zip(rows, cells)):
            title = Text(line(r.title, room))
            table.add_row(*row, title, key=str(i))
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1))
        self.show_detail()

    def current_row(self) -> Any:
        table = self.query_one(DataTable)
        if self.table is None or not table.row_count:
            return None
        i = int(str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value))
        return self.table.rows[i] if 0 <= i < len(self.table.rows) else None

    def show_detail(self) -> None:
        r = self.current_row()
        t = Text()
        if r is None:
            if self.table is not None:
                t.append("no failures in any run of this project", style="green")
        else:
            t.append(f" {r.severity} ", style=SEVERITY_STYLE.get(r.severity, "bold"))
            t.append(" ")
            t.append(safe(r.title), style="bold")
            t.append(f"\n{r.status}: {self.review.history_view.DEFINITIONS.get(r.status, '')}\n",
                     style=STATUS_STYLE.get(r.status, ""))
            t.append(f"category {safe(r.category)}  ·  seen in {r.runs_seen} of {r.runs_total} runs, {r.total} "
                     "failure(s)  ·  ")
            t.append(f"{r.here} in this run" if r.here else "not in this run")
            t.append(f"\nfirst {safe(r.first_run)}  ·  last {safe(r.last_run)}")
            t.append(f"\nsignature {safe(r.signature)}", style="dim")
        self.query_one("#history-text", Static).update(t)

    @on(DataTable.RowHighlighted, "#history-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_detail()

    def on_resize(self) -> None:
        snap = self.shown_snapshot()
        if snap is not None and self.runs is not None:
            self.show(snap)  # the group column takes what the others leave

    def copy_text(self) -> str | None:
        """``c``: the history as text, as ``scalable-tui history`` prints its rows."""
        if self.table is None:
            return None
        lines = [safe(x) for x in (self.table.header, *self.table.notes)]
        for r in self.table.rows:
            lines.append(f"{r.status:<10} {r.runs_seen}/{r.runs_total:<4} {r.total:>5} {r.spark}  here {r.here:<4} "
                         f"{safe(r.first_run)} … {safe(r.last_run)}  {safe(r.title)} ({safe(r.category)}, {r.severity})")
        return "\n".join(lines) + "\n"

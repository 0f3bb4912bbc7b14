"""Tasks: sortable, filterable table; only the first MAX_ROWS matches become rows.

DataTable renders only visible rows but building 300k rows is slow, so the
table holds at most ``MAX_ROWS`` rows of the filtered, sorted index and a
line says how many more matched.  Filtering and sorting run in a thread
worker over the snapshot's columns; the UI thread only adds the rows.
"""

from __future__ import annotations

import re

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Input, Static
from textual.worker import get_current_worker

from scalable_tui.app.data import TASK_COLUMNS, RunSnapshot, filter_tasks, query_pattern, sort_tasks, task_cells
from scalable_tui.app.fmt import safe
from scalable_tui.app.screens.base import RunScreen

MAX_ROWS = 500
STATE_STYLE = {"succeeded": "green", "failed": "bold red", "cancelled": "magenta", "running": "cyan", "submitted": "dim"}


def highlight(cell: str, pattern: re.Pattern[str] | None, style: str = "") -> Text:
    t = Text(cell, style=style)
    if pattern is not None and pattern.pattern:
        for m in pattern.finditer(cell):
            if m.end() > m.start():
                t.stylize("reverse", m.start(), m.end())
    return t


class TasksScreen(RunScreen):
    DEFAULT_CSS = """
    TasksScreen #task-filter { dock: top; display: none; }
    TasksScreen #task-filter.-visible { display: block; }
    TasksScreen #task-info { height: 1; padding: 0 1; color: $text-muted; }
    TasksScreen #task-table { height: 1fr; }
    TasksScreen #task-more { height: 1; padding: 0 1; color: $warning; }
    """
    BINDINGS = [
        Binding("slash", "filter", "Filter"),
        Binding("f", "toggle_faults", "Faults only"),
        Binding("s", "sort_next", "Sort"),
        Binding("r", "sort_reverse", "Reverse", show=False),
        Binding("escape", "back", "Back", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.query_text = ""
        self.faults_only = False
        self.sort_column: int | None = None
        self.sort_reverse = False
        #: Rows that matched the last applied filter, and the state that produced them (tests wait on it).
        self.matched = 0
        self.shown_key: tuple[object, ...] | None = None
        self.filter_error: str | None = None

    def compose_body(self) -> ComposeResult:
        yield Input(placeholder="filter: substring, or /regex/ — Enter to apply, Esc to close", id="task-filter")
        yield Static(id="task-info")
        table: DataTable[Text] = DataTable(id="task-table", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static(id="task-more")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for col in TASK_COLUMNS:
            table.add_column(col, key=col)
        super().on_mount()

    def render_snapshot(self, snap: RunSnapshot) -> None:
        self.apply()

    # -- actions -------------------------------------------------------------
    def action_filter(self) -> None:
        inp = self.query_one("#task-filter", Input)
        inp.add_class("-visible")
        inp.focus()

    def action_toggle_faults(self) -> None:
        self.faults_only = not self.faults_only
        self.apply()

    def action_sort_next(self) -> None:
        self.sort_column = 0 if self.sort_column is None else (self.sort_column + 1) % len(TASK_COLUMNS)
        self.apply()

    def action_sort_reverse(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self.apply()

    def action_back(self) -> None:
        inp = self.query_one("#task-filter", Input)
        if inp.has_focus:
            inp.remove_class("-visible")
            self.query_one(DataTable).focus()
            return
        super().action_back()

    @on(Input.Changed, "#task-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.set_filter(event.value)

    @on(Input.Submitted, "#task-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self.set_filter(event.value)
        if not event.value:
            event.input.remove_class("-visible")
        self.query_one(DataTable).focus()

    @on(DataTable.HeaderSelected)
    def _header(self, event: DataTable.HeaderSelected) -> None:
        if self.sort_column == event.column_index:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = event.column_index, False
        self.apply()

    def set_filter(self, text: str) -> None:
        self.query_text = text
        self.apply()

    # -- filtering in a thread -------------------------------------------------
    def apply(self) -> None:
        snap = self.review.snapshot
        if snap is None:
            return
        try:
            pattern = query_pattern(self.query_text) if self.query_text.strip() else None
        except re.error as exc:
            self.filter_error = f"bad regex: {exc}"
            self._info(snap)
            return
        self.filter_error = None
        key = (snap.version, self.query_text, self.faults_only, self.sort_column, self.sort_reverse)
        self._compute(snap, key, pattern)

    @work(thread=True, exclusive=True, group="task-filter")
    def _compute(self, snap: RunSnapshot, key: tuple[object, ...], pattern: re.Pattern[str] | None) -> None:
        worker = get_current_worker()
        _version, query, faults_only, sort_column, sort_reverse = key
        rows = filter_tasks(snap.tasks, str(query) if pattern else "", bool(faults_only), lambda: worker.is_cancelled)
        if worker.is_cancelled:
            return
        if sort_column is not None:
            rows = sort_tasks(snap.tasks, rows, int(sort_column), bool(sort_reverse))  # type: ignore[call-overload]
        cells = [task_cells(snap.tasks, r) for r in rows[:MAX_ROWS]]
        if not worker.is_cancelled:
            self.app.call_from_thread(self._populate, snap, key, pattern, len(rows), cells)

    def _populate(self, snap: RunSnapshot, key: tuple[object, ...], pattern: re.Pattern[str] | None, total: int, cells: list[tuple[str, ...]]) -> None:
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear()
        table.add_rows(
            [tuple(highlight(c, pattern, STATE_STYLE.get(c, "") if i == 3 else "") for i, c in enumerate(row)) for row in cells]
        )
        if cells:
            table.move_cursor(row=min(cursor, len(cells) - 1))
        self.matched = total
        more = self.query_one("#task-more", Static)
        extra = total - len(cells)
        more.display = extra > 0
        more.update(Text(f"{extra} more — refine the filter (showing the first {len(cells)})"))
        self.shown_key = key
        self._info(snap)

    def _info(self, snap: RunSnapshot) -> None:
        t = Text()
        t.append(f"{self.matched} of {snap.tasks.n_tasks()} tasks", style="bold")
        if self.query_text:
            t.append(f"  ·  filter: {safe(self.query_text)}")
        if self.faults_only:
            t.append("  ·  faults only", style="bold red")
        if self.sort_column is not None:
            t.append(f"  ·  sorted by {TASK_COLUMNS[self.sort_column]}{' ↓' if self.sort_reverse else ' ↑'}")
        if self.filter_error:
            t.append(f"  ·  {safe(self.filter_error)}", style="bold red")
        self.query_one("#task-info", Static).update(t)

    def copy_text(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        row = table.get_row_at(table.cursor_row)
        return "\t".join(str(c) for c in row) + "\n"

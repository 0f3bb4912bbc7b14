"""Tasks: sortable, filterable table; only the first MAX_ROWS matches become rows.

DataTable renders only visible rows but building 300k rows is slow, so the
table holds at most ``MAX_ROWS`` rows of the filtered, sorted index and a
line says how many more matched.  Filtering and sorting run in a thread
worker over the snapshot's columns; the UI thread only adds the rows.
"""

from __future__ import annotations

import re
import weakref

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static
from textual.worker import get_current_worker

from scalable_tui.model.run import TaskTable
from scalable_tui.session.snapshot import RunSnapshot
from scalable_tui.model.words import UNFINISHED_STATES, unfinished_word
from scalable_tui.session.lists import TASK_COLUMNS, filter_tasks, sort_tasks, task_cells
from scalable_tui.session.task_lists import WARM_ROWS, warm_filter
from scalable_tui.tui.fmt import TASK_STATE_STYLE, highlight
from scalable_tui.tui.screens.base import NO_EXPLAIN_BINDING, ColumnSort, FilterableScreen

MAX_ROWS = 500
STATE_STYLE = TASK_STATE_STYLE
STATE_COL = TASK_COLUMNS.index("state")
DASK_KEY_COL = TASK_COLUMNS.index("dask key")


def _cell_style(i: int, cell: str) -> str:
    if i == STATE_COL:
        return STATE_STYLE.get(cell, "cyan" if cell.endswith("finished") else "")
    if i == DASK_KEY_COL:
        return "dim"
    return ""


class TasksScreen(ColumnSort, FilterableScreen):
    DEFAULT_CSS = """
    TasksScreen #task-info { height: 1; padding: 0 1; color: $text-muted; }
    TasksScreen #task-table { height: 1fr; }
    TasksScreen #task-more { height: 1; padding: 0 1; color: $warning; }
    """
    BINDINGS = [
        Binding("f", "toggle_faults", "Faults only", tooltip="failed or cancelled tasks, or tasks with an error"),
        Binding("s", "sort_next", "Sort"),
        Binding("r", "sort_reverse", "Reverse", show=False),
        NO_EXPLAIN_BINDING,
    ]
    FILTER_ID = "task-filter"

    def __init__(self) -> None:
        super().__init__()
        #: Rows that matched the last applied filter, and the state that produced them (tests wait on it).
        self.matched = 0
        self.shown_key: tuple[object, ...] | None = None
        #: the table whose filter texts were asked for (once per table: a finished run's never changes);
        #: weak, so a run left for another is not kept alive by this screen
        self._warmed: weakref.ref[TaskTable] | None = None

    def compose_list(self) -> ComposeResult:
        yield Static(id="task-info")
        table: DataTable[Text] = DataTable(id="task-table", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static(id="task-more")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for col in TASK_COLUMNS:
            table.add_column(col, key=col)
        super().on_mount()

    @work(thread=True, exclusive=True, group="warm filter", exit_on_error=False)
    def _warm_filter(self, snap: RunSnapshot) -> None:
        """The filter's texts, while the user looks at the list: a first keystroke is then a repeat."""
        worker = get_current_worker()
        warm_filter(snap.tasks, lambda: worker.is_cancelled)

    def n_sort_columns(self) -> int:
        return len(TASK_COLUMNS)

    # -- filtering in a thread -------------------------------------------------
    def apply(self) -> None:
        snap = self.review.view.run
        if snap is None:
            return
        warmed = self._warmed() if self._warmed is not None else None
        if snap.tasks is not warmed and snap.tasks.frozen and len(snap.tasks.ids) >= WARM_ROWS:
            self._warmed = weakref.ref(snap.tasks)
            self._warm_filter(snap)
        ok, pattern = self.filter_pattern()
        if not ok:
            self._info(snap)
            return
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
        # Scalable's "running" is written at submission: said as the Overview says it.
        waiting = unfinished_word(snap.ended())
        cells = [(*c[:STATE_COL], waiting, *c[STATE_COL + 1:]) if c[STATE_COL] in UNFINISHED_STATES else c
                 for c in cells]
        if not worker.is_cancelled:
            self.app.call_from_thread(self._populate, snap, key, pattern, len(rows), cells)

    def _populate(self, snap: RunSnapshot, key: tuple[object, ...], pattern: re.Pattern[str] | None, total: int, cells: list[tuple[str, ...]]) -> None:
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear()
        table.add_rows(
            [tuple(highlight(c, pattern, _cell_style(i, c)) for i, c in enumerate(row)) for row in cells]
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
        if self.sort_column is not None:
            t.append(f"  ·  sorted by {TASK_COLUMNS[self.sort_column]}{' ↓' if self.sort_reverse else ' ↑'}")
        self.filter_summary(t)
        self.query_one("#task-info", Static).update(t)

    def copy_text(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        row = table.get_row_at(table.cursor_row)
        return "\t".join(str(c) for c in row) + "\n"

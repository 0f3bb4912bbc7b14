"""What the live screens share: the poll-keyed sync, the list screen, styles and labels.

They render ``app.view.live`` (the latest ``LiveSnapshot``, every poll) and, for
findings, ``app.view.run`` (the diagnosed ``RunSnapshot``, rebuilt off the UI
thread when failures or events change).  Lists are small (workers, task prefixes,
a capped event ring), so filtering and sorting run right here.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.widgets import DataTable, Static

from scalable_tui.tui.fmt import (
    safe,
)
from scalable_tui.tui.screens.base import NO_EXPLAIN_BINDING, ColumnSort, FilterableScreen
from scalable_tui.tui.widgets.status import StatusLine
from scalable_tui.session.view import ViewModel
from scalable_tui.model.live import LiveSnapshot, WorkerInfo


STATUS_STYLE = {"running": "green", "paused": "bold yellow", "closing": "magenta", "closing_gracefully": "magenta",
                "init": "cyan", "left": "dim"}
EVENT_STYLE = {
    "worker-added": "green", "worker-removed": "bold red", "worker-restart-memory": "bold red",
    "killed-worker": "bold red", "paused": "yellow", "resumed": "green", "log-warning": "yellow",
    "log-error": "red", "disconnected": "bold red", "reconnected": "green", "scheduler-restarted": "bold magenta",
    "cluster-restart": "magenta", "worker-ttl-timed-out": "red",
}
#: Events ``f`` keeps: what went wrong.
FAULT_EVENTS = frozenset({"worker-removed", "worker-restart-memory", "killed-worker", "paused", "log-warning",
                          "log-error", "disconnected", "scheduler-restarted", "worker-ttl-timed-out",
                          "no-workers-timeout-exceeded"})


def worker_label(w: WorkerInfo) -> str:
    """The worker's name as the screens show it.

    Local stand-in until the live model's ``display_name`` lands (another
    change adds it, one name for a worker on every screen); then this uses it.
    """
    name = getattr(w, "display_name", None)
    return name if isinstance(name, str) and name else w.name


def view_time(app: Any) -> float:
    """The moment the screens show: now when live, the replayed moment in a replay (``ViewModel.view_time``)."""
    return app.view.view_time()


class LiveSyncMixin:
    """``sync`` keyed on (poll, diagnosis) instead of the diagnosis version alone."""

    shown_live = -1

    def sync(self) -> None:  # type: ignore[override]
        view: ViewModel = self.app.view  # type: ignore[attr-defined]
        if not self.is_mounted:  # type: ignore[attr-defined]
            # called from on_mount (Textual marks a widget mounted after its Mount handlers): sync once it
            # is. Returning here used to leave a replay's freshly shown screen at an older moment, or
            # empty, until the next update, and a paused replay has none
            self.call_after_refresh(self.sync)  # type: ignore[attr-defined]
            return
        if not getattr(self, "_columns_ready", True):
            return  # on_mount syncs
        try:
            self.query_one(StatusLine).update_status()  # type: ignore[attr-defined]
            body = self.query_one("#body")  # type: ignore[attr-defined]
        except NoMatches:
            return
        live = view.live
        if live is None:
            body.loading = True
            return
        body.loading = False
        snap = view.run
        key = (view.live_version, snap.version if snap else -1)
        if key != getattr(self, "_live_key", None):
            self._live_key = key
            self.shown_live = view.live_version
            if snap is not None:
                self.shown_version = snap.version  # type: ignore[attr-defined]
            self.render_live(live)

    def render_live(self, live: LiveSnapshot) -> None:
        """Fill the widgets (subclasses)."""

    def limited_line(self, live: LiveSnapshot, panel: str) -> Text | None:
        hits = [p for p in live.limited_panels if p.startswith(panel)]
        if not hits:
            return None
        return Text("limited: " + "; ".join(h.split(": ", 1)[-1] for h in hits), style="yellow")


# -- Overview ------------------------------------------------------------------


class LiveListScreen(ColumnSort, LiveSyncMixin, FilterableScreen):
    """A filterable, sortable table over live rows (``s``/``r`` or a header click sorts)."""

    BINDINGS = [
        Binding("s", "sort_next", "Sort"),
        Binding("r", "sort_reverse", "Reverse", show=False),
        NO_EXPLAIN_BINDING,
    ]
    #: (column label, sort key over a row item) — subclasses.
    COLUMNS: tuple[tuple[str, Callable[[Any], Any]], ...] = ()
    INFO_ID = "live-info"

    def __init__(self) -> None:
        super().__init__()
        self.items: list[Any] = []

    def compose_list(self) -> ComposeResult:
        yield Static(id=self.INFO_ID)
        yield DataTable(id="live-table", cursor_type="row", zebra_stripes=True)
        box = Static(id="live-detail")
        box.display = False
        yield box

    def detail(self, item: Any) -> Text | None:
        """The highlighted row in full, under the table (what narrow columns cut); None: no line."""
        return None

    def show_detail(self) -> None:
        try:
            box = self.query_one("#live-detail", Static)
        except NoMatches:
            return
        item = self.current()
        d = self.detail(item) if item is not None else None
        box.display = d is not None
        box.update(d if d is not None else "")

    @on(DataTable.RowHighlighted, "#live-table")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_detail()

    _columns_ready = False

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        if not self._columns_ready:
            for label, _k in self.COLUMNS:
                table.add_column(label, key=label)
            self._columns_ready = True
        super().on_mount()

    def render_live(self, live: LiveSnapshot) -> None:
        self.apply()

    def n_sort_columns(self) -> int:
        return len(self.COLUMNS)

    #: Worker key -> display label (``LiveSnapshot.display_names``), refreshed by ``all_items``.
    names: dict[str, str] = {}

    def all_items(self, live: LiveSnapshot) -> list[Any]:
        return []

    def is_fault(self, item: Any) -> bool:
        return False

    def fields(self, item: Any) -> list[str]:
        return []

    def cells(self, item: Any, pattern: re.Pattern[str] | None) -> list[Text]:
        return []

    def row_style(self, item: Any) -> str:
        return ""

    def default_order(self, items: list[Any]) -> list[Any]:
        return items

    def fill_table(self, items: list[Any], pattern: re.Pattern[str] | None) -> None:
        """Refill the table with ``items``, keeping the cursor on the same row number."""
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear()
        for item in items:
            cells = self.cells(item, pattern)
            style = self.row_style(item)
            if style:
                for c in cells:
                    c.stylize(style)
            table.add_row(*cells)
        if items:
            table.move_cursor(row=min(max(cursor, 0), len(items) - 1))
        self.items = items
        self.show_detail()

    def filter_and_sort(self, items: list[Any]) -> tuple[Any, list[Any]]:
        """The rows ``/``, ``f`` and the sort column leave, and the filter pattern to highlight."""
        ok, pattern = self.filter_pattern()
        if not ok:
            return pattern, items
        if self.faults_only:
            items = [i for i in items if self.is_fault(i)]
        if pattern is not None:
            items = [i for i in items if any(pattern.search(safe(v)) for v in self.fields(i) if v)]
        if self.sort_column is None:
            return pattern, self.default_order(items)
        key = self.COLUMNS[self.sort_column][1]

        def k(i: Any) -> tuple[int, Any]:
            v = key(i)
            return (1, 0) if v is None else (0, v)

        return pattern, sorted(items, key=k, reverse=self.sort_reverse)

    def apply(self) -> None:
        live = self.app.view.live  # type: ignore[attr-defined]
        if live is None:
            return
        items = self.all_items(live)
        total = len(items)
        pattern, items = self.filter_and_sort(items)
        self.fill_table(items, pattern)
        info = Text()
        info.append(self.info_head(live, total, len(items)), style="bold")
        if self.sort_column is not None:
            info.append(f"  ·  sorted by {self.COLUMNS[self.sort_column][0]}{' ↓' if self.sort_reverse else ' ↑'}")
        self.filter_summary(info)
        lim = self.limited(live)
        if lim is not None:
            info.append("  ·  ")
            info.append_text(lim)
        self.query_one(f"#{self.INFO_ID}", Static).update(info)

    def info_head(self, live: LiveSnapshot, total: int, shown: int) -> str:
        return f"{shown} of {total}"

    def limited(self, live: LiveSnapshot) -> Text | None:
        return None

    def current(self) -> Any:
        table = self.query_one(DataTable)
        if not table.row_count or not self.items:
            return None
        return self.items[min(table.cursor_row, len(self.items) - 1)]

    def copy_text(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return "\t".join(str(c) for c in table.get_row_at(table.cursor_row)) + "\n"

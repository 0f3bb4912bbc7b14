"""Base class for screens that render the app's ``RunSnapshot``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input
from textual.worker import get_current_worker

from scalable_tui.model.diagnosis import Finding
from scalable_tui.session.snapshot import RunSnapshot
from scalable_tui.session.lists import query_pattern
from scalable_tui.tui.fmt import safe
from scalable_tui.tui.widgets.status import PartialBanner, StatusLine



class RunScreen(Screen[None]):
    """Renders ``app.view`` (the session's view model); re-renders only when its run's version changed."""

    DEFAULT_CSS = """
    RunScreen #body { height: 1fr; }
    RunScreen .title { text-style: bold; color: $accent; padding: 0 0 0 0; }
    /* The compact footer's keys have a right margin; on the docked "^p palette"
       key that left a one-cell gap at the right edge where the keys scrolled
       behind it showed through (a stray "x" at 80 columns). */
    RunScreen Footer.-compact FooterKey.-command-palette { margin-right: 0; padding-right: 1; }
    """
    BINDINGS = [
        Binding("escape", "back", "Back", show=False),
        Binding("p", "pick_run", "Runs", tooltip="back to the run picker"),
    ]
    AUTO_FOCUS = "DataTable"

    def __init__(self) -> None:
        super().__init__()
        self.shown_version = -1
        #: The run the screen shows (a picked run restarts versions at 1).
        self.shown_run: str | None = None

    @property
    def review(self) -> Any:
        """The app (typed loosely: screens must not import it, they render ``app.view``)."""
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="≡")
        yield PartialBanner()
        with Container(id="body"):
            yield from self.compose_body()
        yield StatusLine()
        yield Footer(compact=True)

    def compose_body(self) -> ComposeResult:
        return iter(())

    def on_mount(self) -> None:
        self.sync()

    def on_screen_resume(self) -> None:
        self.sync()
        self.ai_changed(None)

    def shown_snapshot(self) -> RunSnapshot | None:
        """The run this screen renders: the session's (a replay's Findings: the whole recording's)."""
        return self.review.view.run

    def shown_error(self) -> str | None:
        """Why ``shown_snapshot`` is missing (None: still loading)."""
        return self.review.view.error

    def sync(self) -> None:
        snap: RunSnapshot | None = self.shown_snapshot()
        body = self.query_one("#body")
        self.query_one(StatusLine).update_status()
        self.query_one(PartialBanner).show(self.review.view)
        if snap is None:
            body.loading = self.shown_error() is None
            return
        body.loading = False
        if snap.version != self.shown_version or snap.run_dir != self.shown_run:
            self.shown_version = snap.version
            self.shown_run = snap.run_dir
            self.render_snapshot(snap)

    def render_snapshot(self, snap: RunSnapshot) -> None:
        """Fill the widgets from the snapshot (subclasses)."""

    def copy_text(self) -> str | None:
        """What ``c`` copies on this screen (None: nothing)."""
        return None

    # -- AI explanations (screens that show findings opt in with the ``x`` binding) --
    def explain_target(self) -> Finding | None:
        """The finding ``x`` explains on this screen (None: nothing to explain here)."""
        return None

    def can_explain(self) -> bool:
        return False

    def action_explain(self) -> None:
        if not self.can_explain():
            self.notify("x explains a finding: select one on Findings (4) or a group on Failures (3)",
                        severity="warning", timeout=6)
            return
        self.review.explain_finding(self.explain_target())

    # -- back to the run picker (review opened without a run) --
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "pick_run":
            return bool(self.review.runs)  # only when the app came from the picker
        return True

    async def action_pick_run(self) -> None:
        app = self.review
        snap = app.view.run
        current = Path(snap.run_dir) if snap is not None else None

        async def picked(run_dir: Path | None) -> None:
            if run_dir is None or (current is not None and run_dir == current):
                return  # Esc, or the same run: keep everything as it is
            # A new run: the other modes' screens (groups, one failure) and the
            # AI answers belong to the old one.
            app.cancel_ai()
            app.ai_entries.clear()
            await app.switch_mode(app.DEFAULT_MODE)
            for mode, screen in app.MODES.items():
                if mode != app.DEFAULT_MODE:
                    await app.remove_mode(mode)
                    app.add_mode(mode, screen)
            app._picked(run_dir)

        await app.push_screen(app.make_picker(current), picked)

    def ai_changed(self, finding_id: str | None) -> None:
        """The AI state of ``finding_id`` (None: of any finding) changed: re-render it."""

    def action_back(self) -> None:
        if self.review.cancel_ai():
            return  # Esc cancels a running AI request first
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()
        elif self.app.current_mode != "overview":
            self.app.switch_mode("overview")


#: ``x`` on screens without findings: it says where findings are.  Kept out of
#: the base classes: a base binding fixes the key's place in the footer, and
#: the Findings screen shows its own ``x`` after ``/`` and ``f``.
NO_EXPLAIN_BINDING = Binding("x", "explain", "Explain (AI)", show=False)

#: Placeholder of the ``/`` filter input on every list screen.
FILTER_PLACEHOLDER = "filter: substring, or /regex/ (case-insensitive) — Enter: apply, Esc: close"
SEVERITY_RANK = {"critical": 0, "error": 1, "warning": 2, "info": 3}


def _sort_value(cell: object) -> tuple[int, object]:
    """Sort key of a table cell: numbers numerically, severities by rank, else text."""
    plain = cell.plain if isinstance(cell, Text) else str(cell)
    if plain in SEVERITY_RANK:
        return (0, SEVERITY_RANK[plain])
    try:
        return (0, float(plain.rstrip("s×")))
    except ValueError:
        return (1, plain.lower())


class ColumnSort:
    """Sorting by column index for list screens that sort their rows themselves.

    ``s`` cycles the column, ``r`` reverses, a header click sorts by that
    column (again: reverses); the subclass says how many columns there are
    and re-sorts in ``apply``.  The ``s``/``r`` bindings stay on the screens
    (Textual reads ``BINDINGS`` only from widget classes).
    """

    sort_column: int | None = None
    sort_reverse: bool = False

    def n_sort_columns(self) -> int:
        raise NotImplementedError

    def action_sort_next(self) -> None:
        self.sort_column = 0 if self.sort_column is None else (self.sort_column + 1) % self.n_sort_columns()
        self.apply()  # type: ignore[attr-defined]

    def action_sort_reverse(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self.apply()  # type: ignore[attr-defined]

    def header_clicked(self, event: DataTable.HeaderSelected) -> None:
        if self.sort_column == event.column_index:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = event.column_index, False
        self.apply()  # type: ignore[attr-defined]


class FilterableScreen(RunScreen):
    """A list screen with ``/`` (substring or /regex/, matches highlighted) and ``f`` (faults only).

    Esc closes the filter first: with the input focused it hides the input
    (the filter stays applied and is shown in the info line); on the list with
    a filter applied it clears the filter; only then does it go back.  While
    the input is not focused, digits and letters switch screens as usual.
    Subclasses implement :meth:`select` (which items match; any thread),
    :meth:`populate` and :meth:`show_info` (UI thread), or override
    :meth:`apply` altogether (Tasks); clicking a column header sorts by it
    (:meth:`header_clicked`).
    """

    DEFAULT_CSS = """
    FilterableScreen .list-filter { dock: top; display: none; }
    FilterableScreen .list-filter.-visible { display: block; }
    """
    BINDINGS = [
        Binding("slash", "filter", "Filter", tooltip="substring, or /regex/; matches are highlighted"),
        Binding("f", "toggle_faults", "Faults only"),
        Binding("escape", "back", "Back", show=False),
    ]
    FILTER_ID = "list-filter"
    #: How the info line and the command palette name the "faults only" state
    #: (subclasses say what it keeps).
    FAULTS_LABEL = "faults only"

    def __init__(self) -> None:
        super().__init__()
        self.query_text = ""
        self.faults_only = False
        self.filter_error: str | None = None
        #: Table sort set by clicking a column header: (column key, reverse).
        self.table_sort: tuple[str, bool] | None = None
        #: The table width the rows were last fitted to (screens whose last column takes the rest).
        self.laid_out_width = -1

    def compose_body(self) -> ComposeResult:
        yield Input(placeholder=FILTER_PLACEHOLDER, id=self.FILTER_ID, classes="list-filter")
        yield from self.compose_list()

    def compose_list(self) -> ComposeResult:
        return iter(())

    def filter_input(self) -> Input:
        return self.query_one(f"#{self.FILTER_ID}", Input)

    def list_table(self) -> DataTable:
        return self.query_one(DataTable)

    # -- what subclasses implement -------------------------------------------
    def apply(self) -> None:
        """Re-filter the current snapshot and re-render the list.

        Without a text filter the selection is cheap and runs right here (so
        the first render is synchronous); a text filter may scan every
        failure of a large run (15k: ~0.1 s), so it runs in a thread worker
        and the UI thread only fills the table.  A result that no longer
        matches the screen's filter state (a newer keystroke) is dropped.
        """
        snap = self.shown_snapshot()
        if snap is None:
            return
        ok, pattern = self.filter_pattern()
        if not ok:
            self.show_info(snap)
            return
        key = (snap.version, self.query_text, self.faults_only)
        if pattern is None:
            self._populate_if_current(snap, key, None, self.select(snap, None, self.faults_only, lambda: False))
        else:
            self._select_in_thread(snap, key, pattern)

    @work(thread=True, exclusive=True, group="list-filter")
    def _select_in_thread(self, snap: RunSnapshot, key: tuple[object, ...], pattern: re.Pattern[str]) -> None:
        worker = get_current_worker()
        items = self.select(snap, pattern, bool(key[2]), lambda: worker.is_cancelled)
        if not worker.is_cancelled:
            self.app.call_from_thread(self._populate_if_current, snap, key, pattern, items)

    def _populate_if_current(self, snap: RunSnapshot, key: tuple[object, ...], pattern: re.Pattern[str] | None, items: list) -> None:  # type: ignore[type-arg]
        current = self.shown_snapshot()
        if current is None or key != (current.version, self.query_text, self.faults_only):
            return  # stale: a newer filter or snapshot is on its way
        self.populate(snap, pattern, items)
        self.show_info(snap)

    def select(
        self, snap: RunSnapshot, pattern: re.Pattern[str] | None, faults_only: bool, cancelled: Callable[[], bool]
    ) -> list:  # type: ignore[type-arg]
        """The items to show (any thread: read the snapshot only, no widgets)."""
        return []

    def populate(self, snap: RunSnapshot, pattern: re.Pattern[str] | None, items: list) -> None:  # type: ignore[type-arg]
        """Fill the table with ``items`` (UI thread), highlighting ``pattern``."""

    def show_info(self, snap: RunSnapshot) -> None:
        """Update the info line (counts, filter state, a regex error)."""

    def render_snapshot(self, snap: RunSnapshot) -> None:
        self.apply()

    def header_clicked(self, event: DataTable.HeaderSelected) -> None:
        key = str(event.column_key.value)
        reverse = bool(self.table_sort and self.table_sort[0] == key and not self.table_sort[1])
        self.table_sort = (key, reverse)
        self.sort_table(self.list_table())

    def sort_table(self, table: DataTable) -> None:
        """Re-apply the header-click sort after the rows were rebuilt."""
        if self.table_sort is None or not table.row_count:
            return
        key, reverse = self.table_sort
        if key not in table.columns:
            return
        table.sort(key, key=_sort_value, reverse=reverse)

    # -- the filter ----------------------------------------------------------
    def filter_pattern(self) -> tuple[bool, re.Pattern[str] | None]:
        """(ok, pattern): ok is False for a bad regex (the error is in ``filter_error``)."""
        if not self.query_text.strip():
            self.filter_error = None
            return True, None
        try:
            pattern = query_pattern(self.query_text)
        except re.error as exc:
            # not applied: the rows (and the count beside it) stay the last filter's that worked
            self.filter_error = f"bad regex (not applied): {exc}"
            return False, None
        self.filter_error = None
        return True, pattern

    def filter_summary(self, t: Text) -> Text:
        """Append "· filter: …", "· faults only" and a regex error to an info line."""
        if self.query_text:
            t.append("  ·  filter: ")
            t.append(safe(self.query_text), style="reverse")
        if self.faults_only:
            t.append(f"  ·  {self.FAULTS_LABEL}", style="bold red")
        if self.filter_error:
            t.append(f"  ·  {safe(self.filter_error)}", style="bold red")
        return t

    def action_filter(self) -> None:
        inp = self.filter_input()
        inp.add_class("-visible")
        inp.focus()

    def action_toggle_faults(self) -> None:
        self.faults_only = not self.faults_only
        self.apply()

    def set_filter(self, text: str) -> None:
        self.query_text = text
        self.apply()

    def action_back(self) -> None:
        inp = self.filter_input()
        if inp.has_focus:
            inp.remove_class("-visible")
            self.list_table().focus()
            return
        if self.review.cancel_ai():
            return  # Esc cancels a running AI request before it clears the filter
        if self.query_text:
            inp.value = ""  # posts Input.Changed, which clears the filter
            inp.remove_class("-visible")
            self.set_filter("")
            return
        super().action_back()

    @on(Input.Changed, ".list-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        if event.value != self.query_text:
            self.set_filter(event.value)

    @on(Input.Submitted, ".list-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if event.value != self.query_text:
            self.set_filter(event.value)
        if not event.value:
            event.input.remove_class("-visible")
        self.list_table().focus()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        self.header_clicked(event)

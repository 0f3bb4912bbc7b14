"""Failures: groups by signature (this screen) -> the group's failures (``failure_group``) -> one failure (``failure_detail``).

Untrusted text (messages, tracebacks, task names) goes through
``printable`` and into ``Text``/``Syntax`` objects, never markup.
"""

from __future__ import annotations

import re
from typing import Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from assistant.task_names import shown_names
from scalable_tui.model.diagnosis import Finding
from scalable_tui.session.snapshot import RunSnapshot, failures_text
from scalable_tui.session.lists import finding_text, select_findings
from scalable_tui.tui.fmt import (
    SEVERITY_STYLE,
    fit_last,
    fmt_span,
    fmt_span_short,
    hl,
    line,
    safe,
)
from scalable_tui.tui.screens.base import FilterableScreen
from scalable_tui.tui.screens.explain import AIPane, explain_binding

#: Below this many cells the list tables keep their key columns only; the
#: highlighted row's other fields are on the detail line under the table.
NARROW = 110
#: ``f`` on the Failures and Findings screens (the binding's description says it).
FAULTS_BINDING = Binding(
    "f",
    "toggle_faults",
    "Only error/critical",
    tooltip="faults only: hides warning/info groups, e.g. transient network errors that a retry fixes",
)


def task_summary(f: Finding) -> str:
    """The group's most frequent task name (a map's as ``name[…]``), and how many other names it has."""
    if not f.task_names:
        return "-"
    shown, more = shown_names(f.task_names, 1)
    top = safe(shown[0][0])
    return f"{top} +{more}" if more else top


class FailuresScreen(FilterableScreen):
    """Failure groups (one per finding signature).

    ``/`` searches a group's category, severity, exception, pattern, title,
    task names and components, and the task names, ids, exceptions, messages
    and workers of its failures; ``f`` keeps error/critical groups only; ``x``
    asks the model to explain the highlighted group (shown below the list).
    """

    DEFAULT_CSS = """
    FailuresScreen #fail-info { height: 1; padding: 0 1; }
    FailuresScreen #fail-groups { height: 1fr; }
    FailuresScreen #fail-detail { height: auto; max-height: 4; padding: 0 1; background: $boost; }
    """
    # ``x`` stays out of this footer (it is listed in the command palette and on Findings).
    BINDINGS = [FAULTS_BINDING, explain_binding(show=False)]
    FAULTS_LABEL = "faults only: error/critical"

    def __init__(self) -> None:
        super().__init__()
        #: Ids of the groups shown after the last filter (tests wait on it).
        self.shown_ids: list[str] = []

    def compose_list(self) -> ComposeResult:
        yield Static(id="fail-info")
        yield DataTable(id="fail-groups", cursor_type="row", zebra_stripes=True)
        yield Static(id="fail-detail")
        yield AIPane(id="fail-ai")

    def on_resize(self) -> None:
        if self.query_one(DataTable).size.width != self.laid_out_width:
            self.apply()  # the pattern column takes what the others leave

    def select(self, snap: RunSnapshot, pattern: re.Pattern[str] | None, faults_only: bool, cancelled: Callable[[], bool]) -> list[Finding]:
        return select_findings(snap, snap.failure_findings(), pattern, faults_only, cancelled)

    def populate(self, snap: RunSnapshot, pattern: re.Pattern[str] | None, items: list[Finding]) -> None:
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        width = table.size.width or self.app.size.width
        self.laid_out_width = table.size.width
        narrow = width < NARROW
        rows: list[dict[str, Text]] = []
        for f in items:
            row = {
                "count": Text(str(f.count), style="bold"),
                "category": hl(f.category, pattern),
                "severity": hl(f.severity, pattern, SEVERITY_STYLE.get(f.severity, "")),
                "exception": hl(" <- ".join(f.exception_types) or "-", pattern),
                "task": hl(task_summary(f), pattern),
                "seen (UTC)": Text(fmt_span_short(f.first_seen, f.last_seen) if f.first_seen or not f.before_attach else "before attach"),
            }
            if narrow:
                del row["category"], row["seen (UTC)"]  # on the detail line
            rows.append(row)
        cols = list(rows[0]) if rows else ["count", *([] if narrow else ["category"]), "severity", "exception", "task",
                                            *([] if narrow else ["seen (UTC)"])]
        widths = [max([len(c), *(r[c].cell_len for r in rows)]) for c in cols]
        room = fit_last(widths, width, minimum=16)
        table.clear(columns=True)
        for c, w in zip(cols, widths):
            table.add_column(c, key=c, width=w)
        table.add_column("pattern", key="pattern", width=room)
        for f, row in zip(items, rows):
            table.add_row(*row.values(), hl(line(f.pattern, room), pattern), key=f.id)
        self.sort_table(table)
        if items:
            table.move_cursor(row=min(cursor, len(items) - 1))
        self.shown_ids = [f.id for f in items]
        self.show_detail()
        self.ai_changed(None)

    def show_detail(self) -> None:
        """The highlighted group's fields the table has no room for (category, when, the whole pattern)."""
        snap = self.shown_snapshot()
        fid = self.current_finding_id()
        f = snap.finding(fid) if snap and fid else None
        box = self.query_one("#fail-detail", Static)
        box.display = f is not None
        if f is None:
            return
        t = Text()
        t.append(f"{safe(f.category)}", style="bold")
        t.append(f"  ·  seen {fmt_span(f.first_seen, f.last_seen)}  ·  ")
        t.append(line(f.pattern, 300))
        box.update(t)

    def show_info(self, snap: RunSnapshot) -> None:
        groups = snap.failure_findings()
        info = Text()
        info.append(f"{failures_text(snap.diagnosis)} in {len(groups)} groups", style="bold")
        if self.query_text or self.faults_only:
            shown = set(self.shown_ids)
            n = sum(f.count for f in groups if f.id in shown)
            info.append(f"  ·  showing {len(shown)} group{'s' if len(shown) != 1 else ''} ({n} failures)", style="bold")
        self.filter_summary(info)
        info.append("  ·  Enter: the group's failures  ·  c: copy finding", style="dim")
        self.query_one("#fail-info", Static).update(info)

    @on(DataTable.RowSelected, "#fail-groups")
    def _open(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            from scalable_tui.tui.screens.failure_group import FailureGroupScreen  # it imports this module

            self.app.push_screen(FailureGroupScreen(str(event.row_key.value)))

    def current_finding_id(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    @on(DataTable.RowHighlighted, "#fail-groups")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_detail()
        self.ai_changed(None)

    def can_explain(self) -> bool:
        return True

    def explain_target(self) -> Finding | None:
        snap = self.shown_snapshot()
        fid = self.current_finding_id()
        return snap.finding(fid) if snap and fid else None

    def ai_changed(self, finding_id: str | None) -> None:
        fid = self.current_finding_id()
        if finding_id in (None, fid):
            self.query_one(AIPane).show(self.explain_target(), self.review.ai_entries.get(fid) if fid else None)

    def copy_text(self) -> str | None:
        snap = self.shown_snapshot()
        fid = self.current_finding_id()
        f = snap.finding(fid) if snap and fid else None
        return finding_text(f) if f else None

"""One failure group: its failures as a list (time, task, id, worker, exception, message).

Untrusted text goes through ``printable`` and into ``Text`` objects, never markup.
"""

from __future__ import annotations

import re
from typing import Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from scalable_tui.model.diagnosis import Finding
from scalable_tui.session.snapshot import RunSnapshot
from scalable_tui.session.lists import failure_text, record_is_fault, record_matches, split_worker
from scalable_tui.tui.fmt import (
    fit_last,
    fmt_iso,
    fmt_iso_cell,
    hl,
    line,
    safe,
    same_day,
    short_ids,
)
from scalable_tui.tui.screens.base import FilterableScreen
from scalable_tui.tui.screens.explain import AIPane, explain_binding
from scalable_tui.model.run import FailureRecord
from scalable_tui.tui.screens.failures import NARROW
from scalable_tui.tui.screens.failure_detail import FailureDetailScreen


class FailureGroupScreen(FilterableScreen):
    """The failures of one group.

    ``/`` searches each failure's task name and id, exception, message,
    component and worker; ``f`` hides failures whose task ended up succeeding
    (a retry fixed it), keeping the ones still failed and those without a task.
    ``x`` asks the model to explain the group (shown below the list).
    """

    DEFAULT_CSS = """
    FailureGroupScreen #group-info { height: auto; padding: 0 1; }
    FailureGroupScreen #group-failures { height: 1fr; }
    FailureGroupScreen #group-detail { height: auto; max-height: 3; padding: 0 1; background: $boost; }
    """
    BINDINGS = [
        Binding(
            "f",
            "toggle_faults",
            "Only still-failed tasks",
            tooltip="faults only: hides failures whose task later succeeded (a retry fixed it)",
        ),
        explain_binding(),
    ]
    FAULTS_LABEL = "faults only: task still failed"

    def __init__(self, finding_id: str) -> None:
        super().__init__()
        self.finding_id = finding_id
        #: The failures shown (after the filter); a row's key is its index here.
        self.records: list[FailureRecord] = []

    def compose_list(self) -> ComposeResult:
        yield Static(id="group-info")
        yield DataTable(id="group-failures", cursor_type="row", zebra_stripes=True)
        yield Static(id="group-detail")
        yield AIPane(id="group-ai")

    def on_resize(self) -> None:
        if self.query_one(DataTable).size.width != self.laid_out_width:
            self.apply()  # the message column takes what the others leave

    def select(
        self, snap: RunSnapshot, pattern: re.Pattern[str] | None, faults_only: bool, cancelled: Callable[[], bool]
    ) -> list[tuple[int, FailureRecord]]:
        f = snap.finding(self.finding_id)
        if f is None:
            return []
        out = []
        for i, r in enumerate(snap.failures_of(f)):
            if i % 5000 == 0 and cancelled():
                break
            if faults_only and not record_is_fault(snap, r):
                continue
            if pattern is None or record_matches(r, pattern):
                out.append((i, r))
        return out

    def populate(self, snap: RunSnapshot, pattern: re.Pattern[str] | None, items: list[tuple[int, FailureRecord]]) -> None:
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        width = table.size.width or self.app.size.width
        self.laid_out_width = table.size.width
        narrow = width < NARROW
        self.records = [r for _i, r in items]
        one_day = same_day(r.timestamp for r in self.records)
        # Ids stay whole or lose their middle, never their (unique) end: Dask keys are name-<hash>.
        ids = short_ids((r.task_id or "-" for r in self.records), width=20 if narrow else 34)
        rows: list[dict[str, Text]] = []
        for r in self.records:
            row = {
                "time" + (" (UTC)" if one_day else ""): Text(fmt_iso_cell(r.timestamp, one_day) if r.timestamp or not r.details.get("before_attach") else "before attach"),
                "task": hl(r.task_name, pattern),
                "task id": hl(ids[r.task_id or "-"], pattern),
                "worker": hl(split_worker(r.worker)[0], pattern),  # never a Dask key
                "exception": hl(r.failure_class, pattern),
            }
            if narrow:
                del row["task"], row["worker"]  # on the detail line
            rows.append(row)
        time_col = "time" + (" (UTC)" if one_day else "")
        cols = list(rows[0]) if rows else [time_col, *([] if narrow else ["task"]), "task id",
                                            *([] if narrow else ["worker"]), "exception"]
        widths = [max([len(c), *(r[c].cell_len for r in rows)]) for c in cols]
        room = fit_last(widths, width, minimum=16)
        table.clear(columns=True)
        for c, w in zip(cols, widths):
            table.add_column(c, key=c, width=w)
        table.add_column("message", key="message", width=room)
        for i, (r, row) in enumerate(zip(self.records, rows)):
            table.add_row(*row.values(), hl(line(r.message, room), pattern), key=str(i))
        self.sort_table(table)
        if self.records:
            table.move_cursor(row=min(cursor, len(self.records) - 1))
        self.show_detail()

    def current_record(self) -> FailureRecord | None:
        table = self.query_one(DataTable)
        if not table.row_count or not self.records:
            return None
        i = int(str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value))
        return self.records[i] if 0 <= i < len(self.records) else None

    def show_detail(self) -> None:
        """The highlighted failure's full task id, task, worker and time (what narrow columns cut)."""
        r = self.current_record()
        box = self.query_one("#group-detail", Static)
        box.display = r is not None
        if r is None:
            return
        t = Text()
        t.append("task id ", style="bold")
        t.append(safe(r.task_id))
        t.append(f"  ·  {safe(r.task_name)}  ·  worker {safe(split_worker(r.worker)[0])}  ·  {fmt_iso(r.timestamp)}")
        box.update(t)

    @on(DataTable.RowHighlighted, "#group-failures")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_detail()

    def show_info(self, snap: RunSnapshot) -> None:
        f = snap.finding(self.finding_id)
        info = self.query_one("#group-info", Static)
        if f is None:
            info.update(Text("this group is gone (the run was re-read)", style="yellow"))
            return
        t = Text()
        t.append(f"{f.count}× ", style="bold")
        t.append(safe(f.title), style="bold")
        t.append(f"  [{f.category}, {f.severity}]\n")
        t.append(f"pattern: {safe(f.pattern)}\n", style="dim")
        if self.query_text or self.faults_only or self.filter_error:
            t.append(f"showing {len(self.records)} of {len(f.failure_indices)}", style="bold")
            self.filter_summary(t)
            t.append("  ·  ")
        t.append("Enter: show one failure  ·  x: explain (AI)  ·  y/Y: copy task ids/retry script  ·  Esc: back",
                 style="dim")
        info.update(t)
        self.ai_changed(None)

    def can_explain(self) -> bool:
        return True

    def explain_target(self) -> Finding | None:
        snap = self.shown_snapshot()
        return snap.finding(self.finding_id) if snap else None

    def ai_changed(self, finding_id: str | None) -> None:
        if finding_id in (None, self.finding_id):
            self.query_one(AIPane).show(None, self.review.ai_entries.get(self.finding_id))

    @on(DataTable.RowSelected, "#group-failures")
    def _open(self, event: DataTable.RowSelected) -> None:
        i = int(str(event.row_key.value))
        if 0 <= i < len(self.records):
            self.app.push_screen(FailureDetailScreen(self.records[i]))

    def group_target(self) -> Finding | None:
        """The failure group ``y`` / ``Y`` copy from: this one."""
        snap = self.shown_snapshot()
        return snap.finding(self.finding_id) if snap else None

    def copy_text(self) -> str | None:
        r = self.current_record()
        return failure_text(r) if r is not None else None

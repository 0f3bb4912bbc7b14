"""Failures: groups by signature -> the group's failures -> one failure.

Untrusted text (messages, tracebacks, task names) goes through
``printable`` and into ``Text``/``Syntax`` objects, never markup.
"""

from __future__ import annotations

import re
from typing import Callable

from rich.console import Group
from rich.syntax import Syntax
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from scalable_tui.model.diagnosis import Finding
from scalable_tui.session.snapshot import (
    RunSnapshot,
    failure_text,
    failures_text,
    finding_text,
    record_is_fault,
    record_matches,
    select_findings,
    split_worker,
)
from scalable_tui.tui.fmt import (
    SEVERITY_STYLE,
    fit_last,
    fmt_duration,
    fmt_iso,
    fmt_iso_cell,
    fmt_span,
    fmt_span_short,
    hl,
    line,
    safe,
    same_day,
    short_ids,
)
from scalable_tui.tui.screens.base import FilterableScreen, RunScreen
from scalable_tui.tui.screens.explain import AIPane, explain_binding
from scalable_tui.model.run import FailureRecord

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
    """The group's most frequent task name, and how many other names it has."""
    if not f.task_names:
        return "-"
    names = sorted(f.task_names.items(), key=lambda kv: (-kv[1], kv[0]))
    top = safe(names[0][0])
    return top if len(names) == 1 else f"{top} +{len(names) - 1}"


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
        t.append("Enter: show one failure  ·  x: explain (AI)  ·  Esc: back", style="dim")
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

    def copy_text(self) -> str | None:
        r = self.current_record()
        return failure_text(r) if r is not None else None


class FailureDetailScreen(RunScreen):
    """One failure: task, worker, resources, and its traceback (or message).

    Two stacked panes: the facts (at most ~45% of the height, scrolling on
    their own) and the traceback, which keeps at least 8 lines on a 24-line
    terminal and has the focus, so ↑/↓/PgUp/PgDn/Home/End scroll it at once.
    """

    DEFAULT_CSS = """
    FailureDetailScreen #detail-meta-box { height: auto; max-height: 45%; padding: 0 1; }
    FailureDetailScreen #detail-trace-box { height: 1fr; min-height: 8; padding: 0 1; border-top: solid $primary; }
    FailureDetailScreen #detail-trace-box:focus { border-top: solid $accent; }
    """
    BINDINGS = [Binding("x", "explain", "Explain (AI)", show=False)]
    AUTO_FOCUS = "#detail-trace-box"

    def __init__(self, record: FailureRecord) -> None:
        super().__init__()
        self.record = record

    def on_mount(self) -> None:
        super().on_mount()
        # The traceback's syntax theme follows the app's light/dark theme.
        self.watch(self.app, "theme", self._theme_changed, init=False)

    def _theme_changed(self, _theme: str) -> None:
        if self.shown_snapshot() is not None:
            self.render_snapshot(self.shown_snapshot())

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="detail-meta-box"):
            yield Static(id="detail-meta")
        with VerticalScroll(id="detail-trace-box"):
            yield Static(id="detail-trace")

    def action_explain(self) -> None:
        # One failure is not what the model explains: its group (a finding) is.
        self.notify("x explains a finding group: press Esc and x on the group's list, or select one on Findings (4)",
                    severity="warning", timeout=6)

    def render_snapshot(self, snap: RunSnapshot) -> None:
        r = self.record
        t = Text()
        t.append(safe(r.failure_class), style="bold red")
        t.append(": ")
        t.append(line(r.message, 300))
        t.append("\n")
        worker, key = split_worker(r.worker)
        rows = [
            ("time", fmt_iso(r.timestamp) if r.timestamp else ("before attach (time unknown)" if r.details.get("before_attach") else safe(r.details.get("time")))),
            ("task", safe(r.task_name)),
            ("task id", safe(r.task_id)),  # in full: the lists elide it
            ("dask key", safe(r.dask_key or key)),
            ("component", safe(r.component)),
            ("worker", safe(worker)),
            ("provider", safe(r.provider)),
            ("phase", safe(r.phase)),
            ("duration", fmt_duration(r.duration_s)),
            ("source", f"{safe(r.source)}:{r.line_no}" if r.line_no else safe(r.source)),
        ]
        res = r.resources
        if res is not None:
            rows.append(
                (
                    "resources",
                    f"cpus {safe(res.requested_cpus)} · memory {safe(res.requested_memory)} · "
                    f"walltime {safe(res.requested_walltime)} · workers {safe(res.requested_workers)}",
                )
            )
        shown = {v for _k, v in rows}
        for k, v in r.details.items():
            value = line(v if isinstance(v, str) else repr(v), 200)
            if value not in shown:  # details often repeat phase, task id, worker
                rows.append((safe(k), value))
        for k, v in rows:
            if v in ("-", ""):
                continue  # nothing recorded: keep the traceback's room
            t.append(f"{k:>10}  ", style="bold")
            t.append(v)
            t.append("\n")
        self.query_one("#detail-meta", Static).update(t.rstrip() or t)
        trace = self.query_one("#detail-trace", Static)
        if r.traceback:
            dark = self.app.current_theme.dark if self.app.current_theme else True
            trace.update(
                Group(
                    Text("Traceback", style="bold"),
                    Syntax(
                        failure_text(r),
                        "pytb",
                        theme="monokai" if dark else "default",
                        word_wrap=True,
                        background_color="default",
                    ),
                )
            )
        else:
            plain = Text("No traceback recorded; the message:\n", style="dim")
            plain.append(failure_text(r), style="")
            trace.update(plain)

    def copy_text(self) -> str | None:
        return failure_text(self.record)

"""Failures: groups by signature -> the group's failures -> one failure.

Untrusted text (messages, tracebacks, task names) goes through
``printable`` and into ``Text``/``Syntax`` objects, never markup.
"""

from __future__ import annotations

from rich.console import Group
from rich.syntax import Syntax
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from scalable_tui.app.data import RunSnapshot, failure_text, finding_text
from scalable_tui.app.fmt import fmt_duration, fmt_iso, line, safe, text
from scalable_tui.app.screens.base import RunScreen
from scalable_tui.models import FailureRecord

SEVERITY_STYLE = {"critical": "bold white on red", "error": "bold red", "warning": "yellow", "info": "cyan"}


class FailuresScreen(RunScreen):
    """Failure groups (one per finding signature)."""

    DEFAULT_CSS = """
    FailuresScreen #fail-info { height: 1; padding: 0 1; }
    FailuresScreen #fail-groups { height: 1fr; }
    """

    def compose_body(self) -> ComposeResult:
        yield Static(id="fail-info")
        yield DataTable(id="fail-groups", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for col in ("count", "category", "severity", "exception", "pattern", "first seen", "last seen"):
            table.add_column(col, key=col)
        super().on_mount()

    def render_snapshot(self, snap: RunSnapshot) -> None:
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear()
        groups = snap.failure_findings()
        for f in groups:
            table.add_row(
                Text(str(f.count), style="bold"),
                text(f.category),
                Text(f.severity, style=SEVERITY_STYLE.get(f.severity, "")),
                text(" <- ".join(f.exception_types) or "-"),
                Text(line(f.pattern, 60)),
                Text(fmt_iso(f.first_seen)),
                Text(fmt_iso(f.last_seen)),
                key=f.id,
            )
        if groups:
            table.move_cursor(row=min(cursor, len(groups) - 1))
        info = Text()
        info.append(f"{snap.diagnosis.failures_total} failures in {len(groups)} groups", style="bold")
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

    def copy_text(self) -> str | None:
        snap = self.review.snapshot
        fid = self.current_finding_id()
        f = snap.finding(fid) if snap and fid else None
        return finding_text(f) if f else None


class FailureGroupScreen(RunScreen):
    """The failures of one group."""

    DEFAULT_CSS = """
    FailureGroupScreen #group-info { height: auto; padding: 0 1; }
    FailureGroupScreen #group-failures { height: 1fr; }
    """

    def __init__(self, finding_id: str) -> None:
        super().__init__()
        self.finding_id = finding_id
        self.records: list[FailureRecord] = []

    def compose_body(self) -> ComposeResult:
        yield Static(id="group-info")
        yield DataTable(id="group-failures", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for col in ("time", "task", "task id", "worker", "exception", "message"):
            table.add_column(col)
        super().on_mount()

    def render_snapshot(self, snap: RunSnapshot) -> None:
        f = snap.finding(self.finding_id)
        info = self.query_one("#group-info", Static)
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear()
        if f is None:
            info.update(Text("this group is gone (the run was re-read)", style="yellow"))
            self.records = []
            return
        t = Text()
        t.append(f"{f.count}× ", style="bold")
        t.append(safe(f.title), style="bold")
        t.append(f"  [{f.category}, {f.severity}]\n")
        t.append(f"pattern: {safe(f.pattern)}\n", style="dim")
        t.append("Enter: show one failure  ·  Esc: back", style="dim")
        info.update(t)
        self.records = snap.failures_of(f)
        for i, r in enumerate(self.records):
            table.add_row(
                Text(fmt_iso(r.timestamp)),
                text(r.task_name),
                text((r.task_id or "-")[:12]),
                text(r.worker),
                text(r.failure_class),
                Text(line(r.message, 80)),
                key=str(i),
            )
        if self.records:
            table.move_cursor(row=min(cursor, len(self.records) - 1))

    @on(DataTable.RowSelected, "#group-failures")
    def _open(self, event: DataTable.RowSelected) -> None:
        i = int(str(event.row_key.value))
        if 0 <= i < len(self.records):
            self.app.push_screen(FailureDetailScreen(self.records[i]))

    def copy_text(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count or not self.records:
            return None
        return failure_text(self.records[min(table.cursor_row, len(self.records) - 1)])


class FailureDetailScreen(RunScreen):
    """One failure: task, worker, resources, and its traceback (or message)."""

    DEFAULT_CSS = """
    FailureDetailScreen #detail { padding: 0 1; }
    FailureDetailScreen #detail-meta { margin-bottom: 1; }
    """

    def __init__(self, record: FailureRecord) -> None:
        super().__init__()
        self.record = record

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="detail"):
            yield Static(id="detail-meta")
            yield Static(id="detail-trace")

    def render_snapshot(self, snap: RunSnapshot) -> None:
        r = self.record
        t = Text()
        t.append(safe(r.failure_class), style="bold red")
        t.append(": ")
        t.append(safe(r.message))
        t.append("\n\n")
        rows = [
            ("time", safe(r.timestamp)),
            ("task", f"{safe(r.task_name)}  ({safe(r.task_id)})"),
            ("component", safe(r.component)),
            ("worker", safe(r.worker)),
            ("dask key", safe(getattr(r, "dask_key", None))),
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
        for k, v in r.details.items():
            rows.append((safe(k), line(v if isinstance(v, str) else repr(v), 200)))
        for k, v in rows:
            t.append(f"{k:>10}  ", style="bold")
            t.append(v)
            t.append("\n")
        self.query_one("#detail-meta", Static).update(t)
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

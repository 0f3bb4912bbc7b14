"""Findings: the assistant's findings, with a detail pane for the highlighted one."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from assistant.models import Finding
from assistant.render import TRANSIENT_TEXT
from scalable_tui.app.data import RunSnapshot, finding_text
from scalable_tui.app.fmt import safe, text
from scalable_tui.app.screens.base import RunScreen

SEVERITY_STYLE = {"critical": "bold white on red", "error": "bold red", "warning": "yellow", "info": "cyan"}


def finding_detail(f: Finding) -> Text:
    t = Text()
    t.append(f" {f.severity} ", style=SEVERITY_STYLE.get(f.severity, "bold"))
    t.append(" ")
    t.append(safe(f.title), style="bold")
    t.append("\n")
    t.append(f"category {f.category}  ·  {f.count} failure(s)  ·  ")
    t.append(TRANSIENT_TEXT[f.transient], style="green" if f.transient else ("red" if f.transient is False else "yellow"))
    t.append("\n")
    if f.exception_types:
        t.append("exception  ", style="bold")
        t.append(safe(" <- ".join(f.exception_types)) + "\n")
    if f.pattern:
        t.append("pattern    ", style="bold")
        t.append(safe(f.pattern) + "\n")
    if f.first_seen or f.last_seen:
        t.append("seen       ", style="bold")
        t.append(f"{safe(f.first_seen)} … {safe(f.last_seen)}\n")
    if f.task_names:
        t.append("tasks      ", style="bold")
        t.append(", ".join(f"{safe(k)} ({v})" for k, v in list(f.task_names.items())[:5]) + "\n")
    if f.workers:
        t.append("workers    ", style="bold")
        t.append(", ".join(safe(w) for w in f.workers[:5]) + "\n")
    t.append("\nSuggestion\n", style="bold")
    t.append(safe(f.suggestion) + "\n")
    if f.evidence:
        t.append("\nEvidence\n", style="bold")
        for e in f.evidence:
            t.append(f"  {safe(e.timestamp)}  ", style="dim")
            t.append(f"{safe(e.source)}  ", style="dim")
            t.append(safe(e.text) + "\n")
    return t


class FindingsScreen(RunScreen):
    DEFAULT_CSS = """
    FindingsScreen #findings-table { height: 45%; }
    FindingsScreen #finding-detail { height: 1fr; padding: 0 1; border-top: solid $primary; }
    FindingsScreen #findings-info { height: 1; padding: 0 1; }
    """

    def compose_body(self) -> ComposeResult:
        yield Static(id="findings-info")
        yield DataTable(id="findings-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="finding-detail"):
            yield Static(id="finding-text")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for col in ("severity", "category", "count", "retry?", "title"):
            table.add_column(col)
        super().on_mount()

    def render_snapshot(self, snap: RunSnapshot) -> None:
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear()
        for f in snap.diagnosis.findings:
            table.add_row(
                Text(f.severity, style=SEVERITY_STYLE.get(f.severity, "")),
                text(f.category),
                Text(str(f.count)),
                Text({True: "transient", False: "permanent", None: "?"}[f.transient]),
                text(f.title),
                key=f.id,
            )
        info = Text()
        info.append(safe(snap.diagnosis.summary), style="bold")
        info.append(f"  ({snap.diagnosis.method}{', --no-ai' if self.review.no_ai else ''})", style="dim")
        self.query_one("#findings-info", Static).update(info)
        if snap.diagnosis.findings:
            table.move_cursor(row=min(cursor, len(snap.diagnosis.findings) - 1))
        self._show_current()

    @on(DataTable.RowHighlighted, "#findings-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_current()

    def current(self) -> Finding | None:
        snap = self.review.snapshot
        table = self.query_one(DataTable)
        if snap is None or not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return snap.finding(str(key))

    def _show_current(self) -> None:
        f = self.current()
        self.query_one("#finding-text", Static).update(finding_detail(f) if f else Text("no findings", style="green"))

    def copy_text(self) -> str | None:
        f = self.current()
        return finding_text(f) if f else None

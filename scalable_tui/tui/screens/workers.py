"""Workers: what workers.jsonl says (cluster created, scaled, add_workers, closed) on a timeline."""

from __future__ import annotations

import orjson
from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from scalable_tui.session.snapshot import RunSnapshot
from scalable_tui.tui.fmt import fmt_iso, line, safe, text
from scalable_tui.tui.screens.base import NO_EXPLAIN_BINDING, RunScreen

STATE_STYLE = {"cluster_created": "green", "scaled": "cyan", "add_workers": "cyan", "cluster_closed": "dim", "worker_lost": "bold red"}


class WorkersScreen(RunScreen):
    BINDINGS = [NO_EXPLAIN_BINDING]
    DEFAULT_CSS = """
    WorkersScreen #workers-info { height: 1; padding: 0 1; }
    WorkersScreen #workers-table { height: 1fr; }
    """

    def compose_body(self) -> ComposeResult:
        yield Static(id="workers-info")
        yield DataTable(id="workers-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for col in ("time", "+since start", "state", "provider", "worker", "component", "details"):
            table.add_column(col)
        super().on_mount()

    def render_snapshot(self, snap: RunSnapshot) -> None:
        table = self.query_one(DataTable)
        table.clear()
        start = snap.first_event_ts
        for ev in snap.worker_events:
            offset = f"+{ev.ts - start:.1f}s" if ev.ts is not None and start is not None else "-"
            details = orjson.dumps(ev.details, default=str).decode() if ev.details else ""
            table.add_row(
                Text(fmt_iso(ev.timestamp)),
                Text(offset),
                Text(safe(ev.state), style=STATE_STYLE.get(ev.state, "")),
                text(ev.provider),
                text(ev.worker_id),
                text(ev.component),
                Text(line(details, 100)),
            )
        self.query_one("#workers-info", Static).update(
            Text(f"{len(snap.worker_events)} worker/cluster events", style="bold")
        )

    def copy_text(self) -> str | None:
        snap = self.review.view.run
        table = self.query_one(DataTable)
        if snap is None or not table.row_count:
            return None
        ev = snap.worker_events[min(table.cursor_row, len(snap.worker_events) - 1)]
        return f"{ev.timestamp} {ev.state} {ev.provider} {ev.worker_id} {orjson.dumps(ev.details, default=str).decode()}\n"

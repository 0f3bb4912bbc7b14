"""Run picker: the runs under a runs directory, newest first."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from scalable_tui.model.words import plural
from scalable_tui.tui.fmt import fmt_iso, safe, text

STATUS_STYLE = {"completed": "green", "running": "cyan", "failed": "bold red", "abandoned?": "bold yellow"}


#: The review app's screen and action keys: before a run is open they have
#: nothing to show (they used to open a screen stuck on "loading…").
RUN_KEYS = "1,2,3,4,5,6,7,o,t,f,i,w,v,j,c,e,x,slash"


class PickerScreen(Screen[Path | None]):
    """Dismisses with the chosen run directory (None: back to the open run).

    ``current`` is the run open in the app when the picker was reopened from
    a run (``p``); Esc then goes back to it.  Without one, the screen keys say
    to pick a run first instead of opening an empty screen.
    """

    DEFAULT_CSS = """
    PickerScreen #picker-info { height: auto; padding: 0 1; }
    PickerScreen #runs { height: 1fr; }
    """
    BINDINGS = [
        Binding("q", "app.quit", "Quit"),
        Binding("escape", "back", "Back to the run"),
        Binding(RUN_KEYS, "need_run", show=False),
    ]

    def __init__(self, runs: list[Path], stale_after_s: float | None = None, *, current: Path | None = None,
                 rows: Callable[[list[Path], float | None], list[dict]]) -> None:
        super().__init__()
        self.runs = runs
        #: One row per run (``session.runlist.run_rows``): the screen renders, the session reads the runs.
        self.rows = rows
        self.stale_after_s = stale_after_s
        self.current = current

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            return self.current is not None  # Esc shows (and works) only with a run to go back to
        return True

    def action_back(self) -> None:
        if self.current is not None:
            self.dismiss(None)

    def action_need_run(self) -> None:
        self.notify("pick a run first: ↑/↓ then Enter (q quits)", severity="warning", timeout=4)

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="≡")
        back = f" · Esc: back to {self.current.name}" if self.current is not None else ""
        yield Static(Text(f"{plural(len(self.runs), 'run')}, newest first — Enter opens one{back}"), id="picker-info")
        yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for col in ("run id", "project", "status", "started", "succeeded", "failed", "cancelled", "failures",
                    "unfinished"):
            table.add_column(col)
        table.loading = True
        self._load()

    @work(thread=True, exclusive=True)
    def _load(self) -> None:
        rows = self.rows(self.runs, self.stale_after_s)
        self.app.call_from_thread(self._fill, rows)

    def _fill(self, rows: list[dict]) -> None:
        table = self.query_one(DataTable)
        table.loading = False
        for row in rows:
            status = str(row.get("status") or "unknown")
            table.add_row(
                text(row["run_id"]),
                text(row.get("project")),
                Text(safe(status), style=STATUS_STYLE.get(status, "")),
                Text(fmt_iso(row.get("started"))),
                text(row.get("succeeded")),
                text(row.get("failed")),
                text(row.get("cancelled")),
                text(row.get("failures")),
                text(row.get("unfinished")),
                key=row["run_dir"],
            )
        table.focus()

    @on(DataTable.RowSelected, "#runs")
    def _pick(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.dismiss(Path(str(event.row_key.value)))

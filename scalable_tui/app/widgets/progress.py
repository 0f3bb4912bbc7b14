"""One progress row per task name: name, bar, state counts."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, ProgressBar

from scalable_tui.app.fmt import safe
from scalable_tui.models import TERMINAL_STATES


class TaskProgress(Horizontal):
    DEFAULT_CSS = """
    TaskProgress { height: 1; }
    TaskProgress > .tp-name { width: 24; }
    TaskProgress > ProgressBar { width: 32; }
    TaskProgress > ProgressBar > Bar { width: 24; }
    TaskProgress > .tp-counts { width: 1fr; padding-left: 1; color: $text-muted; }
    """

    def __init__(self, name: str, counts: dict[str, int]) -> None:
        super().__init__()
        self.task_name = name
        self._counts = counts

    def compose(self) -> ComposeResult:
        yield Label(Text(safe(self.task_name)[:23]), classes="tp-name")
        yield ProgressBar(show_eta=False)
        yield Label(classes="tp-counts")

    def on_mount(self) -> None:
        self.set_counts(self._counts)

    def set_counts(self, counts: dict[str, int]) -> None:
        self._counts = counts
        total = sum(counts.values())
        done = sum(n for s, n in counts.items() if s in TERMINAL_STATES)
        self.query_one(ProgressBar).update(total=max(total, 1), progress=done)
        parts = [f"{counts.get('succeeded', 0)} ok"]
        if counts.get("failed"):
            parts.append(f"{counts['failed']} failed")
        for s in ("cancelled", "running", "submitted"):
            if counts.get(s):
                parts.append(f"{counts[s]} {s}")
        self.query_one(".tp-counts", Label).update(Text(" · ".join(parts)))

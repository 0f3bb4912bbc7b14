"""Debug a failed task locally: the confirmation the ``D`` key shows first.

Fetching the task and replaying it is ``session.debug`` (the only place that
talks to Dask for it); handing the terminal to pdb is the app's
(``tui.attach.debug_in_terminal``).  This screen only asks.
"""

from __future__ import annotations


from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from scalable_tui.tui.fmt import safe


class ConfirmDebugScreen(ModalScreen[bool]):
    DEFAULT_CSS = """
    ConfirmDebugScreen { align: center middle; }
    ConfirmDebugScreen > Vertical { width: 80; height: auto; border: thick $warning; padding: 1 2; background: $surface; }
    """
    BINDINGS = [Binding("y", "answer(True)", "Replay"), Binding("n,escape", "answer(False)", "Cancel")]

    def __init__(self, key: str, address: str) -> None:
        super().__init__()
        self.key = key
        self.address = address

    def compose(self) -> ComposeResult:
        t = Text()
        t.append("Debug this failure locally?\n\n", style="bold")
        t.append(f"task {safe(self.key)}\n\n")
        t.append("This fetches the task's function and its inputs from the scheduler at "
                 f"{safe(self.address)} (a short-lived client; the only action that fetches task data), runs it "
                 "in this process and opens pdb at the exception. Quit pdb (q) to return here.\n\n")
        t.append("y", style="bold")
        t.append(": replay   ")
        t.append("n / Esc", style="bold")
        t.append(": cancel")
        with Vertical():
            yield Static(t)

    def action_answer(self, ok: bool) -> None:
        self.dismiss(ok)

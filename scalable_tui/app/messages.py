"""What the reader thread tells the UI."""

from __future__ import annotations

from textual.message import Message

from scalable_tui.app.data import RunSnapshot


class StateUpdated(Message):
    """A new snapshot of the run (first load, or something was appended)."""

    def __init__(self, snapshot: RunSnapshot) -> None:
        super().__init__()
        self.snapshot = snapshot


class LoadFailed(Message):
    """The run could not be read at all (the reader never raises on bad lines)."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error

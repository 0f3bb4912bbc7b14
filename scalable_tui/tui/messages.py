"""What the reader thread and the AI worker tell the UI."""

from __future__ import annotations

from typing import Any

from textual.message import Message

from scalable_tui.tui.data import RunSnapshot


class StateUpdated(Message):
    """A new snapshot of the run (first load, or something was appended)."""

    def __init__(self, snapshot: RunSnapshot) -> None:
        super().__init__()
        self.snapshot = snapshot


class LoadProgress(Message):
    """How much of a large run has been read while it is indexed (no snapshot: cheap)."""

    def __init__(self, fraction: float) -> None:
        super().__init__()
        self.fraction = fraction


class LoadFailed(Message):
    """The run could not be read at all (the reader never raises on bad lines)."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class ModelDelta(Message):
    """A piece of the model's streamed reply (posted from the AI worker's helper thread)."""

    def __init__(self, token: int, text: str) -> None:
        super().__init__()
        self.token = token
        self.text = text


class ModelReplied(Message):
    """The AI request ended: an ``ExplanationResult`` (ok, text, error or cancelled)."""

    def __init__(self, token: int, result: Any) -> None:
        super().__init__()
        self.token = token
        self.result = result

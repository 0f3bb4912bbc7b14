"""What the reader thread and the AI worker tell the UI."""

from __future__ import annotations

from typing import Any

from textual.message import Message

from scalable_tui.session.snapshot import RunSnapshot
from scalable_tui.session.view import Notice, ViewModel


class StateUpdated(Message):
    """A new view model from the session (first load, something appended, a new diagnosis)."""

    def __init__(self, view: ViewModel) -> None:
        super().__init__()
        self.view = view

    @property
    def snapshot(self) -> RunSnapshot | None:
        return self.view.run

    def can_replace(self, message: Message) -> bool:
        # Each view model is complete: a newer one makes a queued older one moot (as Toolong merges
        # its updates), so a burst of polls and diagnoses renders once.
        return isinstance(message, StateUpdated)


class SessionNotice(Message):
    """Something the session must tell the user once (``session.view.Notice``)."""

    def __init__(self, notice: Notice) -> None:
        super().__init__()
        self.notice = notice


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


class SeekRequested(Message):
    """The user picked a moment on the timeline (a replay seeks to the frame nearest ``t``)."""

    def __init__(self, t: float) -> None:
        super().__init__()
        self.t = t


class RefreshJobs(Message):
    """``R`` on Jobs: ask the batch scheduler now instead of at the next interval."""

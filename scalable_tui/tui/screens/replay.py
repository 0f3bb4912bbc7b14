"""The replay's screens: the live screens with the timeline above the status line, and Findings
of the WHOLE recording (not of the moment on the timeline; its header says so).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Static

from scalable_tui.session.snapshot import RunSnapshot
from scalable_tui.tui.screens.findings import FindingsScreen
from scalable_tui.tui.widgets.status import StatusLine
from scalable_tui.tui.widgets.timeline import Timeline, clock, elapsed

__all__ = ["ReplayFindingsScreen", "TimelineMixin", "with_timeline"]


# -- screens: the attach app's, with the timeline above the status line ------------
class TimelineMixin:
    """Adds the ``Timeline`` right above the screen's status line."""

    def compose(self) -> ComposeResult:
        for widget in super().compose():  # type: ignore[misc]
            if isinstance(widget, StatusLine):
                yield Timeline()
            yield widget


class ReplayFindingsScreen(TimelineMixin, FindingsScreen):
    """The findings of the whole recording (not of the moment on the timeline)."""

    DEFAULT_CSS = """
    ReplayFindingsScreen #replay-scope { height: 1; padding: 0 1; background: $warning 20%; }
    """

    def shown_snapshot(self) -> RunSnapshot | None:
        return self.review.view.whole

    def shown_error(self) -> str | None:
        return self.review.view.whole_error

    def compose_list(self) -> ComposeResult:
        yield Static(self.scope_text(), id="replay-scope")
        yield from super().compose_list()

    def scope_text(self) -> Text:
        tl = self.review.view.timeline
        times = tl.times if tl is not None else ()
        t = Text("Findings of the WHOLE recording", style="bold")
        if times:
            t.append(f" ({clock(times[0])} – {clock(times[-1])}, {elapsed(times[-1] - times[0])}, "
                     f"{len(times)} snapshots)")
        t.append(": not only up to the moment on the timeline (Failures shows that)", style="dim")
        return t


def with_timeline(name: str, cls: type[Screen]) -> type[Screen]:
    """The screen of mode ``name`` as a replay shows it."""
    if name == "findings":
        return ReplayFindingsScreen
    return type(f"Replay{cls.__name__}", (TimelineMixin, cls), {})

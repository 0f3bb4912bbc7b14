"""Base class for screens that render the app's ``RunSnapshot``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.screen import Screen
from textual.widgets import Footer, Header

from scalable_tui.app.data import RunSnapshot
from scalable_tui.app.widgets.status import StatusLine

if TYPE_CHECKING:
    from scalable_tui.app.app import ReviewApp


class RunScreen(Screen[None]):
    """Renders ``app.snapshot``; re-renders only when its version changed."""

    DEFAULT_CSS = """
    RunScreen #body { height: 1fr; }
    RunScreen .title { text-style: bold; color: $accent; padding: 0 0 0 0; }
    """
    BINDINGS = [Binding("escape", "back", "Back", show=False)]
    AUTO_FOCUS = "DataTable"

    def __init__(self) -> None:
        super().__init__()
        self.shown_version = -1

    @property
    def review(self) -> "ReviewApp":
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="≡")
        with Container(id="body"):
            yield from self.compose_body()
        yield StatusLine()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        return iter(())

    def on_mount(self) -> None:
        self.sync()

    def on_screen_resume(self) -> None:
        self.sync()

    def sync(self) -> None:
        snap: RunSnapshot | None = self.review.snapshot
        body = self.query_one("#body")
        self.query_one(StatusLine).update_status()
        if snap is None:
            body.loading = self.review.load_error is None
            return
        body.loading = False
        if snap.version != self.shown_version:
            self.shown_version = snap.version
            self.render_snapshot(snap)

    def render_snapshot(self, snap: RunSnapshot) -> None:
        """Fill the widgets from the snapshot (subclasses)."""

    def copy_text(self) -> str | None:
        """What ``c`` copies on this screen (None: nothing)."""
        return None

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()
        elif self.app.current_mode != "overview":
            self.app.switch_mode("overview")

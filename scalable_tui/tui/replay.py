"""``ReplayApp``: ``scalable-tui review FILE.rec`` -- the live app's screens over a recording, with a timeline.

The attach app renders ``LiveSnapshot`` objects that a ``LiveSource`` polls;
here they come from ``Recording.state_at(t)`` at the moment the timeline
points to (no network at all).  Every screen shows that moment: Overview,
Workers, Tasks, Events from the snapshot, Failures from its diagnosis (a
thread worker, as live, with the Slurm jobs stored for that moment).  The
Findings screen is the exception: it shows the findings over the whole
recording (``session.diagnose_recording``, exactly what ``diagnose FILE.rec``
prints), and says so in its header.

Keys (also in the footer / ``?``): ``←/→`` or ``,``/``.`` one snapshot,
``shift+←/→`` ten, ``n``/``N`` next/previous failure, ``k``/``K``
next/previous worker death, ``home``/``end``, ``p`` play/pause, ``+``/``-``
speed (1×, 10×, 60×, 600× recorded seconds per second); click or drag on the
timeline to seek.  Playback is a Textual timer: it never blocks.
"""

from __future__ import annotations

from typing import Any, Iterable

from rich.text import Text
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Input, Static

from scalable_tui.session.replay import SPEEDS, ReplaySession, replay_jobs  # noqa: F401 - re-exported
from scalable_tui.session.snapshot import RunSnapshot
from scalable_tui.session.view import ViewModel
from scalable_tui.tui.attach import AttachApp
from scalable_tui.tui.fmt import safe
from scalable_tui.tui.messages import SeekRequested
from scalable_tui.tui.screens.findings import FindingsScreen
from scalable_tui.tui.widgets.status import StatusLine
from scalable_tui.tui.widgets.timeline import Timeline, clock, elapsed

__all__ = ["ReplayApp", "SPEEDS"]

#: The playback timer's period (seconds).
PLAY_TICK = 0.1


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


def _with_timeline(name: str, cls: type[Screen]) -> type[Screen]:
    if name == "findings":
        return ReplayFindingsScreen
    return type(f"Replay{cls.__name__}", (TimelineMixin, cls), {})


class ReplayApp(AttachApp):
    """``scalable-tui review FILE.rec``: the attach app's screens at a chosen moment of a recording."""

    TITLE = "scalable-tui review (replay)"
    MODES = {name: _with_timeline(name, cls) for name, cls in AttachApp.MODES.items()}
    SPEEDS = SPEEDS
    BINDINGS = [
        Binding("left", "step(-1)", "step back", show=False, priority=True),
        Binding("right", "step(1)", "step", show=False, priority=True),
        Binding("shift+left", "step(-10)", "-10", show=False, priority=True),
        Binding("shift+right", "step(10)", "+10", show=False, priority=True),
        Binding("comma", "step(-1)", "step back", show=False),
        Binding("full_stop", "step(1)", "step", show=False),
        Binding("home", "edge(0)", "start", show=False, priority=True),
        Binding("end", "edge(1)", "end", show=False, priority=True),
        Binding("n", "jump('failure', 1)", "next failure"),
        Binding("N", "jump('failure', -1)", "prev failure", show=False),
        Binding("k", "jump('death', 1)", "next death"),
        Binding("K", "jump('death', -1)", "prev death", show=False),
        Binding("p", "play", "play/pause"),
        Binding("plus", "speed(1)", "faster", show=False),
        Binding("minus", "speed(-1)", "slower", show=False),
    ]
    #: Bindings that would steal keys from a focused text input (the filter).
    _NAV_ACTIONS = frozenset({"step", "edge"})

    def __init__(
        self,
        recording: Any,
        *,
        no_ai: bool = False,
        ai_config: Any = None,
        speed: int = 10,
        play_tick: float = PLAY_TICK,
    ) -> None:
        self.replay = ReplaySession(recording, speed=speed)
        super().__init__(session=self.replay, no_ai=no_ai, ai_config=ai_config, poll_interval=1.0)
        self.play_tick = play_tick
        self._play_timer: Any = None

    # -- what tests and the palette read (the session's state) ------------------------------------
    @property
    def recording(self) -> Any:
        return self.replay.recording

    @property
    def times(self) -> list[float]:
        return self.replay.times

    @property
    def pos(self) -> int:
        return self.replay.pos

    @property
    def speed_i(self) -> int:
        return self.replay.speed_i

    @property
    def playing(self) -> bool:
        return self.replay.playing

    @property
    def failure_times(self) -> list[float]:
        return self.replay.failure_times

    @property
    def death_times(self) -> list[float]:
        return self.replay.death_times

    @property
    def whole_snapshot(self) -> RunSnapshot | None:
        return self.view.whole

    @property
    def whole_error(self) -> str | None:
        return self.view.whole_error

    @property
    def current_time(self) -> float | None:
        return self.replay.times[self.replay.pos] if self.replay.times else None

    def view_time(self) -> float:
        """Ages ("seen 2s ago", "up 5m") are measured from the replayed moment, not from now."""
        return self.view.view_time()

    def replay_status(self) -> str:
        return self.replay._position().status()

    # -- rendering ---------------------------------------------------------------------------
    def render_view(self, old: ViewModel, new: ViewModel) -> None:
        super().render_view(old, new)
        if (new.whole is not old.whole or new.whole_error != old.whole_error) and isinstance(
                self.screen, ReplayFindingsScreen):
            self.screen.sync()
        if new.timeline != old.timeline or new.live_version != old.live_version:
            self._refresh_timeline()

    def _refresh_timeline(self) -> None:
        try:
            for tl in self.screen.query(Timeline):
                tl.refresh()
            for sl in self.screen.query(StatusLine):
                sl.update_status()
        except NoMatches:
            pass  # a screen still mounting
        except Exception as exc:  # noqa: BLE001 - shown, the replay goes on
            self.report_screen_error("timeline", exc)

    # -- moving in time ---------------------------------------------------------------------------
    def seek(self, index: int) -> None:
        """Show the snapshot ``index`` (clamped)."""
        self.replay.seek(index)

    def seek_time(self, t: float) -> None:
        """Show the snapshot nearest to ``t`` (a click on the timeline)."""
        self.replay.seek_time(t)

    def on_seek_requested(self, message: SeekRequested) -> None:
        self.replay.seek_time(message.t)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # The arrows, home and end stay the filter input's while it has the focus.
        if action in self._NAV_ACTIONS and isinstance(self.focused, Input):
            return False
        return super().check_action(action, parameters)

    def action_step(self, n: int) -> None:
        self.replay.step(int(n))

    def action_edge(self, end: int) -> None:
        self.replay.edge(int(end))

    def action_jump(self, kind: str, direction: int) -> None:
        missing = self.replay.jump(kind, int(direction))
        if missing:
            self.notify(missing, timeout=3)

    def action_speed(self, delta: int) -> None:
        self.replay.change_speed(int(delta))

    def action_play(self) -> None:
        if self.replay.playing:
            self.pause()
            return
        if self.replay.play():
            self._play_timer = self.set_interval(self.play_tick, self._play_step, name="replay playback")

    def pause(self) -> None:
        if self._play_timer is not None:
            self._play_timer.stop()
            self._play_timer = None
        self.replay.pause()

    def _play_step(self) -> None:
        if self.replay.play_step():
            self.pause()
            self.notify("end of the recording", timeout=3)

    def explain_finding(self, finding: Any) -> None:
        """On Findings, ``x`` explains a finding of the whole recording (its failures, not the moment's)."""
        if isinstance(self.screen, ReplayFindingsScreen) and self.view.whole is not None:
            moment, self.snapshot = self.snapshot, self.view.whole
            try:
                super().explain_finding(finding)  # synchronous: the prompt worker got the whole snapshot
            finally:
                self.snapshot = moment
            return
        super().explain_finding(finding)

    # -- what a replay cannot do ---------------------------------------------------
    def action_debug_locally(self) -> None:
        self.notify("debugging a task locally needs the live scheduler; this is a recording", severity="warning")

    def action_reconnect(self) -> None:
        pass

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for cmd in super().get_system_commands(screen):
            if cmd.title not in ("Reconnect now", "Debug a failure locally"):
                yield cmd
        yield SystemCommand("Play / pause", "Play the recording at the chosen speed (p; + and - change it)",
                            self.action_play)
        yield SystemCommand("Next failure", "Jump to the next failed task (n; N: previous)",
                            lambda: self.action_jump("failure", 1))
        yield SystemCommand("Next worker death", "Jump to the next worker death (k; K: previous)",
                            lambda: self.action_jump("death", 1))

    def on_unmount(self) -> None:  # (the base classes' on_unmount run too: Textual calls every class's handler)
        if self._play_timer is not None:
            self._play_timer.stop()

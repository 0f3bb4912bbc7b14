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

import bisect
import dataclasses
import os
import time
from typing import Any, Iterable

from rich.text import Text
from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Input, Static

from scalable_tui.tui.attach import AttachApp, LiveRunSnapshot, _Holder, build_live_snapshot
from scalable_tui.tui.data import RunSnapshot, build_snapshot
from scalable_tui.tui.fmt import safe
from scalable_tui.tui.screens.findings import FindingsScreen
from scalable_tui.tui.widgets.status import StatusLine
from scalable_tui.tui.widgets.timeline import Timeline, clock, elapsed
from scalable_tui.model.live import LiveSnapshot
from scalable_tui.sources.recording.reader import Recording

__all__ = ["ReplayApp", "SPEEDS"]

#: Playback speeds: recorded seconds per wall-clock second.
SPEEDS = (1, 10, 60, 600)
#: The playback timer's period (seconds).
PLAY_TICK = 0.1


class _ReplayHolder(_Holder):
    """The latest snapshot, and the app (for the replay status line)."""

    __slots__ = ("app",)

    def __init__(self, app: ReplayApp) -> None:
        super().__init__()
        self.app = app


@dataclasses.dataclass(slots=True)
class ReplaySnapshot(LiveRunSnapshot):
    """A diagnosed snapshot whose status line is the replay position."""

    def status_line(self, now: float) -> tuple[str, str]:
        app = getattr(self.holder, "app", None)
        if app is None:
            return "replay", "finished"
        return app.replay_status(), ("live" if app.playing else "finished")


def _as_replay(snap: RunSnapshot, holder: _Holder) -> ReplaySnapshot:
    values = {f.name: getattr(snap, f.name) for f in dataclasses.fields(RunSnapshot)}
    out = ReplaySnapshot(**values, holder=holder)
    out.live = False  # the status line does not tick by itself: the app updates it on every move
    return out


class _ReplaySource:
    """What ``ReviewApp`` holds as its source: the recording (the app never polls it)."""

    def __init__(self, recording: Recording) -> None:
        self.recording = recording
        self.address = str(recording.meta.get("scheduler_address") or recording.meta.get("address") or "")


class _RecordedJobs:
    """The app's ``job_source`` when the recording has jobs: the Jobs screen is on, nothing is polled."""

    scheduler = "slurm"

    def __init__(self, recording: Recording) -> None:
        self.recording = recording

    def poll(self) -> Any:  # pragma: no cover - a replay never polls
        raise RuntimeError("a recording is not polled")


def replay_jobs(snap: Any, t: float, now: float | None = None) -> Any:
    """``snap`` (stored at its ``polled_at``) as seen at the replayed moment ``t``.

    ``polled_at``/``last_ok`` are shifted by ``now - t`` so that the screen's "polled … ago", and
    the elapsed and walltime left it advances from the poll (computed against the wall clock), read
    as they did at ``t``."""
    now = time.time() if now is None else now
    polled = snap.polled_at if snap.polled_at is not None else t
    shift = now - t
    snap.polled_at = polled + shift
    if snap.last_ok is not None:
        snap.last_ok += shift
    return snap


# -- screens: the attach app's, with the timeline above the status line ------------
class TimelineMixin:
    """Adds the ``Timeline`` right above the screen's status line."""

    def compose(self) -> ComposeResult:
        for widget in super().compose():  # type: ignore[misc]
            if isinstance(widget, StatusLine):
                yield Timeline()
            yield widget


class _WholeRecordingView:
    """The app as the Findings screen sees it: ``snapshot`` is the whole recording's."""

    __slots__ = ("_app",)

    def __init__(self, app: Any) -> None:
        object.__setattr__(self, "_app", app)

    @property
    def snapshot(self) -> RunSnapshot | None:
        return self._app.whole_snapshot

    @property
    def load_error(self) -> str | None:
        return self._app.whole_error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._app, name)


class ReplayFindingsScreen(TimelineMixin, FindingsScreen):
    """The findings of the whole recording (not of the moment on the timeline)."""

    DEFAULT_CSS = """
    ReplayFindingsScreen #replay-scope { height: 1; padding: 0 1; background: $warning 20%; }
    """

    @property
    def review(self) -> Any:  # type: ignore[override]
        return _WholeRecordingView(self.app)

    def compose_list(self) -> ComposeResult:
        yield Static(self.scope_text(), id="replay-scope")
        yield from super().compose_list()

    def scope_text(self) -> Text:
        app: Any = self.app
        times = getattr(app, "times", None) or []
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
        recording: Recording | str | os.PathLike[str],
        *,
        no_ai: bool = False,
        ai_config: Any = None,
        speed: int = 10,
        play_tick: float = PLAY_TICK,
    ) -> None:
        rec = recording if isinstance(recording, Recording) else Recording(recording)
        super().__init__(source=_ReplaySource(rec), no_ai=no_ai, ai_config=ai_config, poll_interval=1.0)
        self.recording = rec
        self._holder = _ReplayHolder(self)
        if rec.has_jobs:  # the Jobs screen shows the jobs stored at the moment on the timeline
            self.job_source = _RecordedJobs(rec)
        else:
            self.jobs_off_reason = "this recording has no batch-scheduler jobs (recorded without Slurm)"
        self.times: list[float] = rec.times()
        #: Index into ``times`` of the moment shown.
        self.pos = 0
        self.speed_i = SPEEDS.index(speed) if speed in SPEEDS else 1
        self.playing = False
        self.play_tick = play_tick
        self._play_timer: Any = None
        self._play_t = 0.0
        self._play_last = 0.0
        #: Frame times at which a failed task / an unexpected worker death first shows.
        self.failure_times: list[float] = self._failure_marks(rec)
        self.death_times: list[float] = sorted({m.t for m in rec.worker_deaths()})
        #: Where the recording is blind (recorder restarted or stalled, scheduler restarted): by the frame after.
        self.gaps = {g.after: g for g in rec.gaps()}
        #: The whole recording diagnosed (the Findings screen), once the thread worker is done.
        self.whole_snapshot: ReplaySnapshot | None = None
        self.whole_error: str | None = None
        #: (the moment's LiveSnapshot, the jobs stored for it) for the moment's diagnosis.
        self._moment_jobs: tuple[LiveSnapshot | None, Any] = (None, None)

    @staticmethod
    def _failure_marks(rec: Recording) -> list[float]:
        out: list[float] = []
        if not len(rec):
            return out
        t = rec.start - 1.0  # type: ignore[operator]
        while True:
            m = rec.next_failure_after(t)
            if m is None or (out and m.t <= out[-1]):
                return out
            out.append(m.t)
            t = m.t

    # -- the source: the recording ----------------------------------------------
    def start_reading(self, source: Any) -> None:  # called by ReviewApp.on_mount
        self.snapshot = None
        self.load_error = None
        self.sub_title = safe(self.recording.path.name)
        for note in self.recording.notices:
            self.notify(safe(note), title="recording", severity="warning", timeout=15)
        if not self.times:
            self.load_error = "the recording has no snapshots yet"
            self.whole_error = self.load_error
            self.notify(self.load_error, severity="error", timeout=30)
            return
        self._diagnose_whole(str(self.recording.path))
        self.seek(0)

    @work(thread=True, exclusive=True, group="whole", name="whole-recording diagnosis", exit_on_error=False)
    def _diagnose_whole(self, path: str) -> None:
        from scalable_tui.session import diagnose_recording

        try:
            with Recording(path) as rec:  # its own connection and caches: the UI thread keeps seeking
                # the same pipeline and inputs as `diagnose FILE.rec` (the recorded jobs, not today's sacct)
                state, diag = diagnose_recording(rec, slurm="auto")
                now = rec.end or time.time()
            snap = _as_replay(build_snapshot(state, diag, 1, stale_after_s=None, now=now), self._holder)
        except Exception as exc:  # noqa: BLE001 - shown, never a crash
            self.call_from_thread(self._whole_done, None, f"{type(exc).__name__}: {exc}")
            return
        self.call_from_thread(self._whole_done, snap, None)

    def _whole_done(self, snap: ReplaySnapshot | None, error: str | None) -> None:
        self.whole_snapshot, self.whole_error = snap, error
        if error:
            self.notify(f"cannot diagnose the whole recording: {safe(error)}", severity="error", timeout=15)
        if isinstance(self.screen, ReplayFindingsScreen):
            self.screen.sync()

    def _got_live(self, live: LiveSnapshot) -> None:
        # A replay announces no connection changes or version skew on every step.
        self._was_connected = None
        self._warned_versions = True
        super()._got_live(live)
        self._refresh_timeline()

    def _diagnosed(self, live: LiveSnapshot, version: int) -> Any:
        """As live, but "now" is the moment shown (ages and staleness as they were then).

        The jobs are the ones stored for that moment, unshifted (the Jobs screen's
        copy has its clocks moved to the wall clock)."""
        moment_live, jobs = self._moment_jobs
        snap = build_live_snapshot(live, version, self._holder, now=live.last_poll_ok or self.recording.end,
                                   jobs=jobs if moment_live is live else None)
        return _as_replay(snap, self._holder)

    # -- moving in time ---------------------------------------------------------
    @property
    def current_time(self) -> float | None:
        return self.times[self.pos] if self.times else None

    def view_time(self) -> float:
        """Ages ("seen 2s ago", "up 5m") are measured from the replayed moment, not from now."""
        t = self.current_time
        return time.time() if t is None else t

    def seek(self, index: int) -> None:
        """Show the snapshot ``index`` (clamped)."""
        if not self.times:
            return
        self.pos = max(0, min(len(self.times) - 1, index))
        self._play_t = self.times[self.pos]
        live = self.recording.state_at(self.times[self.pos])
        if self.recording.has_jobs:
            self._set_jobs(self.times[self.pos], live)  # before _got_live: the Jobs screen syncs on it
        self._got_live(live)

    def _set_jobs(self, t: float, live: LiveSnapshot) -> None:
        """The jobs stored at or before ``t``, as the Jobs screen would have shown them at ``t``."""
        snap = self.recording.jobs_at(t)
        self._moment_jobs = (live, self.recording.jobs_at(t))
        jobs_key = snap.polled_at if snap is not None else None
        if jobs_key != self._jobs_key:  # other jobs at this moment: diagnose again even if the scheduler's data did not change
            self._jobs_key = jobs_key
            self._diag_key = None
        wm = None
        if snap is not None:
            snap = replay_jobs(snap, t)
            try:
                from scalable_tui.model.jobs import WorkerSeen
                from scalable_tui.sources.jobs.reconcile import reconcile_workers

                seen = [WorkerSeen(w.name, host=w.host, address=w.address) for w in live.alive_workers]
                wm = reconcile_workers(snap, seen, now=t)
            except Exception:  # noqa: BLE001 - no mapping this time
                wm = None
        else:
            from scalable_tui.model.jobs import JobsSnapshot

            snap = JobsSnapshot(message="no jobs poll recorded before this moment")
        self.jobs, self.job_map = snap, wm
        self.jobs_version += 1

    def seek_time(self, t: float) -> None:
        """Show the snapshot nearest to ``t`` (a click on the timeline)."""
        if not self.times:
            return
        i = bisect.bisect_left(self.times, t)
        if i >= len(self.times) or (i > 0 and t - self.times[i - 1] <= self.times[i] - t):
            i -= 1
        self.seek(i)

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

    def replay_status(self) -> str:
        if not self.times:
            return "replay · no snapshots"
        text = (f"replay · {clock(self.times[self.pos])} ({self.pos + 1}/{len(self.times)}) · "
                f"speed {SPEEDS[self.speed_i]}×")
        gap = self.gaps.get(self.times[self.pos])
        if gap is not None:
            text += f" · GAP before this moment: {gap.reason}"
        return text + (" · playing" if self.playing else "")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # The arrows, home and end stay the filter input's while it has the focus.
        if action in self._NAV_ACTIONS and isinstance(self.focused, Input):
            return False
        return super().check_action(action, parameters)

    def action_step(self, n: int) -> None:
        self.seek(self.pos + int(n))

    def action_edge(self, end: int) -> None:
        self.seek(len(self.times) - 1 if end else 0)

    def action_jump(self, kind: str, direction: int) -> None:
        if not self.times:
            return
        marks = self.failure_times if kind == "failure" else self.death_times
        what = "failure" if kind == "failure" else "worker death"
        cur = self.times[self.pos]
        if direction > 0:
            i = bisect.bisect_right(marks, cur)
            target = marks[i] if i < len(marks) else None
        else:
            i = bisect.bisect_left(marks, cur) - 1
            target = marks[i] if i >= 0 else None
        if target is None:
            self.notify(f"no {'later' if direction > 0 else 'earlier'} {what} in this recording", timeout=3)
            return
        self.seek(bisect.bisect_right(self.times, target) - 1)

    def action_speed(self, delta: int) -> None:
        self.speed_i = max(0, min(len(SPEEDS) - 1, self.speed_i + int(delta)))
        self._refresh_timeline()

    def action_play(self) -> None:
        if self.playing:
            self.pause()
            return
        if not self.times:
            return
        if self.pos >= len(self.times) - 1:
            self.seek(0)  # at the end: play from the start
        self.playing = True
        self._play_t = self.times[self.pos]
        self._play_last = time.monotonic()
        self._play_timer = self.set_interval(self.play_tick, self._play_step, name="replay playback")
        self._refresh_timeline()

    def pause(self) -> None:
        self.playing = False
        if self._play_timer is not None:
            self._play_timer.stop()
            self._play_timer = None
        self._refresh_timeline()

    def _play_step(self) -> None:
        if not self.playing or not self.times:
            return
        now = time.monotonic()
        self._play_t += (now - self._play_last) * SPEEDS[self.speed_i]
        self._play_last = now
        i = bisect.bisect_right(self.times, self._play_t) - 1
        if i > self.pos:
            play_t = self._play_t
            self.seek(i)
            self._play_t = play_t  # keep the fraction between frames
        if self.pos >= len(self.times) - 1:
            self.pause()
            self.notify("end of the recording", timeout=3)

    def explain_finding(self, finding: Any) -> None:
        """On Findings, ``x`` explains a finding of the whole recording (its failures, not the moment's)."""
        if isinstance(self.screen, ReplayFindingsScreen) and self.whole_snapshot is not None:
            moment, self.snapshot = self.snapshot, self.whole_snapshot
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

    def on_unmount(self) -> None:  # (ReviewApp's on_unmount runs too: Textual calls every class's handler)
        if self._play_timer is not None:
            self._play_timer.stop()
        self.recording.close()

"""``ScalableApp``: the one Textual app over a headless session (review, attach, replay, demo).

The session (``scalable_tui.session``: ``ReviewSession``, ``MonitorSession``,
``ReplaySession``) reads, polls, records and diagnoses; it emits one immutable
``ViewModel`` that the app receives as a ``StateUpdated`` message (a burst of
them is merged: only the latest is rendered) and the screens render.  Which
screens and keys exist is chosen from the view model's capability flags
through the one table in ``tui.keys``; nothing here asks what kind of session
it has except to start it.

Longer than ~400 lines for a reason: the replay's keys, the debug action and
the palette are app actions over the one class; the AI explanation flow
(preview, stream, cancel) is its own collaborator (``tui.ai_flow``).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from textual import work
from textual.app import App, SystemCommand
from textual.binding import BindingsMap
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Input
from textual.worker import get_current_worker

from scalable_tui.model.diagnosis import Diagnosis, Finding
from scalable_tui.session.review import FIRST_SLICE, LOADING_SLICE, ReviewSession, RunSource  # noqa: F401
from scalable_tui.session.snapshot import RunSnapshot
from scalable_tui.session.task_lists import WARM_ROWS, warm
from scalable_tui.session.view import Capabilities, ViewModel
from scalable_tui.tui.ai import AIEntry
from scalable_tui.tui.ai_flow import AIFlow
from scalable_tui.tui.fmt import DEBUG_NEEDS_LIVE, clipboard_notice, safe
from scalable_tui.tui.group_copy import copy_group, offers_group
from scalable_tui.tui.keys import GROUP_COPIES, bindings_for, is_a, is_screen, modes_for, screens_for, title_for
from scalable_tui.tui.messages import (
    LoadFailed,
    LoadProgress,
    ModelDelta,
    ModelReplied,
    RefreshJobs,
    SeekRequested,
    SessionNotice,
    StateUpdated,
)
from scalable_tui.tui.screens.base import FilterableScreen, RunScreen
from scalable_tui.tui.widgets.status import PartialBanner, StatusLine
from scalable_tui.tui.widgets.timeline import Timeline

if TYPE_CHECKING:
    from assistant.llm import AIConfig
    from scalable_tui.session.monitor import MonitorSession
    from scalable_tui.session.replay import ReplaySession
    from scalable_tui.tui.screens.picker import PickerScreen

    Session = ReviewSession | MonitorSession | ReplaySession

__all__ = ["ScalableApp", "ReviewApp", "PLAY_TICK"]

#: A replay's playback timer period (seconds).
PLAY_TICK = 0.1
#: Keys that would steal a focused text input's keys (the filter) in a replay.
_NAV_ACTIONS = frozenset({"step", "edge"})

def _warm_in_thread(tasks: Any) -> None:
    """``task_lists.warm`` in a thread worker: stops between steps when the worker is cancelled (quit, another run)."""
    worker = get_current_worker()
    warm(tasks, lambda: worker.is_cancelled)


# The live and replay sessions are imported only when used (``review`` starts without them): ``tui.keys.is_a``.
def _live(session: object) -> bool:
    return is_a(session, "scalable_tui.session.monitor", "LiveViews")


def _monitoring(session: object) -> bool:
    return is_a(session, "scalable_tui.session.monitor", "MonitorSession")


def _replaying(session: object) -> bool:
    return is_a(session, "scalable_tui.session.replay", "ReplaySession")


class ScalableApp(App[None]):
    """Renders whatever view model its session emits; screens and keys follow the capability flags."""

    DARK_THEME = "textual-dark"
    LIGHT_THEME = "textual-light"
    CSS = """
    FooterLabel { margin-right: 1; }
    """

    def __init__(
        self,
        session: Session | None = None,
        *,
        runs: list[Path] | None = None,
        stale_after_s: float | None = None,
        no_ai: bool = False,
        ai_config: "AIConfig | None" = None,
        now: Callable[[], float] = time.time,
        source_factory: Callable[[Path], RunSource] | None = None,
        slurm: str = "off",
        poll_interval: float = 1.0,
        title: str | None = None,
        rediagnose_every: float = 30.0,
        play_tick: float = PLAY_TICK,
    ) -> None:
        caps = session.view.caps if _live(session) else ReviewSession.caps
        #: This session's screens (``tui.keys``): read by App.__init__ as the modes.
        self.MODES = modes_for(caps)  # type: ignore[misc]
        self.DEFAULT_MODE = "overview"  # type: ignore[misc]
        super().__init__()
        # The keys of this session (tui.keys), then the palette key App.__init__ appended last.
        palette = [b for _key, b in self._bindings if b.action in ("command_palette", "app.command_palette")]
        self._bindings = BindingsMap([*bindings_for(caps), *palette])
        self.title = title or title_for(caps)
        self.session: Session | None = session
        self.runs = runs or []
        self.stale_after_s = stale_after_s
        #: ``--no-ai``: the explain key only says that AI is off; nothing is ever sent.
        self.no_ai = no_ai
        #: Endpoint/model/key (``resolve_config``); None or not ``enabled``: AI is off.
        self.ai_config = ai_config
        #: The AI explanation flow and its per-finding state (``ai_entries``).
        self.ai = AIFlow(self)
        #: The clock (injectable so snapshots and elapsed times are deterministic in tests).
        self.now = now
        self.source_factory = source_factory
        self.slurm = slurm
        self.poll_interval = poll_interval
        self.rediagnose_every = rediagnose_every
        self.play_tick = play_tick
        self._play_timer: Any = None
        #: The latest view model rendered; ``snapshot`` is its run (a replay's ``x`` on Findings swaps it).
        self.view: ViewModel = session.view if _live(session) else ViewModel(caps=caps)
        self.snapshot: RunSnapshot | None = None
        self.load_error: str | None = None
        #: How many diagnosed snapshots arrived (tests wait on it).
        self.updates = 0
        #: (where, exception type) of screen-update errors already shown (each is shown once).
        self._screen_errors: set[tuple[str, str]] = set()

    # -- the session's state, for the palette, tests and alerts ------------------------------------
    @property
    def history_view(self) -> Any:
        """``session.history_view`` (History screen, Findings "since"): screens reach it here, never a source."""
        from scalable_tui.session import history_view  # imported on first use: not on the first screen's path

        return history_view

    @property
    def live(self) -> Any:
        return self.view.live

    @property
    def live_version(self) -> int:
        return self.view.live_version

    @property
    def jobs(self) -> Any:
        return self.view.jobs

    @property
    def job_map(self) -> Any:
        return self.view.job_map

    @property
    def jobs_version(self) -> int:
        return self.view.jobs_version

    @property
    def recorded(self) -> int:
        return getattr(self.session, "recorded", 0)

    @property
    def whole_snapshot(self) -> RunSnapshot | None:
        return self.view.whole

    @property
    def replay(self) -> ReplaySession:
        assert _replaying(self.session), "not a replay"
        return self.session

    @property
    def pos(self) -> int:
        return self.replay.pos

    @property
    def times(self) -> list[float]:
        return self.replay.times

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

    def replay_status(self) -> str:
        return self.replay._position().status()

    def seek(self, index: int) -> None:
        self.replay.seek(index)

    def notify(self, message: str, *, title: str = "", severity: Any = "information", timeout: float | None = None,
               markup: bool = False) -> None:
        """Every notification is plain text: they carry exception messages, file names and titles from the run,
        which must be shown literally (Textual's default, markup on, would apply ``[bold]`` in an error message).
        Screens' ``notify`` passes ``markup=True`` explicitly; it is ignored here on purpose."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    # -- lifecycle -------------------------------------------------------------
    def on_mount(self) -> None:
        session = self.session
        if session is None:
            self.push_screen(self.make_picker(), self._picked)
        elif isinstance(session, ReviewSession):
            self._start_review(session)
        else:
            self.sub_title = safe(session.view.subtitle)
            session.on_view = lambda view: self.post_message(StateUpdated(view))
            session.on_notice = lambda notice: self.post_message(SessionNotice(notice))
            if _monitoring(session):
                self._follow()
                self.set_interval(self.rediagnose_every, session.tick, name="time-based findings")
            session.start()

    def efficiency_report(self) -> Any:
        """The session's requested-vs-used report (the Efficiency screen asks, from a worker thread)."""
        if self.session is None or not hasattr(self.session, "efficiency"):
            raise RuntimeError("no run is open")
        return self.session.efficiency()

    def make_picker(self, current: Path | None = None) -> PickerScreen:
        """The run picker, fed by the session layer's run list (screens never read run directories)."""
        from scalable_tui.session.runlist import run_rows
        from scalable_tui.tui.screens.picker import PickerScreen

        return PickerScreen(self.runs, self.stale_after_s, current=current, rows=run_rows)

    def _picked(self, run_dir: Path | None) -> None:
        if run_dir is None:
            self.exit()
            return
        if self.source_factory is None:
            from scalable_tui.sources.rundir.reader import RunDirReader

            self.start_reading(RunDirReader(run_dir))
        else:
            self.start_reading(self.source_factory(run_dir))

    def start_reading(self, source: RunSource) -> None:
        """Review ``source`` (a picked run, or the same one again)."""
        self._start_review(ReviewSession(source, stale_after_s=self.stale_after_s, slurm=self.slurm, now=self.now,
                                         poll_interval=self.poll_interval))

    def _start_review(self, session: ReviewSession) -> None:
        session.painted = threading.Event()  # set in ``_painted_full``
        self.workers.cancel_group(self, "warm lists")  # the run before this one's: not worth a core now
        self.session = session
        self.snapshot = None
        self.load_error = None
        self.view = ViewModel(caps=session.caps)
        self._read_run(session)

    @work(thread=True, exclusive=True, group="reader", name="run reader", exit_on_error=False)
    def _read_run(self, session: ReviewSession) -> None:
        """Runs the headless ``ReviewSession`` (load, then tail while run.json says running)."""
        worker = get_current_worker()
        try:
            session.run(lambda view: self.post_message(StateUpdated(view)),
                        lambda fraction: self.post_message(LoadProgress(fraction)), worker.cancelled_event)
        except Exception as exc:  # noqa: BLE001 - shown to the user, never a crash
            self.post_message(LoadFailed(f"{type(exc).__name__}: {exc}"))

    @work(exclusive=True, group="live", name="live source", exit_on_error=False)
    async def _follow(self) -> None:
        assert _monitoring(self.session)
        await self.session.follow()

    def on_unmount(self) -> None:
        for e in self.ai_entries.values():
            if e.cancel is not None:
                e.cancel.set()
        if self._play_timer is not None:
            self._play_timer.stop()
        if _live(self.session):
            self.session.close()

    # -- rendering -------------------------------------------------------------
    def report_screen_error(self, where: str, exc: BaseException) -> None:
        """A screen failed to take new data: logged, and shown once per kind (never silently dropped)."""
        key = (where, type(exc).__name__)
        self.log.error(f"{where}: screen update failed: {type(exc).__name__}: {exc}")
        if key in self._screen_errors:
            return
        self._screen_errors.add(key)
        self.notify(f"{where}: the screen could not be updated: {type(exc).__name__}: {safe(exc)}",
                    title="display error", severity="error", timeout=20)

    def on_state_updated(self, message: StateUpdated) -> None:
        old, self.view = self.view, message.view
        self.render_view(old, message.view)

    def render_view(self, old: ViewModel, new: ViewModel) -> None:
        """Sync what changed: the diagnosis, the poll (live screens), the jobs, the timeline.

        One sync per view model, however many parts changed (updates are merged)."""
        run_changed = new.run is not None and new.run is not old.run
        if run_changed:
            self.snapshot = new.run
            self.updates += 1
            self.sub_title = safe(new.run.run_id)  # type: ignore[union-attr]
            if not new.caps.live and new.run.loading is None and not new.run.live:  # type: ignore[union-attr]
                # a finished run, fully read: its table will not change again. Once this screen is painted,
                # prepare the Tasks list's orders (a first sort of 300k rows becomes a repeat); started any
                # earlier, it took the interpreter from the paint of the full screen
                self.call_after_refresh(self._painted_full, new.run)
        error_changed = new.error != old.error
        if error_changed:
            self.load_error = new.error
        if not self.screen_stack:
            return  # a diagnosis thread may emit while the app is closing
        where = "live update" if new.caps.live else "new diagnosis"
        try:
            screen = self.screen
            sync = getattr(screen, "sync", None)
            if (run_changed or (error_changed and new.error)) and isinstance(screen, RunScreen):
                screen.sync()
            elif new.live_version != old.live_version:
                if getattr(screen, "render_live", None) is not None and sync is not None:
                    sync()
                else:
                    for sl in screen.query(StatusLine):
                        sl.update_status()
            elif new.jobs_version != old.jobs_version and is_screen(screen, "live_jobs:LiveJobsScreen"):
                screen.sync()
            if (new.whole is not old.whole or new.whole_error != old.whole_error) and is_screen(
                    screen, "replay:ReplayFindingsScreen"):
                screen.sync()
            if new.timeline is not None and (new.timeline != old.timeline or new.live_version != old.live_version):
                for tl in screen.query(Timeline):
                    tl.refresh()
                for sl in screen.query(StatusLine):
                    sl.update_status()
        except NoMatches:
            # a screen still mounting: sync it once it is there (a paused replay sends no next update)
            self.call_after_refresh(self._resync_screen)
        except Exception as exc:  # noqa: BLE001 - shown; never stop following the session
            self.report_screen_error(where, exc)

    def _painted_full(self, snap: RunSnapshot) -> None:
        """The full view of a finished run is on the screen: the session may store its index now (it waited, so
        as not to take the interpreter from this paint), and the Tasks list's orders are prepared."""
        painted = getattr(self.session, "painted", None)
        if painted is not None:
            painted.set()
        if snap is not self.snapshot or len(snap.tasks) < WARM_ROWS:
            return
        self.run_worker(partial(_warm_in_thread, snap.tasks), thread=True, exclusive=True, group="warm lists",
                        name="warm the Tasks list", exit_on_error=False)

    def _resync_screen(self) -> None:
        sync = getattr(self.screen, "sync", None) if self.screen_stack else None
        if sync is not None:
            try:
                sync()
            except NoMatches:
                pass  # still not there: its own mount syncs it

    def on_load_progress(self, message: LoadProgress) -> None:
        snap = self.snapshot
        if snap is None or snap.loading is None:
            return
        # Same version: the screens keep what they show, only the status line moves.
        self.snapshot = dataclasses.replace(snap, loading=message.fraction)
        self.view = self.view.with_(run=self.snapshot)
        if isinstance(self.screen, RunScreen):
            self.screen.query_one(StatusLine).update_status()
            self.screen.query_one(PartialBanner).show(self.view)

    def on_load_failed(self, message: LoadFailed) -> None:
        self.load_error = message.error
        self.view = self.view.with_(error=message.error)
        self.notify(safe(message.error), title="cannot read the run", severity="error", timeout=30)
        if isinstance(self.screen, RunScreen):
            self.screen.sync()

    def on_session_notice(self, message: SessionNotice) -> None:
        n = message.notice
        self.notify(safe(n.text), title=n.title, severity=n.severity, timeout=n.timeout)  # type: ignore[arg-type]

    # -- AI explanations (the flow itself: ``tui.ai_flow.AIFlow``) ------------------------------
    @property
    def ai_entries(self) -> dict[str, AIEntry]:
        return self.ai.entries

    @property
    def ai_enabled(self) -> bool:
        return self.ai.enabled

    def ai_info(self) -> str:
        return self.ai.info()

    def ai_busy(self) -> AIEntry | None:
        return self.ai.busy()

    def ai_status(self) -> str | None:
        return self.ai.status()

    def explain_finding(self, finding: Finding | None) -> None:
        # On a replay's Findings, ``x`` explains a finding of the whole recording (not the moment's).
        whole = is_screen(self.screen, "replay:ReplayFindingsScreen") and self.view.whole is not None
        self.ai.explain(finding, self.view.whole if whole else self.snapshot)

    def on_model_delta(self, message: ModelDelta) -> None:
        self.ai.delta(message)

    def on_model_replied(self, message: ModelReplied) -> None:
        self.ai.replied(message)

    def cancel_ai(self) -> bool:
        """Esc: cancel the running AI request, if any (True when there was one)."""
        return self.ai.cancel()

    def explained_diagnosis(self, diag: Diagnosis) -> Diagnosis:
        """``diag`` with the explanations received so far (for export)."""
        return self.ai.explained(diag)

    # -- actions ---------------------------------------------------------------
    def action_copy(self) -> None:
        getter = getattr(self.screen, "copy_text", None)
        text = getter() if getter else None
        if not text:
            self.notify("nothing to copy here", severity="warning")
            return
        self.copy_to_clipboard(text)
        self.notify(clipboard_notice(text), timeout=10)

    def action_copy_group(self, what: str) -> None:
        """``y`` / ``Y``: the selected group's task ids / retry script (``tui.group_copy``)."""
        copy_group(self, what)

    def action_reconnect(self) -> None:
        if _live(self.session):
            self.session.reconnect()

    def refresh_jobs(self) -> None:
        """Ask Slurm now instead of at the next interval."""
        if _live(self.session):
            self.session.refresh_jobs()

    def on_refresh_jobs(self, message: RefreshJobs) -> None:
        self.refresh_jobs()

    def action_export(self) -> None:
        snap = self.snapshot
        if snap is None:
            self.notify("still loading", severity="warning")
            return
        default = str(Path.cwd() / f"{snap.run_id}-findings.md")
        if Path(default).resolve().is_relative_to(Path(snap.run_dir).resolve()):
            default = str(Path.home() / f"{snap.run_id}-findings.md")

        def done(path: str | None) -> None:
            if path:
                self.notify(f"findings written to {safe(path)}")

        from scalable_tui.tui.screens.export import ExportScreen

        self.push_screen(ExportScreen(self.explained_diagnosis(snap.diagnosis), Path(snap.run_dir), default), done)

    def action_toggle_theme(self) -> None:
        """Dark <-> light (from any theme: a dark one goes light, a light one dark)."""
        dark = self.current_theme.dark if self.current_theme else True
        self.theme = self.LIGHT_THEME if dark else self.DARK_THEME
        self.notify(f"theme: {self.theme}", timeout=2)

    def action_toggle_help(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    # -- a replay's keys -------------------------------------------------------------
    def on_seek_requested(self, message: SeekRequested) -> None:
        if _replaying(self.session):
            self.session.seek_time(message.t)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # The arrows, home and end stay the filter input's while it has the focus.
        if action in _NAV_ACTIONS and isinstance(self.focused, Input):
            return False
        if action == "copy_group" and not offers_group(self.screen):
            return False  # y / Y only where a failure group is selected
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

    # -- debug a failure locally -----------------------------------------------------
    def _selected_failure(self) -> Any:
        screen = self.screen
        if is_screen(screen, "failure_detail:FailureDetailScreen"):
            return screen.record
        if is_screen(screen, "failure_group:FailureGroupScreen"):
            table = screen.list_table()
            if table.row_count and screen.records:
                return screen.records[min(table.cursor_row, len(screen.records) - 1)]
        return None

    def action_debug_locally(self) -> None:
        """``D``: replay the selected failed task here under pdb (a live scheduler only)."""
        if not self.view.caps.can_debug:
            self.notify(DEBUG_NEEDS_LIVE if not self.view.caps.live else
                        "debugging a task locally needs the live scheduler; this is a recording", severity="warning",
                        timeout=6)
            return
        rec = self._selected_failure()
        if rec is None or not rec.task_id:
            self.notify("open a failed task first (Failures → Enter → Enter), then press D", severity="warning")
            return
        if rec.failure_class in ("KilledWorker", "WorkerDied"):
            self.notify(f"cannot replay {rec.failure_class}: it is a worker death, not an exception in the task",
                        severity="warning")
            return
        from scalable_tui.tui.screens.live_debug import ConfirmDebugScreen

        key = rec.task_id

        def answered(ok: bool | None) -> None:
            if ok:
                self._debug(key)

        self.push_screen(ConfirmDebugScreen(key, self._scheduler_address()), answered)

    @work(thread=True, exclusive=True, group="debug", name="fetch task", exit_on_error=False)
    def _debug(self, key: str) -> None:
        from scalable_tui.session.debug import DebugUnavailable, fetch_task

        address = self._scheduler_address()
        self.call_from_thread(self.notify, f"fetching {safe(key)} and its inputs…", timeout=3)
        try:
            job = fetch_task(address, key, getattr(self.session, "security", None))
        except DebugUnavailable as exc:
            self.call_from_thread(self.notify, f"cannot debug locally: {safe(exc)}", severity="error", timeout=12)
            return
        self.call_from_thread(self._replay, job)

    async def _replay(self, job: Any) -> None:
        from scalable_tui.tui.debug_terminal import debug_in_terminal

        try:
            msg = await debug_in_terminal(self, job)  # polling and recording go on while pdb is open
        except Exception as exc:  # noqa: BLE001 - e.g. no terminal to hand over (headless)
            try:
                job.client.close()
            except Exception:  # noqa: BLE001
                pass
            msg = f"cannot open the debugger here: {type(exc).__name__}: {exc}"
        self.notify(safe(msg), timeout=10)


    def _scheduler_address(self) -> str:
        return str(getattr(getattr(self.session, "source", None), "address", "") or "")

    # -- the palette: from the same table as the keys ------------------------------------
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        caps: Capabilities = self.view.caps
        for entry in screens_for(caps):
            keys = entry.keys.replace(",", " / ")
            help_ = entry.palette or f"Switch to the {entry.label} screen"
            yield SystemCommand(f"Go to {entry.label}", f"{help_} ({keys})", lambda m=entry.mode: self.switch_mode(m))
        yield SystemCommand("Copy", "Copy the current traceback or finding (c)", self.action_copy)
        yield SystemCommand("Export findings", "Write the findings as Markdown or JSON (e)", self.action_export)
        if offers_group(screen):
            for key, what, label, tip in GROUP_COPIES:
                yield SystemCommand(label, f"{tip.capitalize()} ({key})", lambda w=what: self.action_copy_group(w))
        yield SystemCommand(
            "Toggle light/dark theme", f"Switch between {self.DARK_THEME} and {self.LIGHT_THEME} (ctrl+t or T)", self.action_toggle_theme
        )
        if isinstance(screen, FilterableScreen):
            yield SystemCommand("Filter this list", "Substring or /regex/, matches highlighted (/)", screen.action_filter)
            yield SystemCommand("Toggle faults only", f"{screen.FAULTS_LABEL.capitalize()} (f)", screen.action_toggle_faults)
        sort_next = getattr(screen, "action_sort_next", None)
        if is_screen(screen, "tasks:TasksScreen") or (caps.live and sort_next is not None):
            yield SystemCommand("Sort by next column", "(s; r reverses)", sort_next)
        if isinstance(screen, RunScreen) and screen.can_explain():
            yield SystemCommand(
                "Explain with AI",
                "Ask the model to explain the selected finding (x); shows exactly what would be sent first",
                screen.action_explain,
            )
        if self.ai_busy() is not None:
            yield SystemCommand("Cancel the AI request", "Stop asking the model (Esc)", self.cancel_ai)
        if caps.polls_jobs:
            yield SystemCommand("Ask Slurm now", "Poll squeue now instead of waiting (R on Jobs)", self.refresh_jobs)
        if caps.live and not caps.has_timeline:
            yield SystemCommand("Reconnect now", "Poll the scheduler now instead of waiting for the backoff",
                                self.action_reconnect)
        if caps.can_debug:
            yield SystemCommand("Debug a failure locally",
                                "Replay the selected failed task here under pdb (D; fetches its inputs, asks first)",
                                self.action_debug_locally)
        if caps.has_timeline:
            yield SystemCommand("Play / pause", "Play the recording at the chosen speed (p; + and - change it)",
                                self.action_play)
            yield SystemCommand("Next failure", "Jump to the next failed task (n; N: previous)",
                                lambda: self.action_jump("failure", 1))
            yield SystemCommand("Next worker death", "Jump to the next worker death (k; K: previous)",
                                lambda: self.action_jump("death", 1))


def ReviewApp(  # noqa: N802 - the door's name for the app over a run directory
    source: RunSource | None = None,
    *,
    runs: list[Path] | None = None,
    stale_after_s: float | None = None,
    no_ai: bool = False,
    ai_config: "AIConfig | None" = None,
    now: Callable[[], float] = time.time,
    poll_interval: float = 1.0,
    source_factory: Callable[[Path], RunSource] | None = None,
    slurm: str = "off",
) -> ScalableApp:
    """``scalable-tui review RUN_DIR``: the app over a ``ReviewSession`` (or the run picker first)."""
    session = None if source is None else ReviewSession(source, stale_after_s=stale_after_s, slurm=slurm, now=now,
                                                          poll_interval=poll_interval)
    return ScalableApp(session, runs=runs, stale_after_s=stale_after_s, no_ai=no_ai, ai_config=ai_config, now=now,
                       source_factory=source_factory, slurm=slurm, poll_interval=poll_interval)

"""``AttachApp``: the review app's look and keys, fed by a running Dask scheduler.

Data flow: an async Textual worker owns the ``LiveSource`` in the app's own
event loop (every scheduler call is bounded by a timeout, so a stopped or dead
scheduler never blocks the UI) and stores each ``LiveSnapshot`` in
``app.live``; the Overview, Workers, Tasks and Events screens render that on
every poll.  When failures, events or jobs change (or, while a job is
PENDING, when only the clock moved), a thread worker runs the session
pipeline (``scalable_tui.session.diagnose_live``) and builds the
``RunSnapshot`` that the review app's Failures and Findings screens render.  The monitor is read-only: it never submits work or holds
futures; the only thing it adds to the scheduler is the small read-only
monitoring plugin of ``sources.live``.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from typing import Any, Callable, Iterable

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen

from scalable_tui.tui.app import COMMON_KEYS, REVIEW_SCREEN_KEYS, ReviewApp, screen_key
from scalable_tui.tui.fmt import safe
from scalable_tui.session.monitor import LiveViews, MonitorSession
from scalable_tui.session.view import ViewModel
from scalable_tui.tui.messages import RefreshJobs, SessionNotice, StateUpdated
from scalable_tui.tui.screens.base import RunScreen
from scalable_tui.tui.screens.failures import FailureDetailScreen, FailureGroupScreen, FailuresScreen
from scalable_tui.tui.screens.findings import FindingsScreen
from scalable_tui.tui.screens.live_jobs import LiveJobsScreen
from scalable_tui.tui.screens.live_screens import (
    LiveEventsScreen,
    LiveOverviewScreen,
    LiveTasksScreen,
    LiveWorkersScreen,
)
from scalable_tui.tui.widgets.status import StatusLine
from scalable_tui.model.live import LiveSnapshot

LIVE_SCREENS_HELP = (
    ("overview", "1 / o", "Overview"),
    ("tasks", "2 / t", "Tasks"),
    ("failures", "3 / f", "Failures"),
    ("findings", "4 / i", "Findings"),
    ("workers", "5 / w", "Workers"),
    ("events", "6 / v", "Events"),
    ("jobs", "7 / j", "Jobs"),
)


from scalable_tui.session.monitor import build_live_snapshot, live_key  # noqa: E402,F401 - re-exported
from scalable_tui.session.view import live_status  # noqa: E402,F401 - re-exported


class AttachApp(ReviewApp, inherit_bindings=False):
    """``scalable-tui attach``: live Workers, Tasks, Failures, Findings and Events of one scheduler."""

    TITLE = "scalable-tui attach"
    MODES = {
        "overview": LiveOverviewScreen,
        "tasks": LiveTasksScreen,
        "failures": FailuresScreen,
        "findings": FindingsScreen,
        "workers": LiveWorkersScreen,
        "events": LiveEventsScreen,
        "jobs": LiveJobsScreen,
    }
    DEFAULT_MODE = "overview"
    # Restated in full (``inherit_bindings=False``): the footer groups the
    # screen keys only when they are adjacent, and inherited keys come first.
    BINDINGS = [
        *App.BINDINGS,
        *REVIEW_SCREEN_KEYS,
        screen_key("6,v", "events", "Events"),
        screen_key("7,j", "jobs", "Jobs"),
        *COMMON_KEYS,
        Binding("D", "debug_locally", "Debug locally", show=False),
    ]

    def __init__(
        self,
        address: str | None = None,
        *,
        session: LiveViews | None = None,
        source: Any = None,
        security: Any = None,
        poll_interval: float = 2.0,
        call_timeout: float | None = None,
        no_ai: bool = False,
        ai_config: Any = None,
        title: str | None = None,
        job_source: Any = None,
        jobs_interval: float = 20.0,
        slurm_log_dir: Any = None,
        jobs_off_reason: str | None = None,
        recorder: Any = None,
        now: Callable[[], float] = time.time,
        rediagnose_every: float = 30.0,
        alerts: Any = None,
    ) -> None:
        if session is not None:
            source = session
        elif source is None:
            from scalable_tui.sources.live.source import LiveSource

            source = LiveSource(address or "", security=security, poll_interval=poll_interval,
                                call_timeout=call_timeout, max_backoff=max(5.0, 4 * poll_interval))
        super().__init__(source, no_ai=no_ai, ai_config=ai_config, poll_interval=poll_interval, now=now)
        #: Seconds between re-diagnoses while a time-based finding may still appear (MonitorSession.tick).
        self.rediagnose_every = rediagnose_every
        self.live_source = source
        self.security = security
        if title:
            self.title = title
        #: The headless monitor: live source, Slurm jobs, recorder, alerts, debounced diagnosis.
        self.session: LiveViews = session if session is not None else MonitorSession(
            source, job_source=job_source, jobs_interval=jobs_interval, slurm_log_dir=slurm_log_dir,
            jobs_off_reason=jobs_off_reason, recorder=recorder, now=now, alerts=alerts, security=security)
        self.view = self.session.view

    # -- what the screens read (the session's latest view model) ------------------------------
    @property
    def live(self) -> LiveSnapshot | None:
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
    def job_source(self) -> Any:
        return self.session.job_source

    @property
    def jobs_off_reason(self) -> str | None:
        return self.view.jobs_off_reason

    @property
    def recorder(self) -> Any:
        return self.session.recorder

    @property
    def recorded(self) -> int:
        return self.session.recorded

    # -- the session (its loop in an async worker; its threads post view models) -------------
    def start_reading(self, source: Any) -> None:  # called by ReviewApp.on_mount
        self.snapshot = None
        self.load_error = None
        session = self.session
        self.sub_title = safe(session.view.subtitle)
        session.on_view = lambda view: self.post_message(StateUpdated(view))
        session.on_notice = lambda notice: self.post_message(SessionNotice(notice))
        if isinstance(session, MonitorSession):
            self._follow()
            self.set_interval(self.rediagnose_every, session.tick, name="time-based findings")
        session.start()

    def time_sensitive(self) -> bool:
        return self.session.time_sensitive()

    @work(exclusive=True, group="live", name="live source", exit_on_error=False)
    async def _follow(self) -> None:
        assert isinstance(self.session, MonitorSession)
        await self.session.follow()

    def on_session_notice(self, message: SessionNotice) -> None:
        n = message.notice
        self.notify(safe(n.text), title=n.title, severity=n.severity, timeout=n.timeout)  # type: ignore[arg-type]

    def on_unmount(self) -> None:
        super().on_unmount()
        self.session.close()

    def render_view(self, old: ViewModel, new: ViewModel) -> None:
        """Sync what changed: the diagnosis (Failures, Findings), the poll (live screens), the jobs.

        One sync per view model, however many parts changed (updates are merged)."""
        run_changed = new.run is not None and new.run is not old.run
        if run_changed:
            self.snapshot = new.run
            self.updates += 1
            self.sub_title = safe(new.run.run_id)  # type: ignore[union-attr]
        error_changed = new.error != old.error
        if error_changed:
            self.load_error = new.error
        if not self.screen_stack:
            return  # a diagnosis thread may emit while the app is closing
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
            elif new.jobs_version != old.jobs_version and isinstance(screen, LiveJobsScreen):
                screen.sync()
        except NoMatches:
            pass  # a screen still mounting: the next poll shows it
        except Exception as exc:  # noqa: BLE001 - shown; never stop following the scheduler
            self.report_screen_error("live update", exc)

    def _sync_screen(self) -> bool:
        if self.screen_stack and isinstance(self.screen, RunScreen):
            self.screen.sync()
            return True
        return False

    def refresh_jobs(self) -> None:
        """Ask Slurm now instead of at the next interval."""
        self.session.refresh_jobs()

    def on_refresh_jobs(self, message: RefreshJobs) -> None:
        self.refresh_jobs()

    # -- keys ----------------------------------------------------------------------
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Go to Events", "Switch to the Events screen (6 / v)", lambda: self.switch_mode("events"))
        yield SystemCommand("Go to Jobs", "Slurm jobs behind the workers (7 / j)", lambda: self.switch_mode("jobs"))
        if self.view.caps.polls_jobs:
            yield SystemCommand("Ask Slurm now", "Poll squeue now instead of waiting (R on Jobs)", self.refresh_jobs)
        if isinstance(screen, (LiveWorkersScreen, LiveEventsScreen, LiveJobsScreen)):
            yield SystemCommand("Sort by next column", "(s; r reverses)", screen.action_sort_next)
        yield SystemCommand("Reconnect now", "Poll the scheduler now instead of waiting for the backoff",
                            self.action_reconnect)
        yield SystemCommand("Debug a failure locally",
                            "Replay the selected failed task here under pdb (D; fetches its inputs, asks first)",
                            self.action_debug_locally)

    def action_reconnect(self) -> None:
        self.session.reconnect()

    # -- debug a failure locally -----------------------------------------------------
    def _selected_failure(self) -> Any:
        screen = self.screen
        if isinstance(screen, FailureDetailScreen):
            return screen.record
        if isinstance(screen, FailureGroupScreen):
            table = screen.list_table()
            if table.row_count and screen.records:
                return screen.records[min(table.cursor_row, len(screen.records) - 1)]
        return None

    def action_debug_locally(self) -> None:
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

        self.push_screen(ConfirmDebugScreen(key, getattr(self.live_source, "address", "")), answered)

    @work(thread=True, exclusive=True, group="debug", name="fetch task", exit_on_error=False)
    def _debug(self, key: str) -> None:
        from scalable_tui.session.debug import DebugUnavailable, fetch_task

        address = getattr(self.live_source, "address", "")
        self.call_from_thread(self.notify, f"fetching {safe(key)} and its inputs…", timeout=3)
        try:
            job = fetch_task(address, key, self.security)
        except DebugUnavailable as exc:
            self.call_from_thread(self.notify, f"cannot debug locally: {safe(exc)}", severity="error", timeout=12)
            return
        self.call_from_thread(self._replay, job)

    async def _replay(self, job: Any) -> None:
        try:
            msg = await debug_in_terminal(self, job)  # polling and recording go on while pdb is open
        except Exception as exc:  # noqa: BLE001 - e.g. no terminal to hand over (headless)
            try:
                job.client.close()
            except Exception:  # noqa: BLE001
                pass
            msg = f"cannot open the debugger here: {type(exc).__name__}: {exc}"
        self.notify(safe(msg), timeout=10)


async def debug_in_terminal(app: Any, job: Any, post_mortem: Any = None) -> str:
    """Give the terminal to the replay and pdb, and keep the app monitoring meanwhile.

    ``app.suspend()`` releases the terminal (no key reading, the alternate
    screen left); ``app.batch_update()`` holds every repaint until pdb quits,
    so nothing the live source changes meanwhile is drawn over pdb's prompt.
    The replay runs on a thread (``asyncio.to_thread``): the event loop, and
    with it the poll loop, the recorder and the diagnosis, keeps running.
    Ctrl+C in the cooked terminal would interrupt the event loop, not pdb:
    SIGINT is ignored for the session (``q`` quits pdb).  Raises
    ``SuspendNotSupported`` when there is no terminal to hand over.
    """
    main = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        with app.batch_update(), app.suspend():
            from scalable_tui.session.debug import replay

            return await asyncio.to_thread(replay, job, post_mortem)
    finally:
        if main:
            signal.signal(signal.SIGINT, old if old is not None else signal.default_int_handler)

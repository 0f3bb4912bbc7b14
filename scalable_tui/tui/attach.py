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

import dataclasses
import threading
import time
from typing import Any, Callable, Iterable

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen

from scalable_tui.tui.app import COMMON_KEYS, REVIEW_SCREEN_KEYS, ReviewApp, screen_key
from scalable_tui.tui.data import RunSnapshot, build_snapshot
from scalable_tui.tui.fmt import safe
from scalable_tui.tui.messages import StateUpdated
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


class _Holder:
    """The latest live snapshot, shared with the diagnosed snapshots (status line, task count)."""

    __slots__ = ("live",)

    def __init__(self) -> None:
        self.live: LiveSnapshot | None = None


@dataclasses.dataclass(slots=True)
class LiveRunSnapshot(RunSnapshot):
    """A ``RunSnapshot`` whose status line is the link to the scheduler."""

    holder: _Holder | None = None

    def status_line(self, now: float) -> tuple[str, str]:
        live = self.holder.live if self.holder is not None else None
        if live is None:
            return "connecting…", "live"
        return live_status(live, now)


def live_status(live: LiveSnapshot, now: float) -> tuple[str, str]:
    """(text, kind) for the footer: kind ``live`` (connected), ``abandoned`` (disconnected), ``finished``."""
    if live.closed:
        return "closed (final state shown)", "finished"
    if live.connected:
        text = f"connected to {live.address}"
        if live.last_poll_ok:
            text += f" (polled {max(0.0, now - live.last_poll_ok):.0f}s ago)"
        if live.link == "slow":  # one late reply: not an alarm yet (two in a row are)
            text += "  ·  slow: the last poll got no reply in time; waiting longer"
        if live.mode != "plugin":
            text += "  ·  limited: monitoring plugin not installed (see Overview)"
        return text, "live"
    if live.disconnected_since is None:
        return f"connecting to {live.address}…", "live"
    text = live.status_line() + "  ·  last data kept"
    if live.retry_at:
        text += f"  ·  retry in {max(0.0, live.retry_at - now):.0f}s"
    return text, "abandoned"


def live_key(live: LiveSnapshot) -> tuple[Any, ...]:
    """What the diagnosis depends on: a new key means diagnose again."""
    return (live.scheduler_id, live.failures_total, len(live.failures), sum(f.occurrences for f in live.failures),
            live.events_total, live.connected, live.closed)


def build_live_snapshot(
    live: LiveSnapshot, version: int, holder: _Holder, now: float | None = None, *,
    jobs: Any = None, log_dir: Any = None,
) -> LiveRunSnapshot:
    """The session pipeline's diagnosis of ``live`` as the screens' snapshot (runs in a thread worker).

    ``jobs``: the Slurm jobs seen (polled, or stored in a recording), joined by the pipeline.
    """
    from scalable_tui.session import diagnose_live

    now = time.time() if now is None else now
    state, diag = diagnose_live(live, jobs=jobs, log_dir=log_dir, now=now)
    snap = build_snapshot(state, diag, version, stale_after_s=None, now=now)
    values = {f.name: getattr(snap, f.name) for f in dataclasses.fields(RunSnapshot)}
    if live.scheduler_id:  # "Scheduler-1d171a36" (header, status line, export file name)
        values["meta"] = dataclasses.replace(snap.meta, run_id=live.scheduler_id[:18])
    out = LiveRunSnapshot(**values, holder=holder)
    out.live = True  # the status line ticks (poll age, retry countdown)
    return out


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
        if source is None:
            from scalable_tui.sources.live.source import LiveSource

            source = LiveSource(address or "", security=security, poll_interval=poll_interval,
                                call_timeout=call_timeout, max_backoff=max(5.0, 4 * poll_interval))
        super().__init__(source, no_ai=no_ai, ai_config=ai_config, poll_interval=poll_interval, now=now)
        #: Seconds between re-diagnoses while a time-based finding may still appear (see _time_tick).
        self.rediagnose_every = rediagnose_every
        self.live_source = source
        self.security = security
        #: The latest LiveSnapshot (every poll), and how many arrived (tests wait on it).
        self.live: LiveSnapshot | None = None
        self.live_version = 0
        self._holder = _Holder()
        self._diag_lock = threading.Lock()
        self._diag_pending: LiveSnapshot | None = None
        self._diag_running = False
        self._diag_key: tuple[Any, ...] | None = None
        self._diag_version = 0
        self._warned_versions = False
        self._was_connected: bool | None = None
        if title:
            self.title = title
        #: Slurm (or another batch scheduler): a ``JobSource`` polled every ``jobs_interval`` s in a thread.
        self.job_source = job_source
        self.jobs_interval = max(1.0, float(jobs_interval))
        self.slurm_log_dir = slurm_log_dir
        self.jobs_off_reason = jobs_off_reason or ("" if job_source is not None else "squeue not on PATH (--slurm force)")
        #: The latest JobsSnapshot / WorkerJobMap, and how many arrived (tests wait on it).
        self.jobs: Any = None
        self.job_map: Any = None
        self.jobs_version = 0
        self._jobs_wake = threading.Event()
        self._jobs_poll_now = False
        self._jobs_workers: frozenset[tuple[str, str | None]] = frozenset()
        self._jobs_key: Any = None
        #: ``attach --record FILE``: a RecordingWriter fed every snapshot, on
        #: its own thread so an fsync never stalls the UI (order is kept).
        self.recorder = recorder
        self._record_pool: Any = None
        if recorder is not None:
            from concurrent.futures import ThreadPoolExecutor

            self._record_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recorder")
        self.recorded = 0
        #: ``--notify`` / ``--on-finding``: a ``session.live_alerts.LiveAlerts`` fed every poll and diagnosis.
        self.alerts = alerts

    # -- the live source (async worker in the app's loop) ---------------------------
    def start_reading(self, source: Any) -> None:  # called by ReviewApp.on_mount
        self.snapshot = None
        self.load_error = None
        self.sub_title = safe(getattr(source, "address", ""))
        self._follow()
        if self.job_source is not None:
            self._poll_jobs()
        self.set_interval(self.rediagnose_every, self._time_tick, name="time-based findings")

    def _time_tick(self) -> None:
        """Diagnose again when only the clock moved, while a time-based finding may still appear.

        Findings are otherwise recomputed when the scheduler's data or the jobs
        change; a job stuck PENDING changes nothing, so its finding would never
        show in a long attach.  Cheap: only while such a job exists, and merged
        with any diagnosis already queued (``_diagnose_soon``).
        """
        if self.live is not None and self.time_sensitive():
            self._diagnose_soon(self.live)

    def time_sensitive(self) -> bool:
        """Could a finding appear from the clock alone?  (A batch job still PENDING.)"""
        jobs = self.jobs
        return jobs is not None and any(j.is_pending and not j.gone for j in jobs.jobs)

    @work(exclusive=True, group="live", name="live source", exit_on_error=False)
    async def _follow(self) -> None:
        src = self.live_source
        try:
            self._got_live(await src.start())
            async for snap in src:
                self._got_live(snap)
        finally:
            try:
                await src.close()
            except Exception:  # noqa: BLE001 - leaving anyway
                pass

    def _record(self, live: LiveSnapshot) -> None:
        try:
            self.recorder.write(live)
            self.recorded += 1
        except Exception as exc:  # noqa: BLE001 - a full disk must not stop the monitor
            self.call_from_thread(self.notify, f"recording stopped: {type(exc).__name__}: {exc}",
                                  severity="error", timeout=30)
            self.recorder = None

    def on_unmount(self) -> None:
        super().on_unmount()
        if self._record_pool is not None:
            self._record_pool.shutdown(wait=True)
            if self.recorder is not None:
                self.recorder.close("monitor closed")
        if self.alerts is not None:
            self.alerts.close(wait=5.0)  # a running --on-finding command: do not hold the exit long

    def _got_live(self, live: LiveSnapshot) -> None:
        if self._record_pool is not None and self.recorder is not None and live.last_poll_ok:
            self._record_pool.submit(self._record, live)
        self.live = live
        self.live_version += 1
        self._holder.live = live
        if live.version_warning and not self._warned_versions:
            self._warned_versions = True
            self.notify(safe(live.version_warning), title="version skew", severity="warning", timeout=20)
        if self._was_connected is not None and live.connected != self._was_connected and not live.closed:
            if live.connected:
                self.notify("connected to the scheduler again", timeout=4)
            else:
                self.notify(safe(live.status_line()), title="scheduler", severity="error", timeout=8)
        self._was_connected = live.connected
        if self.alerts is not None:
            self.alerts.frame(live)  # new problems since the last poll: bell + notification, --on-finding
        if self.job_source is not None:
            workers = frozenset((w.name, w.host) for w in live.alive_workers)
            if workers != self._jobs_workers:
                self._jobs_workers = workers
                self._jobs_wake.set()  # re-map (no squeue call) when workers come and go
        key = live_key(live)
        if key != self._diag_key:
            self._diag_key = key
            self._diagnose_soon(live)
        try:
            screen = self.screen
            sync = getattr(screen, "sync", None)
            if getattr(screen, "render_live", None) is not None and sync is not None:
                sync()
            else:
                for sl in screen.query(StatusLine):
                    sl.update_status()
        except NoMatches:
            pass  # a screen still mounting: the next poll shows it
        except Exception as exc:  # noqa: BLE001 - shown; never stop following the scheduler
            self.report_screen_error("live update", exc)

    def _diagnose_soon(self, live: LiveSnapshot) -> None:
        with self._diag_lock:
            self._diag_pending = live
            if self._diag_running:
                return  # the running worker picks the newest one up when done
            self._diag_running = True
        self._diagnose()

    @work(thread=True, group="diagnose", name="live diagnosis", exit_on_error=False)
    def _diagnose(self) -> None:
        while True:
            with self._diag_lock:
                live = self._diag_pending
                self._diag_pending = None
                if live is None:
                    self._diag_running = False
                    return
            self._diag_version += 1
            try:
                snap = self._diagnosed(live, self._diag_version)
            except Exception as exc:  # noqa: BLE001 - shown, never a crash
                self.call_from_thread(self.notify, f"diagnosis failed: {type(exc).__name__}: {safe(exc)}",
                                      severity="error")
                continue
            if self.alerts is not None:
                self.alerts.diagnosis(snap.diagnosis)
            self.post_message(StateUpdated(snap))

    def _diagnosed(self, live: LiveSnapshot, version: int) -> Any:
        """The snapshot the diagnosis worker posts for ``live`` (replay: as of the moment shown)."""
        return build_live_snapshot(live, version, self._holder, now=self.now(), jobs=self.jobs,
                                   log_dir=self.slurm_log_dir)

    # -- batch-scheduler jobs (thread worker; squeue blocks) ------------------------------

    def refresh_jobs(self) -> None:
        """Ask Slurm now instead of at the next interval."""
        self._jobs_poll_now = True
        self._jobs_wake.set()

    @work(thread=True, exclusive=True, group="jobs", name="slurm jobs", exit_on_error=False)
    def _poll_jobs(self) -> None:
        from textual.worker import get_current_worker

        worker = get_current_worker()
        src = self.job_source
        snap = None
        next_poll = 0.0
        while not worker.is_cancelled:
            now = time.monotonic()
            polled = False
            if now >= next_poll or self._jobs_poll_now:
                self._jobs_poll_now = False
                try:
                    snap = src.poll()  # never raises by contract; guarded anyway
                except Exception as exc:  # noqa: BLE001 - shown, never fatal
                    from scalable_tui.model.jobs import JobsSnapshot

                    old = snap
                    snap = JobsSnapshot(jobs=list(old.jobs) if old else [], status="down",
                                        message=f"{type(exc).__name__}: {exc}", polled_at=time.time(),
                                        last_ok=old.last_ok if old else None)
                next_poll = time.monotonic() + self.jobs_interval
                polled = True
            if snap is not None and not worker.is_cancelled:
                wm = None
                live = self.live
                try:
                    from scalable_tui.model.jobs import WorkerSeen

                    seen = [WorkerSeen(w.name, host=w.host, address=w.address, first_seen=w.first_seen)
                            for w in (live.alive_workers if live is not None else [])]
                    if live is not None and live.scheduler_address and hasattr(src, "add_cluster_address"):
                        src.add_cluster_address(live.scheduler_address)  # the scheduler's own address too
                    wm = src.map_workers(snap, seen)
                except Exception:  # noqa: BLE001 - no mapping this time
                    wm = None
                try:
                    self.call_from_thread(self._got_jobs, snap, wm, polled)
                except Exception:  # noqa: BLE001 - the app is closing
                    return
            # sleep until the next poll, a re-map request or cancellation (checked twice a second)
            while not worker.is_cancelled:
                left = next_poll - time.monotonic()
                if left <= 0 or self._jobs_wake.wait(min(0.5, left)):
                    break
            self._jobs_wake.clear()

    def _got_jobs(self, snap: Any, wm: Any, polled: bool) -> None:
        if polled and self._record_pool is not None and self.recorder is not None: self._record_pool.submit(self.recorder.write_jobs, snap)  # noqa: E501,E701 - attach --record: Slurm jobs too
        self.jobs = snap
        self.job_map = wm
        self.jobs_version += 1
        # new Slurm facts (states, reasons, departures joined): diagnose again
        key = tuple((j.job_id, j.state, j.reason, j.gone) for j in snap.jobs)
        if key != self._jobs_key and self.live is not None:
            self._jobs_key = key
            self._diagnose_soon(self.live)
        if polled and snap.status == "down" and getattr(self, "_jobs_warned", None) != snap.status:
            self.notify(safe(f"Slurm: {snap.message or 'slurmctld unreachable'}"), title="Slurm",
                        severity="warning", timeout=8)
        self._jobs_warned = snap.status
        try:
            screen = self.screen
            if isinstance(screen, LiveJobsScreen):
                screen.sync()
        except NoMatches:
            pass  # a screen still mounting
        except Exception as exc:  # noqa: BLE001 - shown; the jobs poll goes on
            self.report_screen_error("jobs update", exc)

    # -- keys ----------------------------------------------------------------------
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Go to Events", "Switch to the Events screen (6 / v)", lambda: self.switch_mode("events"))
        yield SystemCommand("Go to Jobs", "Slurm jobs behind the workers (7 / j)", lambda: self.switch_mode("jobs"))
        if self.job_source is not None:
            yield SystemCommand("Ask Slurm now", "Poll squeue now instead of waiting (R on Jobs)", self.refresh_jobs)
        if isinstance(screen, (LiveWorkersScreen, LiveEventsScreen, LiveJobsScreen)):
            yield SystemCommand("Sort by next column", "(s; r reverses)", screen.action_sort_next)
        yield SystemCommand("Reconnect now", "Poll the scheduler now instead of waiting for the backoff",
                            self.action_reconnect)
        yield SystemCommand("Debug a failure locally",
                            "Replay the selected failed task here under pdb (D; fetches its inputs, asks first)",
                            self.action_debug_locally)

    def action_reconnect(self) -> None:
        refresh = getattr(self.live_source, "refresh_soon", None)
        if refresh is not None:
            refresh()

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
        from scalable_tui.tui.screens.live_debug import DebugUnavailable, fetch_task

        address = getattr(self.live_source, "address", "")
        self.call_from_thread(self.notify, f"fetching {safe(key)} and its inputs…", timeout=3)
        try:
            job = fetch_task(address, key, self.security)
        except DebugUnavailable as exc:
            self.call_from_thread(self.notify, f"cannot debug locally: {safe(exc)}", severity="error", timeout=12)
            return
        self.call_from_thread(self._replay, job)

    async def _replay(self, job: Any) -> None:
        from scalable_tui.tui.screens.live_debug import debug_in_terminal

        try:
            msg = await debug_in_terminal(self, job)  # polling and recording go on while pdb is open
        except Exception as exc:  # noqa: BLE001 - e.g. no terminal to hand over (headless)
            try:
                job.client.close()
            except Exception:  # noqa: BLE001
                pass
            msg = f"cannot open the debugger here: {type(exc).__name__}: {exc}"
        self.notify(safe(msg), timeout=10)

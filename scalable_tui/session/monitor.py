"""``MonitorSession``: a running Dask scheduler, its batch jobs, an optional recorder.

Used by ``attach`` and the demo.  Headless (no Textual): the door awaits
``follow()`` in its event loop (every scheduler call is bounded by a timeout,
so a dead scheduler never blocks it) and renders the ``ViewModel`` passed to
``on_view`` (called from any thread; the app posts it as a message and renders
only the latest).  When failures, events or jobs change, or while a job is
PENDING only the clock moved (``tick``), a background thread re-diagnoses
through the pipeline; requests arriving meanwhile are merged into one.

The monitor is read-only: it never submits work or holds futures.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from scalable_tui.model.jobs import JobsSnapshot
from scalable_tui.model.live import LiveSnapshot
from scalable_tui.session.efficiency import WorkerUsage
from scalable_tui.session.slurm_join import map_live_workers
from scalable_tui.session.snapshot import RunSnapshot, build_snapshot
from scalable_tui.session.view import Capabilities, Notice, ViewModel, failure_basis, live_key

__all__ = ["LiveViews", "MonitorSession", "build_live_snapshot", "live_key"]


def build_live_snapshot(
    live: LiveSnapshot, version: int, now: float | None = None, *, jobs: Any = None, log_dir: Any = None,
) -> RunSnapshot:
    """The pipeline's diagnosis of ``live`` as the screens' run snapshot (runs off the UI thread).

    ``jobs``: the Slurm jobs seen (polled, or stored in a recording), joined by the pipeline.
    """
    from scalable_tui.session.pipeline import diagnose_live

    now = time.time() if now is None else now
    state, diag = diagnose_live(live, jobs=jobs, log_dir=log_dir, now=now)
    snap = build_snapshot(state, diag, version, stale_after_s=None, now=now)
    snap.basis = failure_basis(live)
    if live.scheduler_id:  # "Scheduler-1d171a36" (header, status line, export file name)
        snap.meta = dataclasses.replace(snap.meta, run_id=live.scheduler_id[:18])
    return snap


class LiveViews:
    """What a monitor and a replay share: the latest view model, and a debounced diagnosis thread."""

    caps = Capabilities(live=True)
    #: What a monitor polls and writes (a replay has none of it).
    job_source: Any = None
    recorder: Any = None
    recorded = 0

    def __init__(self) -> None:
        #: Called with every new view model (from the loop or a worker thread).
        self.on_view: Callable[[ViewModel], None] = lambda view: None
        #: Called with what the user must be told once.
        self.on_notice: Callable[[Notice], None] = lambda notice: None
        self._lock = threading.RLock()
        self.view = ViewModel(caps=self.caps)
        self._diag_lock = threading.Lock()
        self._diag_pending: LiveSnapshot | None = None
        self._diag_running = False
        self._diag_key: tuple[Any, ...] | None = None
        self.diag_version = 0
        self.closed = threading.Event()

    # -- the view model ----------------------------------------------------------------
    def update(self, **changes: Any) -> ViewModel:
        """A new view model with ``changes``, emitted.

        Emitted under the lock, so views leave in the order they were made:
        emitted after it, a diagnosis thread's view (made from the moment
        before a replay's seek) could follow the seek's own, and the screens
        then showed the earlier moment, for good on a paused replay.
        ``on_view`` must not block (the apps post a message).
        """
        with self._lock:
            self.view = view = self.view.with_(**changes)
            self.on_view(view)
        return view

    @property
    def live(self) -> LiveSnapshot | None:
        return self.view.live

    # -- the diagnosis ------------------------------------------------------------------
    def diagnose_soon(self, live: LiveSnapshot) -> None:
        """Diagnose ``live`` in the background; merged with a diagnosis already queued."""
        with self._diag_lock:
            self._diag_pending = live
            if self._diag_running:
                return  # the running thread picks the newest one up when done
            self._diag_running = True
        threading.Thread(target=self._diagnose_loop, name="live diagnosis", daemon=True).start()

    def _diagnose_loop(self) -> None:
        while True:
            with self._diag_lock:
                live = self._diag_pending
                self._diag_pending = None
                if live is None or self.closed.is_set():
                    self._diag_running = False
                    return
            self.diag_version += 1
            try:
                snap = self.diagnosed(live, self.diag_version)
            except Exception as exc:  # noqa: BLE001 - shown, never a crash
                self.on_notice(Notice(f"diagnosis failed: {type(exc).__name__}: {exc}", severity="error"))
                # the Overview said "diagnosing…" for this view: it must not go on saying so
                self.update(diagnosis_failed=failure_basis(live))
                continue
            self.after_diagnosis(snap)
            self.update(run=snap, diagnosis_failed=None)

    def efficiency(self) -> Any:
        """Each worker group's memory limit and threads vs what its workers reported since attach."""
        live = self.live
        return self.usage.report(str((live.scheduler_id if live else None) or getattr(self.source, "address", "")))

    def diagnosed(self, live: LiveSnapshot, version: int) -> RunSnapshot:
        raise NotImplementedError

    def after_diagnosis(self, snap: RunSnapshot) -> None:
        """A new diagnosis is about to be shown (alerts)."""

    # -- what a door may ask of any live session (no-ops unless it polls something) --------------
    def start(self) -> None:
        """Start the session's own threads."""

    def tick(self) -> None:
        """The clock moved (time-based findings)."""

    def time_sensitive(self) -> bool:
        return False

    def refresh_jobs(self) -> None:
        """Ask the batch scheduler now."""

    def reconnect(self) -> None:
        """Poll the scheduler now."""

    def close(self) -> None:
        self.closed.set()


class MonitorSession(LiveViews):
    """A live source polled in the door's loop, Slurm jobs polled in a thread, snapshots recorded."""

    def __init__(
        self,
        source: Any,
        *,
        job_source: Any = None,
        jobs_interval: float = 20.0,
        slurm_log_dir: Any = None,
        jobs_off_reason: str | None = None,
        recorder: Any = None,
        now: Callable[[], float] = time.time,
        alerts: Any = None,
        security: Any = None,
    ) -> None:
        self.caps = Capabilities(live=True, has_jobs=job_source is not None, can_debug=True,
                                 recording_to=str(recorder.path) if getattr(recorder, "path", None) is not None else None,
                                 polls_jobs=job_source is not None)
        super().__init__()
        self.source = source
        self.security = security
        self.now = now
        self.job_source = job_source
        self.jobs_interval = max(1.0, float(jobs_interval))
        self.slurm_log_dir = slurm_log_dir
        self.view = ViewModel(
            caps=self.caps, subtitle=str(getattr(source, "address", "") or ""),
            jobs_off_reason=jobs_off_reason or ("" if job_source is not None else "squeue not on PATH (--slurm force)"))
        self._warned_versions = False
        self._was_connected: bool | None = None
        self._jobs_wake = threading.Event()
        self._jobs_poll_now = False
        self._jobs_workers: frozenset[tuple[str, str | None]] = frozenset()
        self._jobs_key: Any = None
        self._jobs_warned: str | None = None
        self._jobs_thread: threading.Thread | None = None
        #: ``attach --record FILE``: a RecordingWriter fed every snapshot, on its own
        #: thread so an fsync never stalls the UI (order is kept).
        self.recorder = recorder
        self.record_pool: ThreadPoolExecutor | None = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="recorder") if recorder is not None else None)
        self.recorded = 0
        #: ``--notify`` / ``--on-finding``: a ``session.live_alerts.LiveAlerts`` fed every poll and diagnosis.
        self.alerts = alerts
        #: Worker memory/CPU since attach, for the Efficiency screen (aggregates; see ``session.efficiency``).
        self.usage = WorkerUsage()

    # -- the live source --------------------------------------------------------------------
    def start(self) -> None:
        """Start the jobs thread (the live source is followed by ``follow``)."""
        if self.job_source is not None and self._jobs_thread is None:
            self._jobs_thread = threading.Thread(target=self._poll_jobs, name="slurm jobs", daemon=True)
            self._jobs_thread.start()

    async def follow(self) -> None:
        src = self.source
        try:
            self.got_live(await src.start())
            async for snap in src:
                self.got_live(snap)
        finally:
            try:
                await src.close()
            except Exception:  # noqa: BLE001 - leaving anyway
                pass

    def reconnect(self) -> None:
        refresh = getattr(self.source, "refresh_soon", None)
        if refresh is not None:
            refresh()

    def _record(self, live: LiveSnapshot) -> None:
        try:
            self.recorder.write(live)
            self.recorded += 1
        except Exception as exc:  # noqa: BLE001 - a full disk must not stop the monitor
            self.on_notice(Notice(f"recording stopped: {type(exc).__name__}: {exc}", severity="error", timeout=30))
            self.recorder = None

    def got_live(self, live: LiveSnapshot) -> None:
        """One poll: record it, tell what changed, re-map jobs, diagnose when the data changed."""
        if self.record_pool is not None and self.recorder is not None and live.last_poll_ok:
            self.record_pool.submit(self._record, live)
        if live.version_warning and not self._warned_versions:
            self._warned_versions = True
            self.on_notice(Notice(live.version_warning, title="version skew", severity="warning", timeout=20))
        if self._was_connected is not None and live.connected != self._was_connected and not live.closed:
            if live.connected:
                self.on_notice(Notice("connected to the scheduler again", timeout=4))
            else:
                self.on_notice(Notice(live.status_line(), title="scheduler", severity="error", timeout=8))
        self._was_connected = live.connected
        if self.alerts is not None:
            self.alerts.frame(live)  # new problems since the last poll: bell + notification, --on-finding
        if live.last_poll_ok:
            self.usage.add(live)
        if self.job_source is not None:
            workers = frozenset((w.name, w.host) for w in live.alive_workers)
            if workers != self._jobs_workers:
                self._jobs_workers = workers
                self._jobs_wake.set()  # re-map (no squeue call) when workers come and go
        self.update(live=live, live_version=self.view.live_version + 1)
        key = live_key(live)
        if key != self._diag_key:
            self._diag_key = key
            self.diagnose_soon(live)

    def diagnosed(self, live: LiveSnapshot, version: int) -> RunSnapshot:
        snap = build_live_snapshot(live, version, now=self.now(), jobs=self.view.jobs, log_dir=self.slurm_log_dir)
        snap.live = True  # the status line ticks (poll age, retry countdown)
        return snap

    def after_diagnosis(self, snap: RunSnapshot) -> None:
        if self.alerts is not None:
            self.alerts.diagnosis(snap.diagnosis)

    def tick(self) -> None:
        """Diagnose again when only the clock moved, while a time-based finding may still appear.

        Findings are otherwise recomputed when the scheduler's data or the jobs
        change; a job stuck PENDING changes nothing, so its finding would never
        show in a long attach.  Cheap: only while such a job exists, and merged
        with any diagnosis already queued.
        """
        if self.live is not None and self.time_sensitive():
            self.diagnose_soon(self.live)

    def time_sensitive(self) -> bool:
        """Could a finding appear from the clock alone?  (A batch job still PENDING.)"""
        jobs = self.view.jobs
        return jobs is not None and any(j.is_pending and not j.gone for j in jobs.jobs)

    # -- batch-scheduler jobs (a thread: squeue blocks) -------------------------------------
    def refresh_jobs(self) -> None:
        """Ask Slurm now instead of at the next interval."""
        self._jobs_poll_now = True
        self._jobs_wake.set()

    def _poll_jobs(self) -> None:
        src = self.job_source
        snap = None
        next_poll = 0.0
        while not self.closed.is_set():
            now = time.monotonic()
            polled = False
            if now >= next_poll or self._jobs_poll_now:
                self._jobs_poll_now = False
                try:
                    snap = src.poll()  # never raises by contract; guarded anyway
                except Exception as exc:  # noqa: BLE001 - shown, never fatal
                    old = snap
                    snap = JobsSnapshot(jobs=list(old.jobs) if old else [], status="down",
                                        message=f"{type(exc).__name__}: {exc}", polled_at=time.time(),
                                        last_ok=old.last_ok if old else None)
                next_poll = time.monotonic() + self.jobs_interval
                polled = True
            if snap is not None and not self.closed.is_set():
                wm = None
                live = self.live
                try:
                    wm = map_live_workers(src, snap, live)
                except Exception:  # noqa: BLE001 - no mapping this time
                    wm = None
                self.got_jobs(snap, wm, polled)
            # sleep until the next poll, a re-map request or closing (checked twice a second)
            while not self.closed.is_set():
                left = next_poll - time.monotonic()
                if left <= 0 or self._jobs_wake.wait(min(0.5, left)):
                    break
            self._jobs_wake.clear()

    def got_jobs(self, snap: JobsSnapshot, wm: Any, polled: bool) -> None:
        if polled and self.record_pool is not None and self.recorder is not None:
            self.record_pool.submit(self.recorder.write_jobs, snap)  # attach --record: Slurm jobs too
        self.update(jobs=snap, job_map=wm, jobs_version=self.view.jobs_version + 1)
        # new Slurm facts (states, reasons, departures joined): diagnose again
        key = tuple((j.job_id, j.state, j.reason, j.gone) for j in snap.jobs)
        if key != self._jobs_key and self.live is not None:
            self._jobs_key = key
            self.diagnose_soon(self.live)
        if polled and snap.status == "down" and self._jobs_warned != snap.status:
            self.on_notice(Notice(f"Slurm: {snap.message or 'slurmctld unreachable'}", title="Slurm",
                                  severity="warning", timeout=8))
        self._jobs_warned = snap.status

    # -- the end ------------------------------------------------------------------------------
    def close(self, alerts_wait: float = 5.0) -> None:
        """Stop the threads; flush and close the recording."""
        self.closed.set()
        self._jobs_wake.set()
        if self.record_pool is not None:
            self.record_pool.shutdown(wait=True)
            if self.recorder is not None:
                self.recorder.close("monitor closed")
        if self.alerts is not None:
            self.alerts.close(wait=alerts_wait)  # a running --on-finding command: do not hold the exit long

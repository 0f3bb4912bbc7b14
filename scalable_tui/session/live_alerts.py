"""``LiveAlerts``: the policy (``session.alerts``) fed by a live monitor, delivered by ``session.notify``.

One object per ``attach`` / ``record`` session, hooked in at one place each:

* ``frame(snapshot)`` after every poll (the scheduler link and worker deaths
  are read from the snapshot; due batches are delivered here, so a held batch
  goes out at the first poll after the rate limit allows it);
* ``diagnosis(diag)`` whenever the monitor diagnosed: ``attach`` passes the
  diagnosis its screens show.  ``record`` has none of its own, so with
  ``diagnose=True`` this object diagnoses through the session pipeline on a
  background thread when the failures changed (newest snapshot wins; the poll
  loop never waits for it);
* ``jobs(snapshot)`` after every batch-job poll (``record``): the diagnosis
  joins the jobs as ``attach``'s does (``pipeline.diagnose_live(jobs=...)``), so
  a walltime kill or an OOM-killed job alerts on both doors, not only in attach.

Thread-safe: ``diagnosis`` may come from a worker thread; deliveries happen in
the caller of ``frame`` / ``close``.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from scalable_tui.session.alerts import AlertPolicy, Batcher
from scalable_tui.session.notify import Delivery
from scalable_tui.session.view import live_key

__all__ = ["LiveAlerts"]

Sink = Callable[[Delivery], None]


def _jobs_key(jobs: Any, now: float) -> tuple[Any, ...]:
    """What the jobs add to the diagnosis key (as ``MonitorSession.got_jobs``); while a job is PENDING the
    clock alone may raise a finding, so the minute counts too (as ``MonitorSession.tick``)."""
    if jobs is None:
        return ()
    key = tuple((j.job_id, j.state, j.reason, j.gone) for j in jobs.jobs)
    pending = any(j.is_pending and not j.gone for j in jobs.jobs)
    return key + ((int(now // 60),) if pending else ())


def _deaths(live: Any) -> list[tuple[float, str]]:
    return [(ev.ts, ev.address or ev.worker or "") for ev in live.events
            if ev.kind == "worker-removed" and ev.details.get("unexpected")]


class LiveAlerts:
    """Alerts of one live session.  ``sinks`` receive each ``Delivery`` (terminal, command)."""

    def __init__(self, sinks: list[Sink] | None = None, *, policy: AlertPolicy | None = None,
                 batcher: Batcher | None = None, clock: Callable[[], float] = time.time,
                 diagnose: bool = False, log_dir: Any = None) -> None:
        self.sinks: list[Sink] = list(sinks or [])
        self.policy = policy or AlertPolicy()
        self.batcher = batcher or Batcher()
        self.clock = clock
        self.diagnose = diagnose
        #: dask-jobqueue's log directory, scanned for the jobs' logs (as ``attach --slurm-log-dir``).
        self.log_dir = log_dir
        #: Deliveries made (tests and the summary line).
        self.delivered: list[Delivery] = []
        self._lock = threading.Lock()
        self._address = ""
        self._scheduler_id: str | None = None
        self._key: Any = None
        self._live: Any = None
        self._jobs: Any = None
        self._pending: Any = None
        self._running = False
        self._thread: threading.Thread | None = None
        self._closed = False

    def add_sink(self, sink: Sink) -> None:
        self.sinks.append(sink)

    def use_app(self, app: Any, *, notify: bool) -> None:
        """``attach``: bell + OSC + toast through the Textual app, and ``--on-finding`` outcomes as toasts."""
        from scalable_tui.session.notify import AppTerminal, CommandRunner

        term = AppTerminal(app)
        for sink in self.sinks:
            if isinstance(sink, CommandRunner):
                sink.log = term.log
        if notify:
            self.sinks.insert(0, term)

    # -- observations ----------------------------------------------------------
    def frame(self, live: Any, *_: Any) -> None:
        """After every poll (``record``'s ``on_frame(snapshot, seq)`` signature fits)."""
        now = self.clock()
        with self._lock:
            self._address = live.scheduler_address or live.address or self._address
            self._scheduler_id = live.scheduler_id or self._scheduler_id
            self.batcher.add(self.policy.link(connected=live.connected, closed=live.closed, address=live.address,
                                              reason=live.disconnect_reason, now=now))
            self.batcher.add(self.policy.deaths(_deaths(live), now))
        self._live = live
        self._maybe_diagnose(now)
        self.flush(now)

    def jobs(self, snapshot: Any) -> None:
        """A batch-job poll (``record``'s ``on_jobs``; any thread): diagnosed with the next snapshot."""
        with self._lock:
            self._jobs = snapshot
        self._maybe_diagnose(self.clock())

    def _maybe_diagnose(self, now: float) -> None:
        with self._lock:
            live, jobs = self._live, self._jobs
            if not self.diagnose or live is None or not live.connected:
                return
            key = live_key(live) + _jobs_key(jobs, now)
            if key == self._key:
                return
            self._key = key
        self._diagnose_soon(live)

    def diagnosis(self, diag: Any, now: float | None = None) -> None:
        """A diagnosis of the current state (any thread); its new groups wait for the next ``flush``."""
        now = self.clock() if now is None else now
        with self._lock:
            self.batcher.add(self.policy.findings(diag.findings, now))

    # -- delivery -----------------------------------------------------------------
    def flush(self, now: float | None = None) -> Delivery | None:
        """Deliver the batch that is due, if any."""
        now = self.clock() if now is None else now
        with self._lock:
            batch = self.batcher.due(now)
            if not batch:
                return None
            d = Delivery(batch, address=self._address, scheduler_id=self._scheduler_id, now=now)
            self.delivered.append(d)
        self._deliver(d)
        return d

    def _deliver(self, d: Delivery) -> None:
        for sink in self.sinks:
            try:
                sink(d)
            except Exception as exc:  # noqa: BLE001 - an alert sink must never stop the monitor
                log = getattr(sink, "log", None)
                if callable(log):
                    try:
                        log(f"alert not delivered: {type(exc).__name__}: {exc}")
                    except Exception:  # noqa: BLE001
                        pass

    def close(self, wait: float | None = None) -> None:
        """End of the session: what waits is delivered now (late rather than never); commands may finish
        (``wait``: at most this many seconds; None: one command timeout each)."""
        with self._lock:
            self._closed = True  # no new diagnosis starts; the one running finishes its snapshot
            thread = self._thread
        if thread is not None:
            thread.join(30.0)  # a failure seen just before the stop is still told
        with self._lock:
            batch = self.batcher.drain()
            d = Delivery(batch, address=self._address, scheduler_id=self._scheduler_id, now=self.clock()) \
                if batch else None
            if d is not None:
                self.delivered.append(d)
        if d is not None:
            self._deliver(d)
        from scalable_tui.session.notify import CommandRunner

        for sink in self.sinks:
            if isinstance(sink, CommandRunner):
                sink.close(wait)
            elif callable(getattr(sink, "close", None)):
                sink.close()  # type: ignore[attr-defined]

    # -- record: our own diagnosis, off the poll loop --------------------------------
    def _diagnose_soon(self, live: Any) -> None:
        with self._lock:
            self._pending = live
            if self._running or self._closed:
                return
            self._running = True
            self._thread = threading.Thread(target=self._diagnose_loop, name="alert diagnosis", daemon=True)
            self._thread.start()

    def _diagnose_loop(self) -> None:
        from scalable_tui.session.pipeline import diagnose_live

        while True:
            with self._lock:
                live, self._pending = self._pending, None
                jobs = self._jobs
                if live is None:
                    self._running = False
                    return
            try:
                # the same finding source as attach's (``monitor.build_live_snapshot``): jobs joined
                _, diag = diagnose_live(live, jobs=jobs, log_dir=self.log_dir, now=self.clock())
            except Exception:  # noqa: BLE001 - no alert from a failed diagnosis; the recording goes on
                continue
            self.diagnosis(diag)


class AlertSetupError(ValueError):
    """A bad ``--on-finding`` command: said before the monitor starts."""


def build_alerts(*, notify: bool, on_finding: str | None, on_finding_timeout: float = 30.0,
                 every: float = 60.0, diagnose: bool = False, terminal: Sink | bool | None = None,
                 log: Callable[[str], None] | None = None, log_dir: Any = None) -> LiveAlerts | None:
    """The ``--notify`` / ``--on-finding`` options as a ``LiveAlerts`` (None when neither is given).

    ``terminal``: the sink for ``--notify``: None makes a ``TtyTerminal`` (``record``);
    False adds none (``attach`` adds its ``AppTerminal`` with ``use_app`` once the app exists).
    ``log``: where ``--on-finding`` outcomes go (default: stderr).
    """
    import shlex
    import shutil

    from scalable_tui.session.notify import CommandRunner, TtyTerminal, stderr_log

    if not notify and on_finding is None:
        return None  # (an empty --on-finding is an error below, not "no alerts" said nowhere)
    sinks: list[Sink] = []
    if on_finding is not None:
        try:
            argv = shlex.split(on_finding)
        except ValueError as exc:
            raise AlertSetupError(f"--on-finding: cannot split {on_finding!r}: {exc}") from None
        if not argv:
            raise AlertSetupError("--on-finding: empty command")
        if shutil.which(argv[0]) is None:
            raise AlertSetupError(f"--on-finding: command not found or not executable: {argv[0]}")
        if on_finding_timeout <= 0:
            raise AlertSetupError("--on-finding-timeout must be positive")
        sinks.append(CommandRunner(argv, timeout=on_finding_timeout, log=log or stderr_log))
    if notify and terminal is not False:
        sinks.insert(0, terminal if callable(terminal) else TtyTerminal())
    return LiveAlerts(sinks, batcher=Batcher(every), diagnose=diagnose, log_dir=log_dir)

"""``scalable-tui record``: the headless record loop.

Polls a scheduler with ``LiveSource`` (the same gentle polling as ``attach``)
and, optionally, a batch-job source (Slurm), and writes one frame per poll
with ``RecordingWriter`` until a signal arrives or the scheduler is gone for
good.  The file writer itself lives in ``sources.recording.writer``.

No ``distributed`` import at module level: only ``record()`` needs it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from assistant.textsafe import printable_line
from scalable_tui.model.live import LiveSnapshot
from scalable_tui.session.slurm_join import map_live_workers
from scalable_tui.sources.recording.writer import RecordingWriter

__all__ = ["RecordResult", "record", "DEFAULT_GIVE_UP_S"]

#: Stop when the scheduler has been unreachable this long (a restart on the same address is usually quicker).
DEFAULT_GIVE_UP_S = 600.0
#: How often the give-up time is checked between polls (it is also checked after each failed poll).
GIVE_UP_CHECK_S = 0.25


@dataclass
class RecordResult:
    exit_code: int
    reason: str
    frames: int = 0
    jobs: int = 0
    #: Why no jobs poll succeeded (e.g. "down: squeue: fatal: …"), when none did.
    jobs_error: str | None = None
    failures: int = 0
    deaths: int = 0
    events: int = 0
    workers: int = 0
    seconds: float = 0.0
    size: int = 0
    path: str = ""
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        dur = int(self.seconds)
        span = f"{dur // 3600}h{dur % 3600 // 60:02d}m" if dur >= 3600 else f"{dur // 60}m{dur % 60:02d}s"
        size = f"{self.size / 2**20:.1f} MiB" if self.size >= 2**20 else f"{self.size / 1024:.0f} KiB"
        jobs = f", {self.jobs} Slurm jobs snapshot(s) (only jobs of this cluster)" if self.jobs else ""
        if not self.jobs and self.jobs_error:
            jobs = f", no Slurm jobs recorded ({self.jobs_error})"
        return (f"recorded {self.frames} snapshot(s) over {span} to {self.path} ({size}): "
                f"{self.failures} failure(s), {self.deaths} worker death(s), {self.events} event(s), "
                f"{self.workers} worker(s) seen{jobs}; "
                f"{self.reason}")


def _in_daemon_thread(fn: Callable[[], Any]) -> asyncio.Future[Any]:
    """``fn()`` in a daemon thread; nobody waits for it if the awaiting task is cancelled."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[Any] = loop.create_future()

    def settle(value: Any, exc: BaseException | None) -> None:
        if fut.done():
            return  # cancelled meanwhile
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(value)

    def run() -> None:
        try:
            value, exc = fn(), None
        except BaseException as e:  # noqa: BLE001 - handed to the awaiting task
            value, exc = None, e
        try:
            loop.call_soon_threadsafe(settle, value, exc)
        except RuntimeError:
            pass  # the loop is closed: the recording has ended

    threading.Thread(target=run, name="jobs poll", daemon=True).start()
    return fut


async def record(address: str, path: str | os.PathLike[str], *, interval: float = 5.0,
                 give_up_after: float = DEFAULT_GIVE_UP_S, security: Any = None, mode: str = "create",
                 keyframe_every: int = 60, call_timeout: float | None = None,
                 stop: asyncio.Event | None = None, handle_signals: bool = True,
                 on_frame: Callable[[LiveSnapshot, int], Any] | None = None,
                 job_source: Any = None, jobs_interval: float = 20.0,
                 on_jobs: Callable[[Any], Any] | None = None) -> RecordResult:
    """Poll ``address`` every ``interval`` s and write each snapshot to ``path`` until stopped.

    Stops on SIGINT/SIGTERM (``handle_signals``) or ``stop``; and when the
    scheduler has been unreachable for ``give_up_after`` seconds (0: at the
    first failed poll after it was reached).  Exit code 0 when something was
    recorded, 2 when the scheduler was never reached.

    ``call_timeout``: seconds per scheduler call; None: adaptive (``sources.live.timeout``).
    A scheduler not reached at the first poll is said on stderr at once (the
    loop keeps trying until ``give_up_after``); an address where an HTTP server
    answers (a dashboard port) stops at once, exit 2.

    ``job_source`` (a ``JobSource``, e.g. ``SlurmSource``): also poll it every
    ``jobs_interval`` s, in a thread (squeue blocks; the scheduler polling is
    never delayed), and store each poll that changed something (``jobs`` table).
    ``on_jobs(snapshot)`` is called with every poll (``LiveAlerts.jobs``: alerts join the jobs as
    ``attach``'s do).
    """
    from scalable_tui.sources.live.address import NOT_DASK
    from scalable_tui.sources.live.source import LiveSource

    writer = RecordingWriter.create(path, mode=mode, address=address, interval=interval,
                                    keyframe_every=keyframe_every)
    stop = stop or asyncio.Event()
    why: list[str] = []
    loop = asyncio.get_running_loop()
    installed: list[int] = []
    if handle_signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, lambda s=sig: (why.append(f"stopped by {signal.Signals(s).name}"),
                                                            stop.set()))
                installed.append(sig)
            except (NotImplementedError, RuntimeError):  # pragma: no cover - not the main thread
                pass
    src = LiveSource(address, security=security, poll_interval=interval,
                     call_timeout=call_timeout,
                     max_backoff=max(interval, min(30.0, give_up_after / 4 if give_up_after else interval)))
    reached = False
    last_reason = ""
    t0 = time.time()
    notes: list[str] = []
    told_unreached: list[bool] = []
    told_lost: list[bool] = []  # the loss of a reached scheduler said (once per loss)
    #: The newest scheduler snapshot: its workers are evidence for the jobs poll.
    latest: list[LiveSnapshot | None] = [None]
    #: Since when the scheduler has been unreachable (None: it answered last time).
    down_since: list[float | None] = [None]

    def give_up_if_due() -> bool:
        """Stop once the scheduler has been unreachable for ``give_up_after`` (checked after each failed poll
        and between polls)."""
        since = down_since[0]
        if since is None or stop.is_set() or time.time() - since < give_up_after:
            return stop.is_set()
        what = "scheduler gone" if reached else "scheduler never reached"
        why.append(f"{what}: unreachable for {time.time() - since:.0f} s ({last_reason})")
        stop.set()
        return True

    async def on_snapshot(snap: LiveSnapshot) -> None:
        nonlocal reached, last_reason
        latest[0] = snap
        seq = await asyncio.to_thread(writer.write, snap)
        for n in snap.notices:
            if n not in notes:
                notes.append(n)
                print(f"scalable-tui: note: {n}", file=sys.stderr, flush=True)
        if on_frame is not None:
            on_frame(snap, seq)
        if snap.connected:
            if reached and told_lost:  # back after a loss: say so once, like the loss
                told_lost.clear()
                print(f"scalable-tui: the scheduler at {address} answers again; recording goes on",
                      file=sys.stderr, flush=True)
            reached = True
            down_since[0] = None
            return
        last_reason = snap.disconnect_reason or snap.link
        down_since[0] = snap.disconnected_since or time.time()
        if reached and not told_lost:
            # A nightly recording's scheduler died: said at once, not only at the give-up (up to 10 min later).
            told_lost.append(True)
            more = (f"still trying; giving up after {give_up_after:g} s" if give_up_after
                    else "giving up (--give-up-after 0)")
            print(f"scalable-tui: lost the scheduler at {address} ({last_reason}); {more}", file=sys.stderr,
                  flush=True)
        if not reached and (NOT_DASK in last_reason or "answers in plain text" in last_reason):
            # a wrong address, not a scheduler that is down: waiting will not help
            why.append(f"scheduler never reached: {address}: {last_reason.split(': ', 1)[-1]}")
            stop.set()
            return
        if not reached and not told_unreached:
            told_unreached.append(True)
            more = (f"still trying; giving up after {give_up_after:g} s" if give_up_after
                    else "giving up (--give-up-after 0)")
            print(f"scalable-tui: no answer from the scheduler at {address} ({last_reason}); {more}",
                  file=sys.stderr, flush=True)
        give_up_if_due()

    async def watch_give_up() -> None:
        """The give-up time kept between polls too: the reconnect backoff (up to 30 s) must not stretch it."""
        while not give_up_if_due():
            try:
                await asyncio.wait_for(stop.wait(), timeout=GIVE_UP_CHECK_S)
            except asyncio.TimeoutError:
                pass

    #: successful jobs polls stored, and why none has succeeded yet (reset by the first that does)
    jobs_seen: dict[str, Any] = {"ok": 0, "error": None}

    async def poll_jobs() -> None:
        while not stop.is_set():
            try:
                # A daemon thread, not the loop's executor: asyncio.run joins
                # executor threads at exit, so a stop would wait for a hung
                # squeue (up to its timeout).  A late answer is dropped.
                snap = await _in_daemon_thread(job_source.poll)  # never raises by contract
                try:  # which jobs are this cluster's, from its workers too (as attach does)
                    map_live_workers(job_source, snap, latest[0])
                except Exception:  # noqa: BLE001 - no worker evidence this time; the scripts' still counts
                    pass
                stored = await asyncio.to_thread(writer.write_jobs, snap)
                if snap.status == "ok":
                    jobs_seen["ok"] += stored
                    jobs_seen["error"] = None
                elif jobs_seen["error"] is None and not jobs_seen["ok"]:
                    # a failed squeue is stored too (the replay shows it), but it is not a jobs snapshot
                    # squeue's own words, shown literally on one line (no escape sequence reaches the terminal)
                    jobs_seen["error"] = printable_line(f"{snap.status}: {snap.message or 'no answer'}")[:300]
                    print(f"scalable-tui: note: Slurm jobs not recorded so far: {jobs_seen['error']}",
                          file=sys.stderr, flush=True)
                if on_jobs is not None:
                    on_jobs(snap)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - jobs are extra: never stop the recording for them
                note = f"jobs not recorded: {type(exc).__name__}: {exc}"
                if note not in notes:
                    notes.append(note)
                    print(f"scalable-tui: note: {note}", file=sys.stderr, flush=True)
            try:
                await asyncio.wait_for(stop.wait(), timeout=max(1.0, jobs_interval))
            except asyncio.TimeoutError:
                pass

    jobs_task = asyncio.create_task(poll_jobs(), name="jobs") if job_source is not None else None
    watch_task = asyncio.create_task(watch_give_up(), name="give up") if give_up_after > 0 else None
    try:
        await src.run(on_snapshot, stop=stop)
    finally:
        for task in (jobs_task, watch_task):
            if task is None:
                continue
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - stopping anyway
                pass
        await src.close()
        for sig in installed:
            loop.remove_signal_handler(sig)
        reason = why[0] if why else "stopped"
        writer.close(reason)
    try:
        size = Path(path).stat().st_size
    except OSError:
        size = 0
    code = 2 if reason.startswith("scheduler never") else 0
    return RecordResult(exit_code=code, reason=reason, frames=writer.frames, jobs=jobs_seen["ok"],
                        jobs_error=jobs_seen["error"],
                        failures=writer.failures,
                        deaths=writer.deaths, events=writer.events, workers=len(writer.workers_seen),
                        seconds=time.time() - t0, size=size, path=str(path), notes=notes)

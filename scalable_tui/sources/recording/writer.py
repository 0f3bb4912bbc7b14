"""Recording a live cluster: the file writer and the headless record loop.

``RecordingWriter`` turns ``LiveSnapshot`` objects into frames of the format
described in ``scalable_tui.sources.recording.reader`` (and ``docs/recording-format.md``);
``record()`` is ``scalable-tui record``: it polls with ``LiveSource`` (the same
gentle polling as ``attach``) and writes one frame per poll until a signal
arrives or the scheduler is gone for good.

Use from another front end (``attach --record FILE``)::

    w = RecordingWriter.create(path, address=src.address, interval=2.0)   # or mode="append"/"force"
    w.write(snapshot)          # after every poll; one transaction per call
    w.close("stopped: user quit")

No ``distributed`` import at module level: only ``record()`` needs it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import orjson

from scalable_tui import __version__
from scalable_tui.model.live import LiveSnapshot
from scalable_tui.sources.recording.reader import (
    APPLICATION_ID,
    FORMAT_NAME,
    FORMAT_VERSION,
    JOBS_SCHEMA,
    SCHEMA,
    RecordingError,
    diff_flat,
    diff_records,
    diff_workers,
    encode_event,
    encode_failure,
    encode_jobs,
    encode_prefix,
    encode_scalars,
    encode_worker,
    is_recording,
    jobs_signature,
    pack,
    unpack,
)

__all__ = ["RecordingWriter", "RecordResult", "record", "DEFAULT_GIVE_UP_S"]

#: Stop when the scheduler has been unreachable this long (a restart on the same address is usually quicker).
DEFAULT_GIVE_UP_S = 600.0


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fail_sig(f: Any) -> tuple[Any, ...]:
    return (f.occurrences, f.origin, f.exception_type, f.exception[:300], len(f.traceback or ""))


class RecordingWriter:
    """Appends frames to a recording file.  One writer per file (an exclusive-write lock is taken per commit)."""

    def __init__(self, con: sqlite3.Connection, path: Path, *, keyframe_every: int, session: int,
                 meta: dict[str, Any]) -> None:
        self.con = con
        self.path = path
        self.keyframe_every = max(1, int(keyframe_every))
        self.session = session
        self.meta = meta
        self.frames = 0
        self.failures = 0
        self.events = 0
        self.deaths = 0
        self.events_lost = 0
        self.workers_seen: set[str] = set()
        self.first_t: float | None = None
        self.last_t: float | None = None
        self._seq = -1
        self._base = -1
        self._since_key = 0
        self._order: list[str] = []
        self._prev: tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, dict[str, Any]]] | None = None
        self._fail_sig: dict[tuple[str, str], tuple[Any, ...]] = {}
        self._events_seen = 0
        #: append mode: (kind, address/worker, text) -> times, to drop events a new monitor is sent again
        self._old_events: dict[tuple[Any, ...], list[float]] = {}
        self._closed = False
        #: Jobs polls stored, and the signature of the last one (a poll that changed nothing is not stored).
        self.jobs_stored = 0
        self._jobs_sig: Any = None
        #: Frames and jobs may be written from different threads: one transaction at a time.
        self._lock = threading.RLock()

    # -- opening -----------------------------------------------------------------
    @classmethod
    def create(cls, path: str | os.PathLike[str], *, mode: str = "create", address: str | None = None,
               interval: float | None = None, keyframe_every: int = 60) -> RecordingWriter:
        """``mode``: ``create`` (refuse an existing file), ``force`` (replace it), ``append`` (continue a recording)."""
        p = Path(path)
        if p.is_dir():
            raise RecordingError(f"{p} is a directory")
        exists = p.exists() and p.stat().st_size > 0
        if exists and mode == "create":
            raise RecordingError(f"{p} exists; use --append to continue that recording or --force to replace it")
        if exists and mode == "append" and not is_recording(p):
            raise RecordingError(f"{p} exists and is not a scalable-tui recording; refusing to append to it")
        if mode == "force" or (mode == "append" and not exists):
            for q in (p, Path(f"{p}-journal")):
                if q.exists():
                    q.unlink()
            mode = "create" if mode == "force" or not exists else mode
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(str(p), timeout=30.0, isolation_level=None, check_same_thread=False)
            con.execute("PRAGMA journal_mode=DELETE")
            con.execute("PRAGMA synchronous=FULL")
        except (OSError, sqlite3.Error) as e:
            raise RecordingError(f"cannot write {p}: {e}") from None
        now = time.time()
        if mode == "append" and exists:
            return cls._reopen(con, p, now, interval, keyframe_every)
        con.execute(f"PRAGMA application_id={APPLICATION_ID}")
        con.execute(f"PRAGMA user_version={FORMAT_VERSION}")
        con.executescript(SCHEMA)
        meta = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "created": now,
            "created_iso": _iso(now),
            "writer": f"scalable-tui {__version__}",
            "address": address,
            "scheduler_address": None,
            "scheduler_ids": [],
            "client_versions": {},
            "scheduler_versions": {},
            "interval": interval,
            "keyframe_every": keyframe_every,
            "sessions": [{"started": now, "ended": None, "end_reason": None}],
            # False until a snapshot from a connected scheduler is written: a reader can tell
            # "never connected" from "nothing failed" (see Recording.never_connected).
            "reached": False,
            "last_error": None,
        }
        w = cls(con, p, keyframe_every=keyframe_every, session=0, meta=meta)
        with w._tx():
            w._put_meta(meta)
        return w

    @classmethod
    def _reopen(cls, con: sqlite3.Connection, p: Path, now: float, interval: float | None,
                keyframe_every: int) -> RecordingWriter:
        try:
            meta = {k: orjson.loads(v) for k, v in con.execute("SELECT key, value FROM meta")}
        except (sqlite3.Error, orjson.JSONDecodeError) as e:
            raise RecordingError(f"cannot append to {p}: {e}") from None
        if meta.get("format") != FORMAT_NAME or meta.get("format_version") != FORMAT_VERSION:
            raise RecordingError(f"cannot append to {p}: format {meta.get('format')} v{meta.get('format_version')}")
        sessions = list(meta.get("sessions") or [])
        sessions.append({"started": now, "ended": None, "end_reason": None})
        meta["sessions"] = sessions
        meta.pop("ended", None)
        meta.pop("end_reason", None)
        if interval is not None:
            meta["interval"] = interval
        w = cls(con, p, keyframe_every=keyframe_every, session=len(sessions) - 1, meta=meta)
        row = con.execute("SELECT max(seq) FROM frames").fetchone()
        w._seq = row[0] if row and row[0] is not None else -1
        for sid, key, occ, origin, etype, data in con.execute(
            "SELECT sid, key, occurrences, origin, etype, data FROM failures ORDER BY id"
        ):
            d = unpack(data)
            w._fail_sig[(sid or "", key)] = (occ, origin, etype, str(d.get("exception", ""))[:300],
                                              len(d.get("traceback") or ""))
        for t, kind, data in con.execute("SELECT t, kind, data FROM events"):
            d = unpack(data)
            w._old_events.setdefault((kind, d.get("address") or d.get("worker"), d.get("text")), []).append(t or 0.0)
        with w._tx():
            con.execute(JOBS_SCHEMA)  # a recording from before the jobs table: add it (additive)
            con.execute("DELETE FROM meta WHERE key IN ('ended', 'end_reason')")
            w._put_meta(meta)
        return w

    # -- writing -----------------------------------------------------------------
    class _Tx:
        def __init__(self, con: sqlite3.Connection, lock: Any) -> None:
            self.con = con
            self.lock = lock

        def __enter__(self) -> None:
            self.lock.acquire()
            try:
                self.con.execute("BEGIN IMMEDIATE")
            except BaseException:
                self.lock.release()
                raise

        def __exit__(self, et: Any, e: Any, tb: Any) -> None:
            try:
                self.con.execute("COMMIT" if et is None else "ROLLBACK")
            finally:
                self.lock.release()

    def _tx(self) -> RecordingWriter._Tx:
        return RecordingWriter._Tx(self.con, self._lock)

    def _put_meta(self, d: dict[str, Any]) -> None:
        self.con.executemany(
            "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [(k, orjson.dumps(v, default=str).decode()) for k, v in d.items()],
        )

    def _is_old_event(self, ev: Any) -> bool:
        if not self._old_events:
            return False
        ts = self._old_events.get((ev.kind, ev.address or ev.worker, ev.text))
        return bool(ts) and any(abs(x - ev.ts) < 2.0 for x in ts)

    def write(self, snap: LiveSnapshot, t: float | None = None) -> int:
        """Write one frame (one transaction) for ``snap``; returns its ``seq``."""
        if self._closed:
            raise RecordingError("the recording is closed")
        t = time.time() if t is None else t
        scalars = encode_scalars(snap)
        workers = {k: encode_worker(w) for k, w in snap.workers.items()}
        prefixes = {k: encode_prefix(p) for k, p in snap.prefixes.items()}
        self._seq += 1
        seq = self._seq
        keyframe = self._prev is None or self._since_key + 1 >= self.keyframe_every
        if keyframe:
            doc: dict[str, Any] = {"s": scalars, "w": workers, "p": prefixes}
            self._base = seq
            self._since_key = 0
            self._order = list(workers)
        else:
            ps, pw, pp = self._prev  # type: ignore[misc]
            pch, px = diff_records(pp, prefixes)
            doc = {"s": diff_flat(ps, scalars), **diff_workers(pw, workers, self._order)}
            if pch:
                doc["p"] = pch
            if px:
                doc["px"] = px
            self._since_key += 1
        # failures new (or updated) since the last frame
        frows = []
        for f in snap.failures:
            fk = (f.scheduler_id or "", f.key)
            sig = _fail_sig(f)
            if self._fail_sig.get(fk) != sig:
                self._fail_sig[fk] = sig
                frows.append((seq, f.first_seen, fk[0], f.key, f.prefix, f.exception_type, f.occurrences, f.origin,
                              pack(encode_failure(f))))
        # events new since the last frame (the live deque is bounded: count what fell out)
        erows = []
        new = snap.events_total - self._events_seen
        if new < 0:  # another source (should not happen within one writer)
            new = snap.events_total
        if new:
            recent = list(snap.events)[-new:] if new <= len(snap.events) else list(snap.events)
            self.events_lost += max(0, new - len(snap.events))
            for ev in recent:
                if self._is_old_event(ev):
                    continue
                erows.append((seq, ev.ts, ev.kind, ev.worker, pack(encode_event(ev))))
                if ev.kind == "worker-removed" and ev.details.get("unexpected"):
                    self.deaths += 1
        self._events_seen = snap.events_total
        meta_up: dict[str, Any] = {}
        sid = snap.scheduler_id
        if sid and sid not in self.meta["scheduler_ids"]:
            self.meta["scheduler_ids"].append(sid)
            meta_up["scheduler_ids"] = self.meta["scheduler_ids"]
        for k in ("scheduler_address", "client_versions", "scheduler_versions"):
            v = getattr(snap, k)
            if v and v != self.meta.get(k):
                self.meta[k] = v
                meta_up[k] = v
        if self.meta.get("address") is None:
            self.meta["address"] = meta_up["address"] = snap.address
        if snap.connected and self.meta.get("reached") is False:
            self.meta["reached"] = meta_up["reached"] = True
        elif not snap.connected and self.meta.get("reached") is False and snap.disconnect_reason \
                and snap.disconnect_reason != self.meta.get("last_error"):
            self.meta["last_error"] = meta_up["last_error"] = snap.disconnect_reason
        with self._tx():
            if frows:
                self.con.executemany(
                    "INSERT INTO failures(frame, t, sid, key, prefix, etype, occurrences, origin, data) "
                    "VALUES(?,?,?,?,?,?,?,?,?)", frows)
            if erows:
                self.con.executemany("INSERT INTO events(frame, t, kind, worker, data) VALUES(?,?,?,?,?)", erows)
            if self.events_lost:
                meta_up["events_lost"] = self.events_lost
            if meta_up:
                self._put_meta(meta_up)
            self.con.execute("INSERT INTO frames(seq, t, session, keyframe, base, data) VALUES(?,?,?,?,?,?)",
                             (seq, t, self.session, int(keyframe), self._base, pack(doc)))
        self._prev = (scalars, workers, prefixes)
        self.frames += 1
        self.failures += len(frows)
        self.events += len(erows)
        self.workers_seen.update(workers)
        self.first_t = t if self.first_t is None else self.first_t
        self.last_t = t
        return seq

    def write_jobs(self, snapshot: Any, t: float | None = None) -> bool:
        """Store one jobs poll (a ``JobsSnapshot``) when it changed since the last stored one; returns whether
        it was stored.  ``t`` defaults to the poll's ``polled_at``.  Thread-safe against ``write``; a no-op
        once the writer is closed (a poll that finished after the stop)."""
        doc = encode_jobs(snapshot)
        sig = jobs_signature(doc)
        t = (snapshot.polled_at or time.time()) if t is None else t
        with self._lock:
            if self._closed or sig == self._jobs_sig:
                return False
            with self._tx():
                self.con.execute("INSERT INTO jobs(t, session, data) VALUES(?,?,?)", (t, self.session, pack(doc)))
            self._jobs_sig = sig
            self.jobs_stored += 1
            return True

    def close(self, reason: str | None = None) -> None:
        """Write the end marker (a clean stop) and close the file."""
        with self._lock:
            self._close(reason)

    def _close(self, reason: str | None) -> None:
        if self._closed:
            return
        self._closed = True
        now = time.time()
        try:
            sessions = self.meta.get("sessions") or []
            if sessions:
                sessions[-1].update({"ended": now, "end_reason": reason})
            with self._tx():
                self._put_meta({"sessions": sessions, "ended": now, "end_reason": reason})
        finally:
            self.con.close()

    def abandon(self) -> None:
        """Close without an end marker (as if killed)."""
        self._closed = True
        self.con.close()


# -- the headless loop ---------------------------------------------------------
@dataclass
class RecordResult:
    exit_code: int
    reason: str
    frames: int = 0
    jobs: int = 0
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
                 job_source: Any = None, jobs_interval: float = 20.0) -> RecordResult:
    """Poll ``address`` every ``interval`` s and write each snapshot to ``path`` until stopped.

    Stops on SIGINT/SIGTERM (``handle_signals``) or ``stop``; and when the
    scheduler has been unreachable for ``give_up_after`` seconds (0: at the
    first failed poll after it was reached).  Exit code 0 when something was
    recorded, 2 when the scheduler was never reached.

    ``call_timeout``: seconds per scheduler call; None: adaptive (``sources.live_timeout``).
    A scheduler not reached at the first poll is said on stderr at once (the
    loop keeps trying until ``give_up_after``); an address where an HTTP server
    answers (a dashboard port) stops at once, exit 2.

    ``job_source`` (a ``JobSource``, e.g. ``SlurmSource``): also poll it every
    ``jobs_interval`` s, in a thread (squeue blocks; the scheduler polling is
    never delayed), and store each poll that changed something (``jobs`` table).
    """
    from scalable_tui.sources.live.source import NOT_DASK, LiveSource

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

    async def on_snapshot(snap: LiveSnapshot) -> None:
        nonlocal reached, last_reason
        seq = await asyncio.to_thread(writer.write, snap)
        for n in snap.notices:
            if n not in notes:
                notes.append(n)
                print(f"scalable-tui: note: {n}", file=sys.stderr, flush=True)
        if on_frame is not None:
            on_frame(snap, seq)
        if snap.connected:
            reached = True
            return
        last_reason = snap.disconnect_reason or snap.link
        since = snap.disconnected_since or time.time()
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
        if time.time() - since >= give_up_after:
            what = "scheduler gone" if reached else "scheduler never reached"
            why.append(f"{what}: unreachable for {time.time() - since:.0f} s ({last_reason})")
            stop.set()

    async def poll_jobs() -> None:
        while not stop.is_set():
            try:
                # A daemon thread, not the loop's executor: asyncio.run joins
                # executor threads at exit, so a stop would wait for a hung
                # squeue (up to its timeout).  A late answer is dropped.
                snap = await _in_daemon_thread(job_source.poll)  # never raises by contract
                await asyncio.to_thread(writer.write_jobs, snap)
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
    try:
        await src.run(on_snapshot, stop=stop)
    finally:
        if jobs_task is not None:
            jobs_task.cancel()
            try:
                await jobs_task
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
    return RecordResult(exit_code=code, reason=reason, frames=writer.frames, jobs=writer.jobs_stored,
                        failures=writer.failures,
                        deaths=writer.deaths, events=writer.events, workers=len(writer.workers_seen),
                        seconds=time.time() - t0, size=size, path=str(path), notes=notes)

"""Recording a live cluster: the file writer.

``RecordingWriter`` turns ``LiveSnapshot`` objects into frames of the format
described in ``scalable_tui.sources.recording.format`` (and ``docs/recording-format.md``).
The headless loop that polls and calls it, ``scalable-tui record``, is
``scalable_tui.session.record``.

Use from another front end (``attach --record FILE``)::

    w = RecordingWriter.create(path, address=src.address, interval=2.0)   # or mode="append"/"force"
    w.write(snapshot)          # after every poll; one transaction per call
    w.close("stopped: user quit")
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

from scalable_tui import __version__
from scalable_tui.model.live import LiveSnapshot
from scalable_tui.sources.recording.format import (
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

__all__ = ["RecordingWriter"]


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fail_sig(f: Any) -> tuple[Any, ...]:
    return (f.occurrences, f.origin, f.exception_type, f.exception[:300], len(f.traceback or ""))


def check_target(p: Path, mode: str) -> bool:
    """Refuse what ``create`` would refuse (raises ``RecordingError``); True when a non-empty file is there.

    ``record`` asks first, before it starts anything or prints a note: a refusal is its only output.
    """
    if p.is_dir():
        raise RecordingError(f"{p} is a directory")
    exists = p.exists() and p.stat().st_size > 0
    if exists and mode == "create":
        raise RecordingError(f"{p} exists; use --append to continue that recording or --force to replace it")
    if exists and mode == "append" and not is_recording(p):
        raise RecordingError(f"{p} exists and is not a scalable-tui recording; refusing to append to it")
    return exists


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
        exists = check_target(p, mode)
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

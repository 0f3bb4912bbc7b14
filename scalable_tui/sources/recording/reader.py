"""Reading a recording back: open it (damaged, truncated or mid-write), follow a running recorder, replay any moment.

``Recording(path)`` gives ``state_at(t)`` -> ``LiveSnapshot`` so every screen of
the app and the assistant work on the past exactly as on the present.  The file
format is ``format.py``; the frame chain ``frames.py``; gaps and jumps
``timeline.py``; the whole recording as a ``RunState`` ``whole.py``.

Over ~400 lines on purpose: opening a damaged file, following a growing one
and replaying a moment share the same frame and row indexes; split further
they would only be spread across files.
"""

from __future__ import annotations

import bisect
import os
import shutil
import sqlite3
import tempfile
from collections import deque
from pathlib import Path
from typing import Any, Callable, Iterator

import orjson

from scalable_tui.model.live import LiveEvent, LiveFailure, LiveSnapshot, WorkerInfo
from scalable_tui.sources.recording.format import (
    APPLICATION_ID,
    FORMAT_NAME,
    FORMAT_VERSION,
    REPLAY_MAX_EVENTS,
    SQLITE_MAGIC,
    NotARecording,
    RecordingError,
    apply_scalars,
    decode_event,
    decode_failure,
    decode_jobs,
    decode_prefix,
    decode_worker,
    is_recording,
    unpack,
)
from scalable_tui.sources.recording.frames import _Frame, _Row, _State
from scalable_tui.sources.recording.timeline import Gap, Mark, RecordingTimeline
from scalable_tui.sources.recording.whole import WholeRecording

#: ``Recording`` and, for callers that import them from here, the format's names.
__all__ = [
    "Gap",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "APPLICATION_ID",
    "Recording",
    "RecordingError",
    "NotARecording",
    "Mark",
    "is_recording",
]


def _open_ro(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10.0, check_same_thread=False)
    con.execute("PRAGMA query_only=1")
    return con


class Recording(RecordingTimeline, WholeRecording):
    """A recording, read-only.  See the module docstring for the format.

    ``Recording(path)`` raises ``NotARecording`` for anything that is not one,
    ``RecordingError`` when it cannot be read at all.  A damaged or truncated
    file opens with what could be read (see ``notices``).  ``refresh()`` picks
    up frames a running recorder wrote since.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.notices: list[str] = []
        self._tmpdir: str | None = None
        if self.path.is_dir():
            raise NotARecording(f"{self.path} is a directory, not a scalable-tui recording")
        if not self.path.exists():
            raise RecordingError(f"recording {self.path} does not exist")
        try:
            with open(self.path, "rb") as fh:
                head = fh.read(100)
        except OSError as e:
            raise RecordingError(f"cannot read {self.path}: {e.strerror or e}") from None
        if head[:16] != SQLITE_MAGIC:
            raise NotARecording(f"{self.path} is not a scalable-tui recording (not an SQLite file)")
        if len(head) >= 72 and int.from_bytes(head[68:72], "big") not in (APPLICATION_ID, 0):
            raise NotARecording(f"{self.path} is an SQLite file but not a scalable-tui recording")
        self._con = self._connect()
        self.meta = self._read_meta()
        if self.meta.get("format") != FORMAT_NAME:
            self.close()
            raise NotARecording(f"{self.path} is an SQLite file but not a scalable-tui recording")
        version = self.meta.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            self.close()
            raise RecordingError(f"{self.path}: recording format version {version} is newer than this "
                                 f"scalable-tui reads ({FORMAT_VERSION}); upgrade scalable-tui")
        self._frames: list[_Frame] = []
        self._times: list[float] = []
        self._failures: list[_Row] = []
        self._events: list[_Row] = []
        #: The event rows that are failures (unexpected deaths, graph errors), for ``LiveSnapshot.incidents``.
        self._incident_rows: list[_Row] = []
        self._fail_cache: dict[int, LiveFailure] = {}
        self._event_cache: dict[int, LiveEvent] = {}
        self._blob_cache: dict[int, dict[str, Any]] = {}
        self._state: _State | None = None
        self._latest_fk: dict[tuple[str, str], int] = {}
        #: The stored jobs polls: (t, row id), oldest first; decoded on demand.
        self._jobs: list[tuple[float, int]] = []
        self._jobs_cache: dict[int, Any] = {}
        #: Per recorder session: the earlier sessions' workers, as departed (see _earlier_workers).
        self._carry: dict[int, dict[str, WorkerInfo]] = {}
        self.refresh()
        if self.never_connected:
            self.notices.append(self.never_connected_text())

    # -- opening ---------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        try:
            con = _open_ro(self.path)
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return con
        except sqlite3.OperationalError as e:
            if "readonly" not in str(e) and "read-only" not in str(e) and "unable to open" not in str(e):
                if "locked" in str(e):
                    raise RecordingError(f"{self.path} is locked by another process: {e}") from None
                raise RecordingError(f"cannot read {self.path}: {e}") from None
        except sqlite3.DatabaseError as e:
            if "malformed" not in str(e):
                raise NotARecording(f"{self.path} is not a scalable-tui recording ({e})") from None
            return self._open_cut_copy()
        # A recorder was killed mid-commit (hot journal) and we may not roll it back in
        # place (read-only): roll it back on a private copy instead.
        self._tmpdir = tempfile.mkdtemp(prefix="scalable-tui-rec-")
        copy = Path(self._tmpdir) / self.path.name
        shutil.copyfile(self.path, copy)
        journal = Path(str(self.path) + "-journal")
        if journal.exists():
            shutil.copyfile(journal, str(copy) + "-journal")
        self.notices.append("the recorder stopped in the middle of a write; its last, incomplete frame was rolled back")
        try:
            con = sqlite3.connect(str(copy), timeout=10.0, check_same_thread=False)
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as e:
            raise RecordingError(f"cannot read {self.path}: {e}") from None
        return con

    def _open_cut_copy(self) -> sqlite3.Connection:
        """A file cut short (a copy that stopped half-way): read the pages that are there, from a private copy
        whose header is made to agree with its length."""
        data = bytearray(self.path.read_bytes())
        size = int.from_bytes(data[16:18], "big")
        size = 65536 if size == 1 else size
        n = len(data) // size if size else 0
        if n < 1:
            raise RecordingError(f"cannot read {self.path}: the file is truncated")
        del data[n * size:]
        data[28:32] = n.to_bytes(4, "big")
        self._tmpdir = tempfile.mkdtemp(prefix="scalable-tui-rec-")
        copy = Path(self._tmpdir) / self.path.name
        copy.write_bytes(data)
        self.notices.append(f"{self.path.name} is truncated or damaged; reading what is there")
        try:
            con = sqlite3.connect(str(copy), timeout=10.0, check_same_thread=False)
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as e:
            raise RecordingError(f"cannot read {self.path}: {e}") from None
        return con

    def _read_meta(self) -> dict[str, Any]:
        try:
            rows = self._con.execute("SELECT key, value FROM meta").fetchall()
        except sqlite3.DatabaseError as e:
            self.close()
            if "no such table" in str(e):
                raise NotARecording(f"{self.path} is an SQLite file but not a scalable-tui recording") from None
            raise RecordingError(f"cannot read {self.path}: {e}") from None
        out: dict[str, Any] = {}
        for k, v in rows:
            try:
                out[k] = orjson.loads(v)
            except orjson.JSONDecodeError:
                out[k] = v
        return out

    def _rows(self, sql: str, args: tuple[Any, ...], what: str) -> Iterator[tuple[Any, ...]]:
        """Rows in order until the file ends or is damaged (then a notice, and what was read)."""
        try:
            for row in self._con.execute(sql, args):
                yield row
        except sqlite3.DatabaseError as e:
            note = f"{what}: the file is damaged or truncated ({e}); showing what could be read"
            if note not in self.notices:
                self.notices.append(note)

    def refresh(self) -> int:
        """Read frames, failures and events added since; returns the number of new frames."""
        last = self._frames[-1].seq if self._frames else -1
        new = 0
        for seq, t, session, key, base in self._rows(
            "SELECT seq, t, session, keyframe, base FROM frames WHERE seq > ? ORDER BY seq", (last,), "frames"
        ):
            if self._frames and t < self._frames[-1].t:
                t = self._frames[-1].t  # clock stepped back: keep the timeline monotonic
            self._frames.append(_Frame(seq, float(t), int(session), bool(key), int(base)))
            self._times.append(float(t))
            new += 1
        self._refresh_jobs()
        if not self._frames:
            return 0
        top = self._frames[-1].seq
        last_f = self._failures[-1].id if self._failures else -1
        for rid, frame, t, sid, key, etype, in self._rows(
            "SELECT id, frame, t, sid, key, etype FROM failures WHERE id > ? AND frame <= ? ORDER BY id",
            (last_f, top), "failures",
        ):
            fk = (sid or "", key)
            row = _Row(rid, frame, t, fk, etype or "Exception", None, update=fk in self._latest_fk)
            self._latest_fk[fk] = rid
            self._failures.append(row)
        last_e = self._events[-1].id if self._events else -1
        for rid, frame, t, kind, worker, data in self._rows(
            "SELECT id, frame, t, kind, worker, data FROM events WHERE id > ? AND frame <= ? ORDER BY id",
            (last_e, top), "events",
        ):
            row = _Row(rid, frame, t, ("", ""), kind, worker)
            if kind == "worker-removed":
                try:
                    ev = decode_event(unpack(data))
                    self._event_cache[rid] = ev
                    row.unexpected = bool(ev.details.get("unexpected"))
                except Exception:
                    pass
            self._events.append(row)
            if kind == "graph-error" or row.unexpected:
                self._incident_rows.append(row)
        if new:
            try:
                self.meta = self._read_meta()
            except RecordingError:
                pass
        return new

    def _refresh_jobs(self) -> None:
        try:  # a recording written before the jobs table existed has none
            has = self._con.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='jobs'").fetchone()
        except sqlite3.DatabaseError:
            return
        if not has:
            return
        last = self._jobs[-1][1] if self._jobs else -1
        for rid, t in self._rows("SELECT id, t FROM jobs WHERE id > ? ORDER BY id", (last,), "jobs"):
            t = float(t)
            if self._jobs and t < self._jobs[-1][0]:
                t = self._jobs[-1][0]
            self._jobs.append((t, int(rid)))

    @property
    def has_jobs(self) -> bool:
        """Did the recorder store batch-scheduler (Slurm) jobs?"""
        return bool(self._jobs)

    def jobs_times(self) -> list[float]:
        """When a (changed) jobs snapshot was stored, oldest first."""
        return [t for t, _ in self._jobs]

    def jobs_at(self, t: float) -> Any:
        """The ``JobsSnapshot`` stored last at or before ``t`` (``None``: no jobs recorded by then).

        Polls that changed nothing but times are not stored: the snapshot is the one of the last change, with
        its own ``polled_at`` (a caller showing ages and walltimes advances them to ``t``)."""
        i = bisect.bisect_right(self._jobs, t, key=lambda r: r[0]) - 1
        if i < 0:
            return None
        rid = self._jobs[i][1]
        doc = self._jobs_cache.get(rid)
        if doc is None:
            row = self._con.execute("SELECT data FROM jobs WHERE id = ?", (rid,)).fetchone()
            doc = unpack(row[0])
            if len(self._jobs_cache) > 64:
                self._jobs_cache.pop(next(iter(self._jobs_cache)))
            self._jobs_cache[rid] = doc
        return decode_jobs(doc)  # a fresh object every time: callers may adjust it

    def close(self) -> None:
        con = getattr(self, "_con", None)
        if con is not None:
            con.close()
            self._con = None  # type: ignore[assignment]
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- time ------------------------------------------------------------------
    def times(self) -> list[float]:
        """The frame (snapshot) times, oldest first."""
        return list(self._times)

    @property
    def start(self) -> float | None:
        return self._times[0] if self._times else None

    @property
    def end(self) -> float | None:
        return self._times[-1] if self._times else None

    @property
    def time_range(self) -> tuple[float, float] | None:
        return (self._times[0], self._times[-1]) if self._times else None

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def never_connected(self) -> bool:
        """True when the recorder never reached a scheduler: the file holds no cluster data, only
        failed attempts (recordings older than the ``reached`` key count as connected)."""
        return self.meta.get("reached") is False

    def never_connected_text(self) -> str:
        """One line for users: never connected, to what, and the last error."""
        last = self.meta.get("last_error")
        still = "" if self.ended else " (so far: the recorder may still be trying)"
        return (f"never connected: the recorder never reached the scheduler at {self.meta.get('address')}"
                + (f" (last error: {last})" if last else "") + still)

    @property
    def ended(self) -> bool:
        """True when the recorder stopped cleanly (end marker written)."""
        return self.meta.get("ended") is not None

    @property
    def status(self) -> str:
        """``finished`` (the scheduler went away), ``stopped`` (a signal), ``incomplete`` (recorder killed or still writing)."""
        if not self.ended:
            return "incomplete"
        reason = str(self.meta.get("end_reason") or "")
        return "finished" if reason.startswith("scheduler") else "stopped"

    # -- state -----------------------------------------------------------------
    def _index_at(self, t: float) -> int:
        if not self._frames:
            raise RecordingError(f"{self.path}: the recording has no snapshots yet")
        i = bisect.bisect_right(self._times, t) - 1
        return max(0, i)

    def _doc(self, seq: int) -> dict[str, Any]:
        doc = self._blob_cache.get(seq)
        if doc is None:
            row = self._con.execute("SELECT data FROM frames WHERE seq = ?", (seq,)).fetchone()
            doc = unpack(row[0])
            if len(self._blob_cache) > 256:
                self._blob_cache.pop(next(iter(self._blob_cache)))
            self._blob_cache[seq] = doc
        return doc

    def _state_for(self, idx: int) -> _State:
        fr = self._frames[idx]
        st = self._state
        start: _State
        if st is not None and st.seq <= fr.seq and self._base_of(st.seq) == fr.base:
            start = st.copy() if st.seq < fr.seq else st
        else:
            start = _State.from_keyframe(fr.base, self._doc(fr.base))
        if start.seq < fr.seq:
            rows = self._con.execute(
                "SELECT seq, data FROM frames WHERE seq > ? AND seq <= ? ORDER BY seq", (start.seq, fr.seq)
            ).fetchall()
            for seq, blob in rows:
                start.apply(seq, unpack(blob))
        self._state = start
        return start

    def _base_of(self, seq: int) -> int | None:
        i = self._frame_index(seq)
        return None if i is None else self._frames[i].base

    def _frame_index(self, seq: int) -> int | None:
        lo = bisect.bisect_left(self._frames, seq, key=lambda f: f.seq)
        if lo < len(self._frames) and self._frames[lo].seq == seq:
            return lo
        return None

    def _decoded(self, table: str, row: _Row, cache: dict[int, Any], decode: Callable[[Any], Any]) -> Any:
        """One stored failure or event, read and decoded on first use."""
        obj = cache.get(row.id)
        if obj is None:
            blob = self._con.execute(f"SELECT data FROM {table} WHERE id = ?", (row.id,)).fetchone()[0]
            obj = cache[row.id] = decode(unpack(blob))
        return obj

    def _failure(self, row: _Row) -> LiveFailure:
        return self._decoded("failures", row, self._fail_cache, decode_failure)

    def _event(self, row: _Row) -> LiveEvent:
        return self._decoded("events", row, self._event_cache, decode_event)

    def _failures_upto(self, seq: int) -> list[LiveFailure]:
        k = bisect.bisect_right(self._failures, seq, key=lambda r: r.frame)
        out: list[LiveFailure] = []
        pos: dict[tuple[str, str], int] = {}
        for row in self._failures[:k]:
            f = self._failure(row)
            i = pos.get(row.fk)
            if i is None:
                pos[row.fk] = len(out)
                out.append(f)
            else:
                out[i] = f
        return out

    def _events_upto(self, seq: int, limit: int | None) -> list[LiveEvent]:
        k = bisect.bisect_right(self._events, seq, key=lambda r: r.frame)
        lo = 0 if limit is None else max(0, k - limit)
        return [self._event(r) for r in self._events[lo:k]]

    def _incidents_upto(self, seq: int) -> list[LiveEvent]:
        k = bisect.bisect_right(self._incident_rows, seq, key=lambda r: r.frame)
        return [self._event(r) for r in self._incident_rows[:k]]

    def state_at(self, t: float, *, max_events: int | None = REPLAY_MAX_EVENTS) -> LiveSnapshot:
        """The snapshot as it was at time ``t``: the last frame at or before ``t`` (the first frame when ``t`` is earlier)."""
        return self._snapshot(self._index_at(t), max_events)

    def frame_at(self, t: float) -> int:
        """The ``seq`` of the frame ``state_at(t)`` shows."""
        return self._frames[self._index_at(t)].seq

    def _snapshot(self, idx: int, max_events: int | None) -> LiveSnapshot:
        fr = self._frames[idx]
        carried = self._earlier_workers(fr.session) if fr.session != self._frames[0].session else {}
        st = self._state_for(idx)
        seq = fr.seq
        snap = LiveSnapshot(address=str(st.scalars.get("address") or self.meta.get("address") or ""))
        apply_scalars(snap, st.scalars)
        # Workers of an earlier recorder session (before --append) that this one never saw stay, as departed.
        snap.workers = {k: w for k, w in carried.items() if k not in st.workers}
        snap.workers.update({k: decode_worker(k, d) for k, d in st.workers.items()})
        snap.prefixes = {k: decode_prefix(k, d) for k, d in st.prefixes.items()}
        snap.failures = self._failures_upto(seq)
        snap.failures_dropped = 0
        snap.dropped_summary = {}
        snap.events = deque(self._events_upto(seq, max_events), maxlen=max_events)
        # Every failure event up to this frame, however long the night: the display window above is capped.
        snap.incidents = deque(self._incidents_upto(seq), maxlen=snap.incidents.maxlen)
        # A restarted recorder's monitor counts events from 0 again; the file holds them all ("28 of 0 events").
        snap.events_total = max(snap.events_total, bisect.bisect_right(self._events, seq, key=lambda r: r.frame))
        return snap

    def _earlier_workers(self, session: int) -> dict[str, WorkerInfo]:
        """The workers known at the end of the sessions before ``session``, marked departed (cached)."""
        cache = self._carry
        hit = cache.get(session)
        if hit is not None:
            return hit
        out: dict[str, WorkerInfo] = {}
        last_of: dict[int, int] = {}
        for i, f in enumerate(self._frames):
            if f.session < session:
                last_of[f.session] = i
        saved = self._state
        for i in sorted(last_of.values()):
            t = self._frames[i].t
            for k, d in self._state_for(i).workers.items():
                w = decode_worker(k, d)
                if w.alive:
                    w.alive, w.status, w.left_at = False, "left", t
                    w.left_reason = "not seen again after a gap in the recording (the recorder was restarted)"
                out[k] = w
        self._state = saved
        cache[session] = out
        return out

"""Recordings of a live cluster: the file format, and its reader/replayer.

``scalable-tui record`` (``scalable_tui.sources.recording.writer``) polls a scheduler with the
same ``LiveSource`` as ``attach`` and writes one file; this module reads it
back as ``LiveSnapshot`` objects at any moment, so every screen of the app and
the assistant work on the past exactly as on the present.

File format (``format = "scalable-tui-recording"``, ``format_version = 1``)
=========================================================================

One SQLite 3 database (standard library ``sqlite3``), in rollback-journal mode
(``journal_mode=DELETE``, ``synchronous=FULL``): at rest it is one file (the
``-journal`` exists only during a commit).  The SQLite header carries
``application_id = 0x73747569`` ("stui") and ``user_version = format_version``,
so a file is recognised from its first 100 bytes without running SQL.

Every poll is written as one transaction (a *frame*): the frame row and the
failures and events that were new in that poll commit together or not at all.
A ``kill -9`` of the recorder loses at most the frame being written; a hot
journal left behind is rolled back by the next reader (on a private copy if
the file is read-only).

Payloads (``data`` columns) are ``zlib``-compressed ``orjson`` documents.

``meta(key TEXT PRIMARY KEY, value TEXT)`` -- one JSON value per key:
  ``format`` ("scalable-tui-recording"), ``format_version`` (1),
  ``created`` (epoch seconds), ``created_iso``, ``writer`` ("scalable-tui 0.1.0"),
  ``address`` (as given), ``scheduler_address``, ``scheduler_ids`` (every
  scheduler id seen, in order), ``client_versions``, ``scheduler_versions``,
  ``reached`` (false until a frame from a connected scheduler was written;
  absent in older files: see ``Recording.never_connected``), ``last_error``
  (while never reached: the last connection error, e.g. "down: connection
  refused ..."), ``interval`` (seconds), ``keyframe_every`` (frames), ``sessions`` (one
  ``{"started", "ended", "end_reason"}`` per recorder run: ``--append`` adds
  one), ``ended`` / ``end_reason`` (set by a clean stop: the scheduler went
  away, or a signal; absent when the recorder was killed or still runs).

``frames(seq INTEGER PRIMARY KEY, t REAL, session INTEGER, keyframe INTEGER, base INTEGER, data BLOB)``
  ``t``: when the poll returned (this machine's clock, epoch seconds); ``seq``
  increases by one per frame.  ``keyframe = 1``: ``data`` is the full state;
  ``0``: only what changed since the previous frame, which is frame ``seq-1``;
  ``base`` is the keyframe the chain starts from.  A keyframe is written
  every ``keyframe_every`` frames (default 60: 5 minutes at 5 s) and at the
  start of each session.  ``data`` is::

      {"s": {scalar: value},             # LiveSnapshot scalars (link, polls, counts, ...)
       "w": {worker_key: {field: value}},  # WorkerInfo fields, keyed by worker name
       "p": {prefix: {field: value}},      # PrefixCounts fields
       "h": {"k": [...], "f": [...], "d": [[...]]},  # deltas only: hot worker columns (below)
       "wx": [worker_key, ...],            # deltas only: removed from the table
       "px": [prefix, ...]}                # deltas only

  The fields that change on nearly every poll (``memory``, ``managed``,
  ``unmanaged``, ``spilled``, ``cpu``, ``executing``, ``ready``,
  ``in_memory``, ``processing``, ``last_seen``) travel in a delta as columns
  of differences: ``h.f`` names the fields (those with any change),
  ``h.d[i][j]`` is the change of field ``h.f[i]`` for worker ``h.k[j]``
  (``h.k`` absent: the worker order of the frame's keyframe ``w``; the
  ``last_seen`` change is in tenths of a second; ``null``: not a number in
  one of the two frames, the new value is then in ``w``).

  In a keyframe every record is complete; in a delta a record holds only the
  fields that changed (a new record is complete).  A scalar or field that
  went back to its default is written with the default value.  Stored
  precision: ``memory``/``managed``/``unmanaged``/``spilled`` in MiB
  (integers; ``memory_limit`` exact), ``cpu`` in whole percent, ``last_seen``
  to 0.1 s, other times to 0.01 s, ``throughput``/``duration_average`` to 3 significant digits.

``failures(id INTEGER PRIMARY KEY, frame INTEGER, t REAL, sid TEXT, key TEXT, prefix TEXT, etype TEXT, occurrences INTEGER, origin TEXT, data BLOB)``
  Append-only: each failed task once (``data``: every ``LiveFailure`` field,
  traceback included), in the frame in which it was first seen.  When the
  scheduler reports the same task again (a retry erred again, or a log-line
  failure upgraded to full detail) a new row with the same ``(sid, key)``
  replaces the earlier one from its frame on.  ``t`` is when it erred.

``events(id INTEGER PRIMARY KEY, frame INTEGER, t REAL, kind TEXT, worker TEXT, data BLOB)``
  Append-only: each ``LiveEvent`` once (``data``: ts, kind, worker, text,
  address, details), in the frame in which it was first seen; ``t`` is when
  it happened.  Worker deaths are ``kind = 'worker-removed'`` events with
  ``details.unexpected``.

``jobs(id INTEGER PRIMARY KEY, t REAL, session INTEGER, data BLOB)`` (optional: absent in older files)
  Batch-scheduler (Slurm) jobs, when the recorder polled a job source: one row
  per jobs poll that changed something (``data``: ``JobsSnapshot.to_dict()``
  plus ``commands``; an UNLIMITED limit is ``time_limit_s: null, unlimited:
  true``).  A poll that differs from the last stored one only in
  ``polled_at``, ``last_ok``, ``poll_duration_s``, ``commands`` or a job's
  ``elapsed_s``, ``time_left_s``, ``last_seen`` is not stored; the first poll
  of each session always is.  ``t`` is when the poll ran.
  ``Recording.jobs_at(t)`` is the last row with ``jobs.t <= t``.

Replay: the state at time ``t`` is the last frame with ``frame.t <= t``:
its keyframe plus the deltas up to it, with every failure and event whose
``frame`` is at most that frame.  A replayed snapshot lists all failures of
the recording up to that moment (the recording keeps every one; the live
monitor's detail cap does not apply: ``failures_dropped`` is 0), and its
``events`` deque holds the newest 5000 (``events_between`` has them all).

Compatibility: readers refuse a ``format_version`` greater than theirs; new
optional meta keys, columns, scalars and fields may be added without a bump
(readers ignore what they do not know).
"""

from __future__ import annotations

import bisect
import os
import shutil
import sqlite3
import tempfile
import time
import zlib
from collections import deque
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable, Iterator

import orjson

from scalable_tui.model.live import LiveEvent, LiveFailure, LiveSnapshot, PrefixCounts, WorkerInfo
from scalable_tui.model.run import RunState, TaskTotals

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

FORMAT_NAME = "scalable-tui-recording"
FORMAT_VERSION = 1
#: SQLite header ``application_id`` (bytes 68..71): "stui".
APPLICATION_ID = 0x73747569
SQLITE_MAGIC = b"SQLite format 3\x00"
#: Events kept in a replayed snapshot's deque (as the live source does).
REPLAY_MAX_EVENTS = 5000

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS frames(
    seq INTEGER PRIMARY KEY, t REAL NOT NULL, session INTEGER NOT NULL,
    keyframe INTEGER NOT NULL, base INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS failures(
    id INTEGER PRIMARY KEY, frame INTEGER NOT NULL, t REAL, sid TEXT, key TEXT NOT NULL, prefix TEXT,
    etype TEXT, occurrences INTEGER, origin TEXT, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS events(
    id INTEGER PRIMARY KEY, frame INTEGER NOT NULL, t REAL, kind TEXT NOT NULL, worker TEXT, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS jobs(
    id INTEGER PRIMARY KEY, t REAL NOT NULL, session INTEGER NOT NULL, data BLOB NOT NULL);
"""
#: The optional ``jobs`` table alone (added to a recording written before it existed, on ``--append``).
JOBS_SCHEMA = SCHEMA[SCHEMA.index("CREATE TABLE IF NOT EXISTS jobs("):]

#: ``JobsSnapshot`` / ``Job`` fields that change on every poll without anything happening; a poll that differs
#: from the last stored one only in these is not stored again (``jobs_at`` replays them from the stored one).
JOBS_VOLATILE = frozenset({"polled_at", "last_ok", "poll_duration_s", "commands"})
JOB_VOLATILE = frozenset({"elapsed_s", "time_left_s", "last_seen"})


class RecordingError(Exception):
    """A recording cannot be read (the CLI prints it as one line, exit 2)."""


class NotARecording(RecordingError):
    """The file is not a scalable-tui recording."""


# -- codec (shared with the writer) --------------------------------------------
MIB = 2**20
WORKER_FIELDS = tuple(f.name for f in fields(WorkerInfo) if f.name != "key")
PREFIX_FIELDS = tuple(f.name for f in fields(PrefixCounts) if f.name != "name")
_WORKER_MIB = frozenset({"memory", "managed", "unmanaged", "spilled"})
_WORKER_TIMES = frozenset({"first_seen", "left_at"})
#: Worker fields that change on nearly every poll: deltas carry them as columns of differences.
HOT_FIELDS = ("memory", "managed", "unmanaged", "spilled", "cpu", "executing", "ready", "in_memory", "processing",
              "last_seen")
#: LiveSnapshot fields stored per frame (containers handled by the tables or below).
_SNAP_SKIP = frozenset({"workers", "prefixes", "failures", "events"})
SCALAR_FIELDS = tuple(f.name for f in fields(LiveSnapshot) if f.name not in _SNAP_SKIP)
_SCALAR_ROUND2 = frozenset({"disconnected_since", "retry_at", "last_poll_ok", "scheduler_started", "attached_at"})
_SCALAR_ROUND1 = frozenset({"poll_latency_ms", "scheduler_ms"})


def _sig3(x: float | None) -> float | None:
    if x is None:
        return None
    return float(f"{x:.3g}")


def encode_worker(w: WorkerInfo) -> dict[str, Any]:
    d: dict[str, Any] = {}
    for f in WORKER_FIELDS:
        v = getattr(w, f)
        if v is not None:
            if f in _WORKER_MIB:
                v = round(v / MIB)
            elif f in _WORKER_TIMES:
                v = round(v, 2)
            elif f == "last_seen":
                v = round(v, 1)
            elif f == "cpu":
                v = round(v)
            elif f == "previous_addresses":
                v = list(v)
        d[f] = v
    return d


def decode_worker(key: str, d: dict[str, Any]) -> WorkerInfo:
    w = WorkerInfo(key=key, name=str(d.get("name", key)), address=str(d.get("address", "")))
    for f in WORKER_FIELDS:
        if f in d and f not in ("name", "address"):
            v = d[f]
            if f in _WORKER_MIB and v is not None:
                v = int(v) * MIB
            elif f == "previous_addresses":
                v = list(v or ())
            setattr(w, f, v)
    return w


def encode_prefix(p: PrefixCounts) -> dict[str, Any]:
    d = {f: getattr(p, f) for f in PREFIX_FIELDS}
    d["throughput"] = _sig3(d["throughput"])
    d["duration_average"] = _sig3(d["duration_average"])
    return d


def decode_prefix(name: str, d: dict[str, Any]) -> PrefixCounts:
    p = PrefixCounts(name=name)
    for f in PREFIX_FIELDS:
        if f in d:
            setattr(p, f, d[f])
    return p


def _pairs(d: dict[tuple[str, str], Any]) -> list[list[Any]]:
    return [[a, b, v] for (a, b), v in d.items()]


def encode_scalars(s: LiveSnapshot) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in SCALAR_FIELDS:
        v = getattr(s, f)
        if f in ("failure_counts", "dropped_summary"):
            v = _pairs(v)
        elif isinstance(v, float):
            if f in _SCALAR_ROUND2:
                v = round(v, 2)
            elif f in _SCALAR_ROUND1:
                v = round(v, 1)
            elif f == "clock_offset":
                v = round(v, 4)
        out[f] = v
    return out


def apply_scalars(snap: LiveSnapshot, d: dict[str, Any]) -> None:
    for f, v in d.items():
        if f not in SCALAR_FIELDS:
            continue  # a newer writer's field
        if f in ("failure_counts", "dropped_summary"):
            v = {(a, b): x for a, b, x in v}
        elif f in ("client_versions", "scheduler_versions", "event_counts"):
            v = dict(v)
        elif f == "memory_evidence":
            v = {k: list(x) for k, x in v.items()}
        elif f in ("limited_panels", "notices"):
            v = list(v)
        setattr(snap, f, v)


def diff_records(prev: dict[str, dict[str, Any]], cur: dict[str, dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Changed/new records (a new one complete) and the keys that are gone."""
    changed: dict[str, dict[str, Any]] = {}
    for k, d in cur.items():
        p = prev.get(k)
        if p is None:
            changed[k] = d
            continue
        ch = {f: v for f, v in d.items() if f not in p or p[f] != v}
        if ch:
            changed[k] = ch
    gone = [k for k in prev if k not in cur]
    return changed, gone


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def diff_workers(prev: dict[str, dict[str, Any]], cur: dict[str, dict[str, Any]],
                 order: list[str]) -> dict[str, Any]:
    """The delta document part for workers: ``h`` (hot columns), ``w`` (other changes), ``wx`` (gone).

    ``h = {"k": keys or absent (= the keyframe's order), "f": [field, ...], "d": [[difference per key], ...]}``:
    for each listed field, the difference from the previous frame for each key (``last_seen`` in tenths of
    a second; ``null``: not a number in one of the two frames, the new value is then in ``w``).
    """
    keys = [k for k in order if k in prev and k in cur]
    out: dict[str, Any] = {}
    hot_cols: list[str] = []
    cols: list[list[Any]] = []
    covered: set[tuple[str, str]] = set()
    for f in HOT_FIELDS:
        col: list[Any] = []
        nonzero = False
        for k in keys:
            a, b = prev[k].get(f), cur[k].get(f)
            if _num(a) and _num(b):
                d = round((b - a) * 10) if f == "last_seen" else b - a
                col.append(d)
                covered.add((k, f))
                nonzero = nonzero or d != 0
            else:
                col.append(None)
        if nonzero:
            hot_cols.append(f)
            cols.append(col)
    if hot_cols:
        h: dict[str, Any] = {"f": hot_cols, "d": cols}
        if keys != order:
            h["k"] = keys
        out["h"] = h
    changed: dict[str, dict[str, Any]] = {}
    for k, d in cur.items():
        p = prev.get(k)
        if p is None:
            changed[k] = d
            continue
        ch = {f: v for f, v in d.items() if (f not in p or p[f] != v) and (k, f) not in covered}
        if ch:
            changed[k] = ch
    if changed:
        out["w"] = changed
    gone = [k for k in prev if k not in cur]
    if gone:
        out["wx"] = gone
    return out


def diff_flat(prev: dict[str, Any], cur: dict[str, Any]) -> dict[str, Any]:
    return {f: v for f, v in cur.items() if f not in prev or prev[f] != v}


def pack(doc: Any) -> bytes:
    return zlib.compress(orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS, default=str), 6)


def unpack(blob: bytes) -> Any:
    return orjson.loads(zlib.decompress(blob))


def encode_failure(f: LiveFailure) -> dict[str, Any]:
    return {x.name: getattr(f, x.name) for x in fields(LiveFailure)}


def decode_failure(d: dict[str, Any]) -> LiveFailure:
    known = {x.name for x in fields(LiveFailure)}
    kw = {k: v for k, v in d.items() if k in known}
    kw.setdefault("key", "?")
    kw.setdefault("prefix", kw["key"])
    kw.setdefault("exception_type", "Exception")
    kw.setdefault("exception", "")
    kw.setdefault("traceback", None)
    kw.setdefault("erred_on", [])
    kw.setdefault("first_seen", 0.0)
    return LiveFailure(**kw)


def encode_event(e: LiveEvent) -> dict[str, Any]:
    return {"ts": e.ts, "kind": e.kind, "worker": e.worker, "text": e.text, "address": e.address,
            "details": e.details}


def decode_event(d: dict[str, Any]) -> LiveEvent:
    return LiveEvent(ts=float(d.get("ts") or 0.0), kind=str(d.get("kind") or "?"), worker=d.get("worker"),
                     text=str(d.get("text") or ""), address=d.get("address"), details=dict(d.get("details") or {}))


# -- detection -------------------------------------------------------------------
def encode_jobs(snap: Any) -> dict[str, Any]:
    """A ``JobsSnapshot`` as a JSON document (``Job.to_dict``: an UNLIMITED limit is ``null`` + ``unlimited``)."""
    d = snap.to_dict()
    d["commands"] = list(snap.commands)
    return d


def decode_jobs(d: dict[str, Any]) -> Any:
    from scalable_tui.model.jobs import Job, JobsSnapshot

    known_job = {f.name for f in fields(Job)}
    jobs = []
    for jd in d.get("jobs") or []:
        unlimited = jd.get("unlimited")
        kw = {k: v for k, v in jd.items() if k in known_job}
        if unlimited and kw.get("time_limit_s") is None:
            kw["time_limit_s"] = float("inf")
        jobs.append(Job(**kw))
    known = {f.name for f in fields(JobsSnapshot)} - {"jobs"}
    return JobsSnapshot(jobs=jobs, **{k: v for k, v in d.items() if k in known})


def jobs_signature(doc: dict[str, Any]) -> dict[str, Any]:
    """What must differ for a jobs poll to be stored again (``doc`` from ``encode_jobs``)."""
    out = {k: v for k, v in doc.items() if k not in JOBS_VOLATILE and k != "jobs"}
    out["jobs"] = [{k: v for k, v in j.items() if k not in JOB_VOLATILE} for j in doc.get("jobs") or []]
    return out


def _sum_prefixes(per_prefix: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for counts in per_prefix:
        for k, v in counts.items():
            out[k] = out.get(k, 0) + v
    return out


def _dur(seconds: float) -> str:
    s = int(seconds)
    if s >= 3600:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s}s"


def is_recording(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a file whose SQLite header carries our application id (reads 100 bytes)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(100)
    except OSError:
        return False
    return len(head) >= 72 and head[:16] == SQLITE_MAGIC and int.from_bytes(head[68:72], "big") == APPLICATION_ID


# -- reader ----------------------------------------------------------------------
@dataclass(slots=True)
class Mark:
    """A moment to jump to: ``t`` is the frame time at which ``item`` is first visible (``state_at(t)`` has it)."""

    t: float
    frame: int
    item: LiveFailure | LiveEvent


@dataclass(slots=True)
class Gap:
    """Time the recording did not see: between the frames at ``before`` and ``after``."""

    before: float
    after: float
    #: Why, in a few words ("the recorder was restarted", "no snapshot for 5m 20s", "the scheduler restarted").
    reason: str

    @property
    def seconds(self) -> float:
        return self.after - self.before


#: A pause between snapshots longer than this many intervals is a gap (a stalled or killed recorder).
GAP_INTERVALS = 3.0


@dataclass(slots=True)
class _Frame:
    seq: int
    t: float
    session: int
    keyframe: bool
    base: int


@dataclass(slots=True)
class _Row:
    id: int
    frame: int
    t: float | None
    fk: tuple[str, str]
    kind: str
    worker: str | None
    #: True for a failure row that replaces an earlier row of the same task.
    update: bool = False
    unexpected: bool = False


class _State:
    """Decoded (still encoded-dict) state at one frame."""

    __slots__ = ("seq", "scalars", "workers", "prefixes", "order")

    def __init__(self, seq: int, scalars: dict[str, Any], workers: dict[str, dict[str, Any]],
                 prefixes: dict[str, dict[str, Any]], order: list[str]) -> None:
        self.seq = seq
        self.scalars = scalars
        self.workers = workers
        self.prefixes = prefixes
        #: The keyframe's worker order (what ``h`` columns refer to when they list no keys).
        self.order = order

    @classmethod
    def from_keyframe(cls, seq: int, kf: dict[str, Any]) -> _State:
        w = {k: dict(v) for k, v in (kf.get("w") or {}).items()}
        return cls(seq, dict(kf.get("s") or {}), w, {k: dict(v) for k, v in (kf.get("p") or {}).items()}, list(w))

    def copy(self) -> _State:
        return _State(self.seq, dict(self.scalars), {k: dict(v) for k, v in self.workers.items()},
                      {k: dict(v) for k, v in self.prefixes.items()}, self.order)

    def apply(self, seq: int, doc: dict[str, Any]) -> None:
        self.seq = seq
        self.scalars.update(doc.get("s") or {})
        h = doc.get("h")
        if h:
            keys = h.get("k") or self.order
            for f, col in zip(h.get("f") or (), h.get("d") or ()):
                for k, d in zip(keys, col):
                    if d is None:
                        continue
                    rec = self.workers.get(k)
                    if rec is None or not _num(rec.get(f)):
                        continue
                    rec[f] = round(rec[f] + d / 10, 1) if f == "last_seen" else rec[f] + d
        for k, ch in (doc.get("w") or {}).items():
            cur = self.workers.get(k)
            if cur is None:
                self.workers[k] = dict(ch)
            else:
                cur.update(ch)
        for k in doc.get("wx") or ():
            self.workers.pop(k, None)
        for k, ch in (doc.get("p") or {}).items():
            cur = self.prefixes.get(k)
            if cur is None:
                self.prefixes[k] = dict(ch)
            else:
                cur.update(ch)
        for k in doc.get("px") or ():
            self.prefixes.pop(k, None)


def _open_ro(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10.0, check_same_thread=False)
    con.execute("PRAGMA query_only=1")
    return con


class Recording:
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

    # -- time --------------------------------------------------------------------
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

    def _index_at(self, t: float) -> int:
        if not self._frames:
            raise RecordingError(f"{self.path}: the recording has no snapshots yet")
        i = bisect.bisect_right(self._times, t) - 1
        return max(0, i)

    # -- state -------------------------------------------------------------------
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

    def gaps(self) -> list[Gap]:
        """Where the recording is blind: a new recorder session, a pause of several intervals, a scheduler restart."""
        out: list[Gap] = []
        interval = self.meta.get("interval")
        limit = GAP_INTERVALS * float(interval) if isinstance(interval, (int, float)) and interval > 0 else None
        restarts = {r.frame for r in self._events if r.kind == "scheduler-restarted"}
        prev: _Frame | None = None
        for f in self._frames:
            if prev is not None:
                dt = f.t - prev.t
                if f.session != prev.session:
                    out.append(Gap(prev.t, f.t, f"the recorder was restarted; nothing recorded for {_dur(dt)}"))
                elif f.seq in restarts:
                    out.append(Gap(prev.t, f.t, "the scheduler restarted (new scheduler id)"))
                elif limit is not None and dt > limit:
                    out.append(Gap(prev.t, f.t, f"no snapshot for {_dur(dt)} (recorder stalled or scheduler unreachable)"))
            prev = f
        return out

    # -- jumps -------------------------------------------------------------------
    def _frame_time(self, seq: int) -> float:
        i = self._frame_index(seq)
        if i is None:  # pragma: no cover - rows always belong to a written frame
            i = min(len(self._frames) - 1, bisect.bisect_left(self._frames, seq, key=lambda f: f.seq))
        return self._frames[i].t

    def _after(self, t: float) -> int:
        """Rows whose frame is after the frame shown at ``t`` (or all, when ``t`` is before the start)."""
        if not self._frames or t < self._times[0]:
            return -1
        return self._frames[self._index_at(t)].seq

    def next_failure_after(self, t: float) -> Mark | None:
        """The first new failed task that becomes visible after the frame shown at ``t``."""
        seq = self._after(t)
        k = bisect.bisect_right(self._failures, seq, key=lambda r: r.frame)
        for row in self._failures[k:]:
            if not row.update:
                return Mark(self._frame_time(row.frame), row.frame, self._failure(row))
        return None

    def next_worker_death_after(self, t: float, *, include_expected: bool = False) -> Mark | None:
        """The first worker departure (unexpected ones only, by default) visible after the frame shown at ``t``."""
        seq = self._after(t)
        k = bisect.bisect_right(self._events, seq, key=lambda r: r.frame)
        for row in self._events[k:]:
            if row.kind == "worker-removed" and (include_expected or row.unexpected):
                return Mark(self._frame_time(row.frame), row.frame, self._event(row))
        return None

    def failures_between(self, t0: float, t1: float) -> list[LiveFailure]:
        """Failed tasks (latest version of each) that erred in ``[t0, t1]`` (their own time)."""
        seen: dict[tuple[str, str], LiveFailure] = {}
        for row in self._failures:
            if row.t is not None and t0 <= row.t <= t1:
                seen[row.fk] = self._failure(row)
        return list(seen.values())

    def events_between(self, t0: float, t1: float) -> list[LiveEvent]:
        """Every recorded event that happened in ``[t0, t1]`` (its own time), in recorded order."""
        return [self._event(r) for r in self._events if r.t is not None and t0 <= r.t <= t1]

    def worker_deaths(self) -> list[Mark]:
        return [Mark(self._frame_time(r.frame), r.frame, self._event(r))
                for r in self._events if r.kind == "worker-removed" and r.unexpected]

    @property
    def n_failures(self) -> int:
        return len(self._latest_fk)

    @property
    def n_events(self) -> int:
        return len(self._events)

    # -- the whole night, for the assistant ------------------------------------
    def whole_run_state(self) -> RunState:
        """A ``RunState`` covering the whole recording: every failure, every departure and event."""
        if not self._frames:
            raise RecordingError(f"{self.path}: the recording has no snapshots")
        snap = self._snapshot(len(self._frames) - 1, None)
        state = snap.to_run_state()
        totals = self._totals_over_schedulers()
        if totals is not None:
            state.task_totals = totals
        meta = state.meta
        meta.status = self.status
        if self.status != "incomplete":
            from datetime import datetime, timezone

            end = self.meta.get("ended") or self.end
            meta.finished_at = datetime.fromtimestamp(float(end), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        ids = self.meta.get("scheduler_ids") or []
        if ids:
            meta.run_id = str(ids[-1]) if len(ids) == 1 else f"{ids[0]} (+{len(ids) - 1} more)"
        meta.extra.update({
            "source": "recording",
            "recording": str(self.path),
            "recording_start": self.start,
            "recording_end": self.end,
            "frames": len(self._frames),
            "end_reason": self.meta.get("end_reason"),
            "never_connected": self.never_connected,
        })
        state.run_dir = str(self.path)
        if state.summary is not None:
            state.summary["source"] = "recording"
        state.first_event_ts = min([self.start or time.time()] + [f.ts for f in state.failures if f.ts])
        return state

    def _totals_over_schedulers(self) -> TaskTotals | None:
        """Task totals summed over every scheduler the recording saw (None: only one).

        A restarted scheduler starts its task-prefix counts from zero (and the
        live source resets them), so the last frame alone would forget the
        tasks of the schedulers before it.  Each scheduler's last observed counts
        are taken: the frame before a ``scheduler-restarted`` event, and the last
        frame of each recorder session.
        """
        if len(self.meta.get("scheduler_ids") or []) < 2:
            return None
        ends: set[int] = {len(self._frames) - 1}
        for i in range(1, len(self._frames)):
            if self._frames[i].session != self._frames[i - 1].session:
                ends.add(i - 1)
        for r in self._events:
            if r.kind == "scheduler-restarted":
                i = self._frame_index(r.frame)
                if i:
                    ends.add(i - 1)
        saved = self._state
        last: dict[str, dict[str, int]] = {}
        for i in sorted(ends):  # later observations of one scheduler replace earlier ones
            st = self._state_for(i)
            sid = str(st.scalars.get("scheduler_id") or "")
            last[sid] = _sum_prefixes(decode_prefix(n, d).as_dict() for n, d in st.prefixes.items())
        self._state = saved
        return TaskTotals.from_scheduler(last.values())

    def summary(self) -> dict[str, Any]:
        """Counts for a one-line description."""
        return {
            "frames": len(self._frames),
            "start": self.start,
            "end": self.end,
            "failures": self.n_failures,
            "events": len(self._events),
            "worker_deaths": sum(1 for r in self._events if r.kind == "worker-removed" and r.unexpected),
            "status": self.status,
        }

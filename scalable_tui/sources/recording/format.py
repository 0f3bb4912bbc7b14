"""The recording file format: schema, constants and the frame codec shared by writer and reader.

``scalable-tui record`` (``scalable_tui.session.record``) polls a scheduler and writes one file
with ``RecordingWriter`` (``writer.py``); ``Recording`` (``reader.py``) reads it back as
``LiveSnapshot`` objects at any moment.  This module is the contract between them.

Over ~400 lines on purpose: about a hundred of them are the format's specification
below, kept next to the code that implements it.

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

import os
import zlib
from dataclasses import fields
from typing import Any

import orjson

from scalable_tui.model.live import LiveEvent, LiveFailure, LiveSnapshot, PrefixCounts, WorkerInfo

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
_SNAP_SKIP = frozenset({"workers", "prefixes", "failures", "events", "incidents"})
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
        elif f in ("client_versions", "scheduler_versions", "event_counts", "earlier_totals"):
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


def is_recording(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a file whose SQLite header carries our application id (reads 100 bytes)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(100)
    except OSError:
        return False
    return len(head) >= 72 and head[:16] == SQLITE_MAGIC and int.from_bytes(head[68:72], "big") == APPLICATION_ID

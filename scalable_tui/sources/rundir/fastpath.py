"""Templated-line fast paths: recognise a line that differs from a decoded one only in its ids and times.

Most lines of ``tasks.jsonl`` and ``resources.jsonl`` repeat another line with
a different ``task_id``/``entity_id`` and ``timestamp`` (and, for finished
tasks, ``duration_s`` and ``worker``).  The hot loops (``tasks.py``,
``fold.py``) cut those values out and reuse the decoded fields of the
template; the checks here make that exact (the template was decoded by
orjson, the cut-out values really are those fields, and a reused value needs
no JSON unescaping).  Also the column growth helpers of ``TaskTable``.
"""

from __future__ import annotations

import math
from array import array
from typing import Any, Callable

import orjson

from scalable_tui.model.run import TaskTable
from scalable_tui.sources.rundir.values import KNOWN_SCHEMA


_TEMPLATE_STATES = frozenset({"submitted", "running"})


_TID_MARK = b'"task_id": "'
_TS_MARK = b'"timestamp": "'
_EID_MARK = b'"entity_id": "'
_DUR_MARK = b'"duration_s": '
_WK_MARK = b'"worker": "'
_PROBE = "~probe~"
_MISS: Any = object()
_NAN8 = array("d", [math.nan]).tobytes()


def _grow(t: TaskTable, n: int) -> None:
    """Preallocate ``n`` default rows past ``len(t.ids)`` (see ``_trim``)."""
    zeros = bytes(4 * n)
    for a in (t.state, t.name, t.component, t.tag, t.function):
        a.frombytes(zeros)
    nans = _NAN8 * n
    for a in (t.submitted_ts, t.last_ts, t.duration):
        a.frombytes(nans)


def _trim(t: TaskTable) -> None:
    """Cut the columns back to the number of rows (undo unused preallocation)."""
    n = len(t.ids)
    for a in (t.state, t.name, t.component, t.tag, t.function, t.submitted_ts, t.last_ts, t.duration):
        del a[n:]


def _probe_ok(obj: dict[str, Any], head: bytes, mark1: bytes, key1: str, mid: bytes, mark2: bytes, key2: str,
              tail: bytes) -> bool:
    """Do the two cut-out values (and only they) decide ``obj[key1]`` and ``obj[key2]``?

    Re-decodes the line with different values in the two slots: exact even with
    duplicate keys or look-alike text elsewhere in the line.
    """
    probe = _PROBE.encode()
    try:
        other = orjson.loads(head + mark1 + probe + b'"' + mid + mark2 + probe + b'"' + tail)
    except orjson.JSONDecodeError:
        return False
    expect = dict(obj)
    expect[key1] = _PROBE
    expect[key2] = _PROBE
    return other == expect


def _plain(raw: bytes, value: Any) -> bool:
    """Is ``value`` exactly the JSON string whose raw bytes are ``raw`` (no escapes)?"""
    if type(value) is not str or b"\\" in raw:
        return False
    try:
        return raw.decode() == value and value.isprintable()
    except UnicodeDecodeError:
        return False


def _templatable(obj: dict[str, Any], head: bytes, tidb: bytes, mid: bytes, tsb: bytes, tail: bytes) -> bool:
    """May lines equal to this one but for task_id/timestamp reuse its decoded fields?"""
    if obj.get("state") not in _TEMPLATE_STATES:
        return False
    if not _plain(tidb, obj.get("task_id")) or not _plain(tsb, obj.get("timestamp")):
        return False
    if (
        obj.get("error_type") is not None
        or obj.get("error_message") is not None
        or obj.get("worker") is not None
        or obj.get("duration_s") is not None
    ):
        return False
    sv = obj.get("schema_version")
    if isinstance(sv, int) and sv > KNOWN_SCHEMA:
        return False
    if not all(type(obj.get(k)) in (str, type(None)) for k in ("task_name", "component", "tag", "function_name")):
        return False
    return _probe_ok(obj, head, _TID_MARK, "task_id", mid, _TS_MARK, "timestamp", tail)


def _json_duration(raw: bytes) -> float | None:
    """``raw`` as a non-negative JSON number in plain decimal form, else None (take the slow path)."""
    a, dot, b = raw.partition(b".")
    if not a.isdigit() or (dot and not b.isdigit()) or (len(a) > 1 and a[0] == 48):
        return None
    return float(raw)


def _done_templatable(obj: dict[str, Any], h1: bytes, db: bytes, h2: bytes, tidb: bytes, mid: bytes, tsb: bytes,
                      t1: bytes, wb: bytes, t2: bytes) -> bool:
    """May lines equal to this one but for duration, task_id, timestamp and worker reuse its fields?

    The finished-task twin of ``_templatable``: a succeeded line differs from
    its neighbours in four values.  Probed the same way (four slots re-decoded
    with other values), so the cut-outs are exactly those four fields.
    """
    state = obj.get("state")
    if type(state) is not str or state in _TEMPLATE_STATES or state == "failed":
        return False
    if obj.get("error_type") is not None or obj.get("error_message") is not None:
        return False
    d = obj.get("duration_s")
    if type(d) not in (int, float) or _json_duration(db) is None or float(d) != _json_duration(db):
        return False
    if not (_plain(tidb, obj.get("task_id")) and _plain(tsb, obj.get("timestamp")) and _plain(wb, obj.get("worker"))):
        return False
    sv = obj.get("schema_version")
    if isinstance(sv, int) and sv > KNOWN_SCHEMA:
        return False
    if not all(type(obj.get(k)) in (str, type(None)) for k in ("task_name", "component", "tag", "function_name")):
        return False
    probe = _PROBE.encode()
    try:
        other = orjson.loads(h1 + _DUR_MARK + b"12345.5," + h2 + _TID_MARK + probe + b'"' + mid + _TS_MARK + probe
                             + b'"' + t1 + _WK_MARK + probe + b'"' + t2)
    except orjson.JSONDecodeError:
        return False
    expect = dict(obj)
    expect.update(duration_s=12345.5, task_id=_PROBE, timestamp=_PROBE, worker=_PROBE)
    return other == expect


def _template_fields(obj: dict[str, Any], intern: Callable[[Any], int], submitted_id: int) -> tuple[Any, ...]:
    """What a templated line sets: (state, name, component, tag, function, all four names set, is submit)."""
    nm = intern(obj.get("task_name"))
    cp = intern(obj.get("component"))
    tg = intern(obj.get("tag"))
    fn = intern(obj.get("function_name"))
    st = intern(obj["state"])
    return st, nm, cp, tg, fn, bool(nm and cp and tg and fn), st == submitted_id

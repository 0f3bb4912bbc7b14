"""The run-directory source: Scalable telemetry files -> ``RunState``.

Tolerant (never raises on bad input: it counts and reports what it skipped),
incremental (``refresh()`` reads only appended bytes) and lean (orjson on raw
bytes, columnar task state, no model validation per line).  It opens files
read-only and never writes into the run directory.
"""

from __future__ import annotations

import gc
import math
import os
from array import array
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import orjson

from scalable_tui.model.run import (
    FailureRecord,
    FileIssues,
    ResourceProfile,
    RunMeta,
    RunState,
    TaskTable,
    WorkerEvent,
)
from scalable_tui.sources.rundir.jsonl import JsonlTail

KNOWN_SCHEMA = 1
STREAMS = ("tasks", "failures", "resources", "workers", "cache", "artifacts", "cost")
#: Failure records whose traceback is longer than this keep the head and the tail.
MAX_TRACEBACK_CHARS = 20_000

_TS_CACHE: dict[str, float | None] = {}


def parse_ts(value: Any) -> float | None:
    """ISO-8601 (``…Z``) to epoch seconds; cached because seconds repeat a lot."""
    if not isinstance(value, str):
        return None
    hit = _TS_CACHE.get(value, -1.0)
    if hit != -1.0:
        return hit  # type: ignore[return-value]
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
        if dt.tzinfo is None:
            from datetime import timezone

            dt = dt.replace(tzinfo=timezone.utc)
        out: float | None = dt.timestamp()
    except ValueError:
        out = None
    if len(_TS_CACHE) > 200_000:
        _TS_CACHE.clear()
    _TS_CACHE[value] = out
    return out


def _str_or_none(v: Any) -> str | None:
    return v if isinstance(v, str) else None


@dataclass(slots=True)
class RefreshResult:
    """What one ``refresh()`` added; lets a UI update only what changed."""

    task_events: int = 0
    new_failures: int = 0
    new_worker_events: int = 0
    reloaded: bool = False
    meta_changed: bool = False
    #: True when ``max_bytes`` stopped the read early: call ``refresh`` again.
    more: bool = False
    #: Bytes consumed so far over the bytes present, across all streams (0..1).
    progress: float = 1.0

    @property
    def changed(self) -> bool:
        return bool(
            self.task_events or self.new_failures or self.new_worker_events or self.reloaded or self.meta_changed
        )


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


class RunDirReader:
    """Owns the cursors over one run directory and the ``RunState`` built from them."""

    def __init__(self, run_dir: str | Path) -> None:
        self.path = Path(run_dir)
        self._reset()

    # -- state ---------------------------------------------------------------
    def _reset(self) -> None:
        self.tails = {name: JsonlTail(self.path / f"{name}.jsonl") for name in STREAMS}
        self.state = RunState(
            run_dir=str(self.path),
            meta=RunMeta(run_id=self.path.name),
            tasks=TaskTable(),
            failures=[],
            worker_events=[],
            profiles=[],
            issues={},
        )
        self._profile_index: dict[tuple[Any, ...], int] = {}
        self._resource_cache: dict[bytes, int] = {}
        self._line_cache: dict[bytes, tuple[Any, ...]] = {}
        self._done_cache: dict[tuple[bytes, ...], tuple[Any, ...]] = {}
        self._failed_with_record: set[str] = set()
        self._synthetic: dict[str, int] = {}
        self._run_json_mtime: float | None = None
        self._static_loaded = False
        self._index_checked = getattr(self, "_index_checked", False)
        self._index_stored = getattr(self, "_index_stored", False)

    def _issues(self, name: str) -> FileIssues:
        iss = self.state.issues.get(name)
        if iss is None:
            iss = self.state.issues[name] = FileIssues()
        return iss

    def _seen_ts(self, ts: float | None) -> None:
        if ts is None:
            return
        st = self.state
        if st.last_event_ts is None or ts > st.last_event_ts:
            st.last_event_ts = ts
        if st.first_event_ts is None or ts < st.first_event_ts:
            st.first_event_ts = ts

    # -- public --------------------------------------------------------------
    def load(self) -> RunState:
        self.refresh()
        return self.state

    def refresh(self, max_bytes: int | None = None) -> RefreshResult:
        """Read whatever was appended since the last call (everything the first time).

        With ``max_bytes``, each stream reads at most about that much and
        ``result.more`` says whether to call again: a UI opening a huge run
        shows the first screen after the first slice instead of after the
        whole file.

        The cyclic GC is paused meanwhile: the reader allocates many small
        objects and no cycles, and generation scans over a large live state
        would otherwise cost more than the parsing.
        """
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            return self._refresh(max_bytes)
        finally:
            if gc_was_enabled:
                gc.enable()

    def _refresh(self, max_bytes: int | None = None) -> RefreshResult:
        if not self._static_loaded and not self._index_checked:
            # first read: a big finished run may already be in the persistent index (sources/index)
            self._index_checked = True
            from scalable_tui.sources.rundir.index import adopt_cached

            if adopt_cached(self):
                return RefreshResult(task_events=self.state.tasks.events, new_failures=len(self.state.failures),
                                     new_worker_events=len(self.state.worker_events), meta_changed=True)
        res = RefreshResult()
        self._budget = max_bytes
        self._stopped_early = False
        if any(t.changed_identity() for t in self.tails.values()):
            self._reset()
            res.reloaded = True
            for name in STREAMS:
                self._issues(f"{name}.jsonl").truncated_rewind += 1
        res.meta_changed = self._read_run_json()
        if not self._static_loaded:
            self._read_static()
            self._static_loaded = True
        n_fail = len(self.state.failures)
        n_workers = len(self.state.worker_events)
        n_task_events = self.state.tasks.events
        # resources before tasks so that synthesised failures can join them;
        # failures before tasks so a failed task with a record is not duplicated.
        self._read_stream("resources", self._on_resource_lines)
        self._read_stream("failures", self._on_failure_lines)
        self._read_stream("tasks", self._on_task_lines)
        self._read_stream("workers", self._on_worker_lines)
        self._read_stream("cache", self._on_cache_lines)
        self._read_stream("artifacts", self._on_count_lines("artifacts"))
        self._read_stream("cost", self._on_count_lines("cost_events"))
        self._reconcile_synthetic()
        res.more = self._stopped_early
        res.progress = self._progress()
        res.task_events = self.state.tasks.events - n_task_events
        res.new_failures = len(self.state.failures) - n_fail
        res.new_worker_events = len(self.state.worker_events) - n_workers
        if self.state.summary is None:
            self.state.summary = self._read_json("summary.json")
        if not res.more and not self._index_stored:
            self._index_stored = True
            from scalable_tui.sources.rundir.index import remember

            remember(self)  # a big finished run opens from the persistent index next time
        return res

    def _progress(self) -> float:
        done = total = 0
        for t in self.tails.values():
            try:
                size = os.stat(t.path).st_size
            except OSError:
                continue
            done += t.offset
            total += size
        return 1.0 if total == 0 else min(1.0, done / total)

    # -- whole-file JSON/YAML ------------------------------------------------
    def _read_json(self, name: str) -> dict[str, Any] | None:
        p = self.path / name
        try:
            raw = p.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._issues(name).unreadable = exc.strerror or str(exc)
            return None
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            self._issues(name).unreadable = f"not valid JSON: {exc}"
            return None
        if not isinstance(obj, dict):
            self._issues(name).unreadable = "not a JSON object"
            return None
        return obj

    def _read_run_json(self) -> bool:
        p = self.path / "run.json"
        try:
            mtime = p.stat().st_mtime
        except OSError:
            return False
        if mtime == self._run_json_mtime:
            return False
        self._run_json_mtime = mtime
        obj = self._read_json("run.json")
        if obj is None:
            return False
        known = {
            "run_id",
            "project_name",
            "target_name",
            "provider_name",
            "started_at",
            "finished_at",
            "status",
            "schema_version",
            "manifest_lock",
            "source_manifest_path",
        }
        sv = obj.get("schema_version")
        if isinstance(sv, int) and sv > KNOWN_SCHEMA:
            self._issues("run.json").future_schema = 1
        self.state.meta = RunMeta(
            run_id=_str_or_none(obj.get("run_id")) or self.path.name,
            project_name=_str_or_none(obj.get("project_name")),
            target_name=_str_or_none(obj.get("target_name")),
            provider_name=_str_or_none(obj.get("provider_name")),
            started_at=_str_or_none(obj.get("started_at")),
            finished_at=_str_or_none(obj.get("finished_at")),
            status=_str_or_none(obj.get("status")),
            schema_version=sv if isinstance(sv, int) else None,
            manifest_lock=_str_or_none(obj.get("manifest_lock")),
            source_manifest_path=_str_or_none(obj.get("source_manifest_path")),
            extra={k: v for k, v in obj.items() if k not in known},
        )
        return True

    def _read_static(self) -> None:
        self.state.plan = self._read_json("plan.json")
        try:
            raw = (self.path / "manifest.yaml").read_bytes()
            self.state.manifest_text = raw.decode("utf-8", errors="replace")
        except FileNotFoundError:
            pass
        except OSError as exc:
            self._issues("manifest.yaml").unreadable = exc.strerror or str(exc)

    # -- streams -------------------------------------------------------------
    def _read_stream(self, name: str, on_lines: Callable[[list[bytes], int, FileIssues], None]) -> None:
        tail = self.tails[name]
        fname = f"{name}.jsonl"
        issues = self._issues(fname)
        start = tail.line_no
        budget = getattr(self, "_budget", None)
        if budget is not None and name == "failures":
            # A failure record costs the assistant ~100x what a task event
            # costs: a smaller slice keeps a sliced refresh's diagnosis quick.
            budget = max(4096, budget // 8)
        first_offset = tail.offset
        chunks = tail.chunks() if budget is None else tail.chunks(max(4096, min(budget, 1 << 20)))
        for lines in chunks:
            on_lines(lines, start, issues)
            start = tail.line_no
            if budget is not None and tail.offset - first_offset >= budget:
                chunks.close()  # the offset stays after the last whole line handled
                if tail.pending_bytes() > 0:
                    self._stopped_early = True
                break
        if tail.error:
            issues.unreadable = tail.error
        if not tail.exists and tail.offset == 0:
            self._parquet_fallback(name, on_lines)
        if issues == FileIssues():
            del self.state.issues[fname]

    def _parquet_fallback(self, name: str, on_lines: Callable[[list[bytes], int, FileIssues], None]) -> None:
        """Read ``NAME.parquet`` once when ``NAME.jsonl`` is missing (pyarrow optional)."""
        if name in self.state.parquet_used:
            return
        p = self.path / f"{name}.parquet"
        if not p.exists():
            return
        self.state.parquet_used.append(name)
        try:
            import pyarrow.parquet as pq  # optional extra
        except ImportError:
            self._issues(f"{name}.parquet").unreadable = "pyarrow is not installed (pip install 'scalable-tui[parquet]')"
            return
        try:
            rows = pq.read_table(p).to_pylist()
        except Exception as exc:  # noqa: BLE001 - any parquet damage is a notice, not a crash
            self._issues(f"{name}.parquet").unreadable = f"{type(exc).__name__}: {exc}"
            return
        lines = [orjson.dumps(r, default=str) for r in rows]
        on_lines(lines, 0, self._issues(f"{name}.parquet"))

    @staticmethod
    def _decode(line: bytes, line_no: int, issues: FileIssues) -> dict[str, Any] | None:
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            if not line.strip():
                return None
            if "UTF-8" in str(exc):
                issues.non_utf8 += 1
                issues.note(line_no, "not UTF-8")
            else:
                issues.corrupt += 1
                issues.note(line_no, "not valid JSON")
            return None
        if not isinstance(obj, dict):
            issues.invalid += 1
            issues.note(line_no, "not a JSON object")
            return None
        sv = obj.get("schema_version")
        if isinstance(sv, int) and sv > KNOWN_SCHEMA:
            issues.future_schema += 1
        return obj

    # tasks ------------------------------------------------------------------
    def _on_task_lines(self, lines: list[bytes], first_no: int, issues: FileIssues) -> None:
        """Hot path: ~1M lines on big runs.

        Most lines are ``submitted``/``running`` events that differ from
        another task's only in ``task_id`` and ``timestamp``.  Such lines are
        keyed with those two values cut out and the decoded fields are reused,
        which is exact (the template was decoded by orjson, probed so that the
        two cut-out values really are the task_id and timestamp fields, and a
        reused value is only accepted when it needs no JSON unescaping) and
        several times cheaper than decoding every line.

        Rows are preallocated for the chunk and trimmed afterwards, so a new
        task costs a dict insert and a list append rather than ten appends.
        """
        t = self.state.tasks
        _grow(t, len(lines))
        try:
            self._task_lines(t, lines, first_no, issues, len(t.ids))
        finally:
            _trim(t)

    def _task_lines(self, t: TaskTable, lines: list[bytes], first_no: int, issues: FileIssues, nxt: int) -> int:
        strings = t.strings
        intern = strings.get
        row_of = t.row
        row_get = row_of.get
        ids_append = t.ids.append
        state_a, name_a, comp_a, tag_a, fn_a = t.state, t.name, t.component, t.tag, t.function
        sub_a, last_a, dur_a = t.submitted_ts, t.last_ts, t.duration
        cache = self._line_cache
        done_cache = self._done_cache
        done_get = done_cache.get
        worker_d = t.worker
        dur_mark = _DUR_MARK
        wk_mark = _WK_MARK
        decode = self._decode
        failed_id = intern("failed")
        submitted_id = intern("submitted")
        #: timestamp bytes -> epoch (validated); its values give first/last ts of the fast path
        tsc: dict[bytes, float | None] = {}
        tsc_get = tsc.get
        n_events = 0
        last_ts = -math.inf
        first_ts = math.inf
        new_failed: list[tuple[int, str, Any, Any, Any]] = []
        tid_mark = _TID_MARK
        ts_mark = _TS_MARK
        miss = _MISS
        line_no = first_no
        for line in lines:
            line_no += 1
            # ---- fast path: templated submitted/running lines
            obj = None
            h, sep, rest = line.partition(tid_mark)
            if sep:
                tidb, q, rest = rest.partition(b'"')
                mid, sep, rest = rest.partition(ts_mark)
                if sep:
                    tsb, q, tail = rest.partition(b'"')
                    fields = cache.get((h, mid, tail)) if q else None
                    hit = fields is not None
                    done = False
                    if not hit and q:
                        # ---- second fast path: templated finished lines (four cut-outs)
                        h1, sep, hrest = h.partition(dur_mark)
                        if sep:
                            db, sep, h2 = hrest.partition(b",")
                            t1, sep2, trest = tail.partition(wk_mark)
                            if sep and sep2:
                                wb, q2, t2 = trest.partition(b'"')
                                dkey = (h1, h2, mid, t1, t2)
                                dfields = done_get(dkey) if q2 else None
                                if dfields is not None:
                                    d = _json_duration(db)
                                    if (d is not None and tidb.isalnum() and b"\\" not in wb
                                            and b"\\" not in tsb):
                                        try:
                                            tid = tidb.decode()
                                            w = wb.decode()
                                            ts = tsc_get(tsb, miss)
                                            if ts is miss:
                                                ts_s = tsb.decode()
                                                if ts_s.isprintable():
                                                    ts = tsc[tsb] = parse_ts(ts_s)
                                        except UnicodeDecodeError:
                                            ts = miss
                                        if ts is not miss and w.isprintable():
                                            fields, done = dfields, True
                                elif q2 and len(done_cache) < 4096:
                                    obj = decode(line, line_no, issues)
                                    if obj is None:
                                        continue
                                    if _done_templatable(obj, h1, db, h2, tidb, mid, tsb, t1, wb, t2):
                                        done_cache[dkey] = _template_fields(obj, intern, submitted_id)
                    if hit:
                        if tidb.isalnum():
                            tid = tidb.decode()
                        else:
                            try:
                                tid = tidb.decode()
                            except UnicodeDecodeError:
                                issues.non_utf8 += 1
                                issues.note(line_no, "not UTF-8")
                                continue
                            if not tid or "\\" in tid or not tid.isprintable():
                                fields = None
                        if fields is not None:
                            ts = tsc_get(tsb, miss)
                            if ts is miss:
                                try:
                                    ts_s = tsb.decode()
                                except UnicodeDecodeError:
                                    issues.non_utf8 += 1
                                    issues.note(line_no, "not UTF-8")
                                    continue
                                if "\\" in ts_s or not ts_s.isprintable():
                                    fields = None
                                else:
                                    ts = tsc[tsb] = parse_ts(ts_s)
                    if fields is not None:
                        # one row update for both templated kinds (tid and ts validated above)
                        r = row_get(tid)
                        if r is None:
                            r = row_of[tid] = nxt
                            ids_append(tid)
                            nxt += 1
                        st, nm, cp, tg, fn, full, is_sub = fields
                        state_a[r] = st
                        if full:
                            name_a[r] = nm
                            comp_a[r] = cp
                            tag_a[r] = tg
                            fn_a[r] = fn
                        else:
                            if nm:
                                name_a[r] = nm
                            if cp:
                                comp_a[r] = cp
                            if tg:
                                tag_a[r] = tg
                            if fn:
                                fn_a[r] = fn
                        if ts is not None:
                            if is_sub and sub_a[r] != sub_a[r]:
                                sub_a[r] = ts
                            last_a[r] = ts
                        if done:
                            dur_a[r] = d
                            worker_d[r] = w
                        n_events += 1
                        continue
                    if not hit and q and len(cache) < 4096:
                        if obj is None:
                            obj = decode(line, line_no, issues)
                            if obj is None:
                                continue
                        if obj.get("state") in _TEMPLATE_STATES and _templatable(obj, h, tidb, mid, tsb, tail):
                            cache[(h, mid, tail)] = _template_fields(obj, intern, submitted_id)
            # ---- general path: any other line, fully decoded and type-checked
            if obj is None:
                obj = decode(line, line_no, issues)
                if obj is None:
                    continue
            tid = obj.get("task_id")
            state = obj.get("state")
            if type(tid) is not str or type(state) is not str or not tid:
                issues.invalid += 1
                issues.note(line_no, "task event without a string task_id/state")
                continue
            r = row_get(tid)
            if r is None:
                r = row_of[tid] = nxt
                ids_append(tid)
                nxt += 1
            st = intern(state)
            state_a[r] = st
            for key, column in (("task_name", name_a), ("component", comp_a), ("tag", tag_a), ("function_name", fn_a)):
                v = obj.get(key)
                if v is not None:
                    if type(v) is str:
                        column[r] = intern(v)
                    else:
                        issues.fields_ignored += 1
            ts_raw = obj.get("timestamp")
            ts = _TS_CACHE.get(ts_raw, miss) if type(ts_raw) is str else None
            if ts is miss:
                ts = parse_ts(ts_raw)
            if ts is not None:
                if st == submitted_id and sub_a[r] != sub_a[r]:
                    sub_a[r] = ts
                last_a[r] = ts
                if ts > last_ts:
                    last_ts = ts
                if ts < first_ts:
                    first_ts = ts
            d = obj.get("duration_s")
            if d is not None:
                if type(d) in (int, float) and d >= 0:
                    dur_a[r] = float(d)
                else:
                    issues.fields_ignored += 1
            w = obj.get("worker")
            if type(w) is str:
                t.worker[r] = w
            et, em = obj.get("error_type"), obj.get("error_message")
            if et is not None or em is not None:
                t.error[r] = (_str_or_none(et), em if type(em) is str else (None if em is None else str(em)))
            if st == failed_id:
                new_failed.append((r, tid, obj.get("timestamp"), et, em))
            n_events += 1
        t.events += n_events
        fast_ts = [v for v in tsc.values() if v is not None]
        if fast_ts:
            last_ts = max(last_ts, max(fast_ts))
            first_ts = min(first_ts, min(fast_ts))
        if last_ts != -math.inf:
            self._seen_ts(last_ts)
        if first_ts != math.inf:
            self._seen_ts(first_ts)
        self._synthesize(new_failed)
        return nxt

    def _synthesize(self, new_failed: list[tuple[int, str, Any, Any, Any]]) -> None:
        t = self.state.tasks
        failed_with_record = self._failed_with_record
        for r, tid, ts_s, et, em in new_failed:
            if tid in failed_with_record or tid in self._synthetic:
                continue
            # A failed task whose failure record is missing (no failures.jsonl,
            # or the writer died before writing it): keep it as a failure so
            # that nothing that failed is invisible.
            rec = FailureRecord(
                index=len(self.state.failures),
                failure_class=_str_or_none(et) or "UnknownError",
                message=em if isinstance(em, str) else "",
                timestamp=_str_or_none(ts_s),
                ts=parse_ts(ts_s),
                task_id=tid,
                worker=t.worker.get(r),
                source="tasks.jsonl",
            )
            self._synthetic[tid] = rec.index
            self.state.failures.append(rec)

    def _reconcile_synthetic(self) -> None:
        """Drop synthesised failures whose real record arrived later (tailing)."""
        if not self._synthetic:
            return
        late = [tid for tid in self._synthetic if tid in self._failed_with_record]
        if not late:
            return
        drop = {self._synthetic.pop(tid) for tid in late}
        kept = [f for f in self.state.failures if f.index not in drop]
        for i, f in enumerate(kept):
            f.index = i
            if f.source == "tasks.jsonl" and f.task_id in self._synthetic:
                self._synthetic[f.task_id] = i
        self.state.failures = kept

    # failures ---------------------------------------------------------------
    def _on_failure_lines(self, lines: list[bytes], first_no: int, issues: FileIssues) -> None:
        failures = self.state.failures
        for i, line in enumerate(lines, start=first_no + 1):
            obj = self._decode(line, i, issues)
            if obj is None:
                continue
            details = obj.get("details")
            if not isinstance(details, dict):
                if details is not None:
                    issues.fields_ignored += 1
                details = {}
            fc = obj.get("failure_class")
            msg = obj.get("message")
            if fc is None and msg is None and not details:
                issues.invalid += 1
                issues.note(i, "failure record without failure_class/message")
                continue
            tid = _str_or_none(obj.get("task_id")) or _str_or_none(details.get("task_id"))
            tb = details.get("traceback")
            if isinstance(tb, list):
                tb = "".join(str(x) for x in tb)
            if isinstance(tb, str) and len(tb) > MAX_TRACEBACK_CHARS:
                half = MAX_TRACEBACK_CHARS // 2
                tb = tb[:half] + "\n… (traceback truncated) …\n" + tb[-half:]
            ts_s = _str_or_none(obj.get("timestamp"))
            ts = parse_ts(ts_s)
            self._seen_ts(ts)
            rec = FailureRecord(
                index=len(failures),
                failure_class=fc if isinstance(fc, str) and fc else "UnknownError",
                message=msg if isinstance(msg, str) else ("" if msg is None else str(msg)),
                timestamp=ts_s,
                ts=ts,
                task_id=tid,
                provider=_str_or_none(obj.get("provider")),
                phase=_str_or_none(details.get("phase")),
                worker=_str_or_none(details.get("worker_id")) or _str_or_none(details.get("worker")),
                traceback=tb if isinstance(tb, str) and tb.strip() else None,
                details={k: v for k, v in details.items() if k != "traceback"},
                line_no=i,
            )
            if tid:
                self._failed_with_record.add(tid)
            failures.append(rec)

    # resources --------------------------------------------------------------
    def _on_resource_lines(self, lines: list[bytes], first_no: int, issues: FileIssues) -> None:
        """Resource lines repeat per component; cache by the line minus id and time.

        New rows get their columns in one bulk extension after the chunk.
        """
        t = self.state.tasks
        n0 = len(t.ids)
        try:
            self.state.resource_events += self._resource_lines(t, lines, first_no, issues)
        finally:
            _grow(t, len(t.ids) - n0)

    def _resource_lines(self, t: TaskTable, lines: list[bytes], first_no: int, issues: FileIssues) -> int:
        cache = self._resource_cache
        cache_get = cache.get
        row_of = t.row
        row_get = row_of.get
        ids_append = t.ids.append
        nxt = len(t.ids)
        resource = t.resource
        decode = self._decode
        id_mark = _EID_MARK
        ts_mark = _TS_MARK
        good_ts: set[bytes] = set()
        n = 0
        line_no = first_no
        for line in lines:
            line_no += 1
            prof = tsb = None
            h, sep, rest = line.partition(id_mark)
            if sep:
                eidb, q, rest = rest.partition(b'"')
                mid, sep, rest = rest.partition(ts_mark)
                if sep:
                    tsb, q, tail = rest.partition(b'"')
                    if q:
                        prof = cache_get((h, mid, tail))
                        if prof is not None:
                            if eidb.isalnum():
                                eid = eidb.decode()
                            else:
                                try:
                                    eid = eidb.decode()
                                except UnicodeDecodeError:
                                    issues.non_utf8 += 1
                                    issues.note(line_no, "not UTF-8")
                                    continue
                                if "\\" in eid or not eid.isprintable():
                                    prof = None
                            # the timestamp is not used, but it must be a plain JSON string
                            if prof is not None and tsb not in good_ts:
                                try:
                                    ts_s = tsb.decode()
                                except UnicodeDecodeError:
                                    issues.non_utf8 += 1
                                    issues.note(line_no, "not UTF-8")
                                    continue
                                if "\\" in ts_s or not ts_s.isprintable():
                                    prof = None
                                elif len(good_ts) < 100_000:
                                    good_ts.add(tsb)
            if prof is None:
                before = (issues.fields_ignored, issues.future_schema)
                obj = decode(line, line_no, issues)
                if obj is None:
                    continue
                eid = obj.get("entity_id")
                if not isinstance(eid, str):
                    issues.invalid += 1
                    issues.note(line_no, "resource record without entity_id")
                    continue
                prof = self._profile(obj, issues)
                if (
                    q
                    and len(cache) < 4096
                    and before == (issues.fields_ignored, issues.future_schema)
                    and _plain(eidb, eid)
                    and tsb is not None  # a record without "timestamp" (issue: UnboundLocalError)
                    and _plain(tsb, obj.get("timestamp"))
                    and _probe_ok(obj, h, id_mark, "entity_id", mid, ts_mark, "timestamp", tail)
                ):
                    cache[(h, mid, tail)] = prof
            r = row_get(eid)
            if r is None:
                r = row_of[eid] = nxt
                ids_append(eid)
                nxt += 1
            resource[r] = prof
            n += 1
        return n

    def _profile(self, obj: dict[str, Any], issues: FileIssues) -> int:
        def num(k: str) -> int | float | None:
            v = obj.get(k)
            if v is None or (type(v) in (int, float)):
                return v
            issues.fields_ignored += 1
            return None

        mem = obj.get("requested_memory")
        wall = obj.get("requested_walltime")
        key = (
            _str_or_none(obj.get("component")),
            _str_or_none(obj.get("provider")),
            num("requested_cpus"),
            mem if isinstance(mem, str) else (str(mem) if mem is not None else None),
            wall if isinstance(wall, str) else (str(wall) if wall is not None else None),
            num("requested_workers"),
        )
        idx = self._profile_index.get(key)
        if idx is None:
            idx = len(self.state.profiles)
            self._profile_index[key] = idx
            self.state.profiles.append(ResourceProfile(*key))  # type: ignore[arg-type]
        return idx

    # workers / cache / counters ---------------------------------------------
    def _on_worker_lines(self, lines: list[bytes], first_no: int, issues: FileIssues) -> None:
        for i, line in enumerate(lines, start=first_no + 1):
            obj = self._decode(line, i, issues)
            if obj is None:
                continue
            state = obj.get("state")
            if not isinstance(state, str):
                issues.invalid += 1
                issues.note(i, "worker event without a state")
                continue
            details = obj.get("details")
            ts_s = _str_or_none(obj.get("timestamp"))
            ts = parse_ts(ts_s)
            self._seen_ts(ts)
            self.state.worker_events.append(
                WorkerEvent(
                    timestamp=ts_s,
                    ts=ts,
                    state=state,
                    provider=_str_or_none(obj.get("provider")),
                    worker_id=None if obj.get("worker_id") is None else str(obj.get("worker_id")),
                    component=_str_or_none(obj.get("component")),
                    details=details if isinstance(details, dict) else {},
                )
            )

    def _on_cache_lines(self, lines: list[bytes], first_no: int, issues: FileIssues) -> None:
        for i, line in enumerate(lines, start=first_no + 1):
            obj = self._decode(line, i, issues)
            if obj is None:
                continue
            if obj.get("hit"):
                self.state.cache_hits += 1
            else:
                self.state.cache_misses += 1

    def _on_count_lines(self, attr: str) -> Callable[[list[bytes], int, FileIssues], None]:
        def on_lines(lines: list[bytes], first_no: int, issues: FileIssues) -> None:
            n = 0
            for i, line in enumerate(lines, start=first_no + 1):
                if self._decode(line, i, issues) is not None:
                    n += 1
            setattr(self.state, attr, getattr(self.state, attr) + n)

        return on_lines


def load_run(run_dir: str | Path) -> RunState:
    """Read a whole run directory once: big finished runs through the run index (``sources/index``)."""
    from scalable_tui.sources.rundir.index import load_indexed

    reader = load_indexed(run_dir)
    return reader.state if reader is not None else RunDirReader(run_dir).load()

"""``tasks.jsonl`` -> the columnar ``TaskTable``: the hot loop of the reader (~1M lines on big runs).

``TaskLines`` is mixed into ``RunDirReader`` (``reader.py``): it uses the
reader's ``state``, caches (``_line_cache``, ``_done_cache``), ``_decode``
and ``_seen_ts``.  A failed task without a failure record becomes a
synthesised failure here, dropped again if its record arrives later.

Keep it plain: no extra per-line function calls (``bench/bench_load.py``).
"""

from __future__ import annotations

import math
from typing import Any

import orjson
from orjson import JSONDecodeError

from scalable_tui.model.run import FailureRecord, FileIssues, TaskTable
from scalable_tui.sources.rundir.fastpath import (
    _DUR_MARK,
    _MISS,
    _TEMPLATE_STATES,
    _TID_MARK,
    _TS_MARK,
    _WK_MARK,
    _done_templatable,
    _grow,
    _json_duration,
    _templatable,
    _template_fields,
    _trim,
)
from scalable_tui.sources.rundir.values import _TS_CACHE, KNOWN_SCHEMA, _str_or_none, parse_ts

__all__ = ["TaskLines"]

#: Lines probed before the templates may be given up on, and chunks skipped before probing again.
PROBE_LINES = 5000
PROBE_AGAIN_AFTER = 50


class TaskLines:
    """Task events -> task rows, with the templated fast paths (a mixin of ``RunDirReader``)."""

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
        #: the interner's dict, looked up inline (a method call per value cost ~0.5 s on 300k varied tasks)
        sindex_get = strings.index.get
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
        loads = orjson.loads
        known_schema = KNOWN_SCHEMA
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
        fast = self._probe_templates()
        n_hit = 0
        for line in lines:
            line_no += 1
            # ---- fast path: templated submitted/running lines
            obj = None
            if fast:
                h, sep, rest = line.partition(tid_mark)
            else:
                sep = b""
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
                        n_hit += 1
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
                # ``_decode`` inlined for the usual line (a call per line is measurable here);
                # anything unusual goes through it, which counts the issue.
                try:
                    obj = loads(line)
                except JSONDecodeError:
                    obj = None
                if type(obj) is dict:
                    sv = obj.get("schema_version")
                    if isinstance(sv, int) and sv > known_schema:
                        issues.future_schema += 1
                else:
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
            st = sindex_get(state)
            if st is None:
                st = intern(state)
            state_a[r] = st
            for key, column in (("task_name", name_a), ("component", comp_a), ("tag", tag_a), ("function_name", fn_a)):
                v = obj.get(key)
                if v is not None:
                    if type(v) is str:
                        code = sindex_get(v)
                        column[r] = intern(v) if code is None else code
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
                worker_d[r] = w
            et, em = obj.get("error_type"), obj.get("error_message")
            if et is not None or em is not None:
                t.error[r] = (_str_or_none(et), em if type(em) is str else (None if em is None else str(em)))
            if st == failed_id:
                new_failed.append((r, tid, obj.get("timestamp"), et, em))
            n_events += 1
        t.events += n_events
        if fast:
            self._probe[0] += len(lines)
            self._probe[1] += n_hit
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

    def _probe_templates(self) -> bool:
        """Try the templated fast paths on this chunk?  Not where they keep missing.

        A producer that varies a field per task (a scenario id in the task
        name) defeats the templates: every line then pays for the probe
        (partitions, two cache misses) before the general path decodes it
        anyway.  After ``PROBE_LINES`` probed lines with under 5 % hits the
        probe is skipped; every ``PROBE_AGAIN_AFTER`` skipped chunks it is
        tried again, in case the lines changed shape.  Either way each line
        gets the same result (tests/test_reader_fast_paths.py).
        """
        probe = self._probe
        tried, hits, skipped, _ = probe
        if tried < PROBE_LINES or hits * 20 >= tried:
            return True
        if skipped >= PROBE_AGAIN_AFTER:
            probe[:3] = [0, 0, 0]
            return True
        probe[2] = skipped + 1
        probe[3] += 1
        return False

    def _synthesize(self, new_failed: list[tuple[int, str, Any, Any, Any]]) -> None:
        worker_get = self.state.tasks.worker.get
        self._synthesize_with([(r, tid, ts_s, et, em, worker_get(r)) for r, tid, ts_s, et, em in new_failed])

    def _synthesize_with(self, new_failed: list[tuple[int, str, Any, Any, Any, str | None]]) -> None:
        """``_synthesize`` with each task's worker as known at the end of its chunk (``split.merge``)."""
        failed_with_record = self._failed_with_record
        for r, tid, ts_s, et, em, worker in new_failed:
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
                worker=worker,
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

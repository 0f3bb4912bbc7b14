"""The other streams -> ``RunState``: failures, resource requests, worker events, cache and counters.

``StreamFolds`` is mixed into ``RunDirReader`` (``reader.py``): each
``_on_*_lines`` takes one chunk of whole lines of its stream (with the line
number before it, for notices) and folds it into the reader's ``state``.
``resources.jsonl`` has a templated fast path like ``tasks.jsonl``.
"""

from __future__ import annotations

from typing import Any, Callable

from scalable_tui.model.run import FailureRecord, FileIssues, ResourceProfile, TaskTable, WorkerEvent
from scalable_tui.sources.rundir.fastpath import _EID_MARK, _TS_MARK, _grow, _plain, _probe_ok
from scalable_tui.sources.rundir.values import _str_or_none, parse_ts

__all__ = ["StreamFolds", "MAX_TRACEBACK_CHARS"]

#: Failure records whose traceback is longer than this keep the head and the tail.
MAX_TRACEBACK_CHARS = 20_000


class StreamFolds:
    """Failures, resources, workers, cache and counter lines (a mixin of ``RunDirReader``)."""

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
                    and tsb is not None  # a record without "timestamp" (was: UnboundLocalError)
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

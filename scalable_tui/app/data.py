"""The app's one data model: an immutable-by-convention ``RunSnapshot``.

The reader thread owns the live ``RunState`` (it mutates it on every
refresh).  After each change it builds a snapshot with private copies of the
columns the screens read (array copies: milliseconds even for 300k tasks) and
posts it to the UI; screens only render snapshots.  No Textual imports here,
so the model and the filter/sort helpers are testable headless.
"""

from __future__ import annotations

import math
import re
from array import array
from dataclasses import dataclass, field
from typing import Any, Callable

from assistant.diagnose import abandoned_info, stale_threshold
from assistant.models import Diagnosis, Finding
from assistant.render import TRANSIENT_TEXT
from assistant.textsafe import printable
from scalable_tui.models import TERMINAL_STATES, FailureRecord, Interner, RunMeta, RunState, TaskTable, WorkerEvent

TIMELINE_BUCKETS = 60
FAULT_STATES = frozenset({"failed", "cancelled"})


def copy_tasks(t: TaskTable) -> TaskTable:
    """A private copy of the columns (the reader keeps appending to the original)."""
    c = TaskTable.__new__(TaskTable)
    c.ids = list(t.ids)
    c.row = dict(t.row)
    s = Interner()
    s.index = dict(t.strings.index)
    s.values = list(t.strings.values)
    c.strings = s
    for name in ("state", "name", "component", "tag", "function", "submitted_ts", "last_ts", "duration"):
        setattr(c, name, array(getattr(t, name).typecode, getattr(t, name)))
    c.worker = dict(t.worker)
    c.error = dict(t.error)
    c.resource = dict(t.resource)
    c.events = t.events
    return c


@dataclass(slots=True)
class RunSnapshot:
    version: int
    run_dir: str
    meta: RunMeta
    tasks: TaskTable
    failures: list[FailureRecord]
    worker_events: list[WorkerEvent]
    profiles: list[Any]
    notices: list[str]
    diagnosis: Diagnosis
    counts: dict[str, int]
    by_name: dict[str, dict[str, int]]
    first_event_ts: float | None
    last_event_ts: float | None
    #: ``run.json`` says running: the reader keeps tailing.
    live: bool
    #: Epoch seconds of the newest activity (as abandoned_info measures it), for "running" runs.
    activity_ts: float | None
    stale_after_s: float
    completions: list[int] = field(default_factory=list)
    failures_timeline: list[int] = field(default_factory=list)
    #: Fraction of the files read while a large run is still being indexed; None when done.
    loading: float | None = None

    @property
    def run_id(self) -> str:
        return self.meta.run_id

    def failure_findings(self) -> list[Finding]:
        return [f for f in self.diagnosis.findings if f.count]

    def finding(self, fid: str) -> Finding | None:
        return next((f for f in self.diagnosis.findings if f.id == fid), None)

    def failures_of(self, finding: Finding) -> list[FailureRecord]:
        n = len(self.failures)
        return [self.failures[i] for i in finding.failure_indices if 0 <= i < n]

    def status_line(self, now: float) -> tuple[str, str]:
        """(text, kind) for the footer: kind is loading, live, finished or abandoned."""
        status = self.meta.status or "unknown"
        if self.loading is not None:
            return f"indexing… {self.loading:.0%} read", "live"
        if not self.live:
            return f"finished ({printable(status)})", "finished"
        if self.activity_ts is None:
            return "live: tailing", "live"
        idle = max(0.0, now - self.activity_ts)
        if idle > self.stale_after_s:
            return f"abandoned? no events for {_ago(idle)}", "abandoned"
        return f"live: tailing (last event {_ago(idle)} ago)", "live"


def _ago(seconds: float) -> str:
    s = int(seconds)
    if s >= 86400:
        return f"{s // 86400}d {s % 86400 // 3600}h"
    if s >= 3600:
        return f"{s // 3600}h" + (f" {s % 3600 // 60:02d}m" if s % 3600 >= 60 else "")
    if s >= 60:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s}s"


def _timeline(t: TaskTable, lo: float | None, hi: float | None) -> tuple[list[int], list[int]]:
    done = [0] * TIMELINE_BUCKETS
    failed = [0] * TIMELINE_BUCKETS
    if lo is None or hi is None:
        return done, failed
    span = max(hi - lo, 1e-9)
    values = t.strings.values
    failed_ids = {i for i, v in enumerate(values) if v in FAULT_STATES}
    terminal_ids = {i for i, v in enumerate(values) if v in TERMINAL_STATES}
    last_ts = t.last_ts
    n = TIMELINE_BUCKETS - 1
    for r, st in enumerate(t.state):
        if st not in terminal_ids:
            continue
        ts = last_ts[r]
        if ts != ts:  # NaN
            continue
        b = min(n, max(0, int((ts - lo) / span * TIMELINE_BUCKETS)))
        if st in failed_ids:
            failed[b] += 1
        else:
            done[b] += 1
    return done, failed


def build_snapshot(
    state: RunState,
    diagnosis: Diagnosis,
    version: int,
    *,
    stale_after_s: float | None,
    now: float,
    loading: float | None = None,
) -> RunSnapshot:
    """Copy what the screens need out of the live state (runs in the reader thread)."""
    tasks = copy_tasks(state.tasks)
    live = state.meta.status == "running"
    _abandoned, idle = abandoned_info(state, stale_after_s, now)
    done, failed = _timeline(tasks, state.first_event_ts, state.last_event_ts)
    return RunSnapshot(
        version=version,
        run_dir=state.run_dir,
        meta=state.meta,
        tasks=tasks,
        failures=list(state.failures),
        worker_events=list(state.worker_events),
        profiles=list(state.profiles),
        notices=state.notices(),
        diagnosis=diagnosis,
        counts=tasks.counts_by_state(),
        by_name=tasks.counts_by("name"),
        first_event_ts=state.first_event_ts,
        last_event_ts=state.last_event_ts,
        live=live,
        activity_ts=None if idle is None else now - idle,
        stale_after_s=stale_threshold(state, stale_after_s),
        completions=done,
        failures_timeline=failed,
        loading=loading,
    )


# -- tasks: filter and sort ------------------------------------------------------
TASK_COLUMNS = ("name", "task id", "component", "state", "duration", "worker", "error type")


def compile_query(query: str) -> Callable[[str], bool] | None:
    """Substring (case-insensitive), or a regex when wrapped in ``/.../``.

    Raises ``re.error`` for a bad regex; returns None for an empty query.
    """
    q = query.strip()
    if not q:
        return None
    pat = query_pattern(q)
    return lambda s: pat.search(s) is not None


def query_pattern(query: str) -> re.Pattern[str]:
    q = query.strip()
    if len(q) >= 2 and q.startswith("/") and q.endswith("/"):
        return re.compile(q[1:-1], re.IGNORECASE)
    return re.compile(re.escape(q), re.IGNORECASE)


def task_cells(t: TaskTable, r: int) -> tuple[str, str, str, str, str, str, str]:
    values = t.strings.values
    err = t.error.get(r)
    return (
        printable(values[t.name[r]] or "-"),
        printable(t.ids[r]),
        printable(values[t.component[r]] or "-"),
        values[t.state[r]] or "unknown",
        _dur(t.duration[r]),
        printable(t.worker.get(r) or "-"),
        printable((err[0] if err else None) or "-"),
    )


def _dur(d: float) -> str:
    if d != d:
        return "-"
    return f"{d:.2f}s" if d < 100 else f"{d:.0f}s"


def is_fault(t: TaskTable, r: int, fault_ids: frozenset[int]) -> bool:
    return t.state[r] in fault_ids or r in t.error


def filter_tasks(
    t: TaskTable,
    query: str = "",
    faults_only: bool = False,
    cancelled: Callable[[], bool] = lambda: False,
) -> list[int]:
    """Rows (task table indices) that match; rows without any task event are left out."""
    values = t.strings.values
    fault_ids = frozenset(i for i, v in enumerate(values) if v in FAULT_STATES)
    state = t.state
    rows = [r for r in range(len(t.ids)) if state[r]]
    if faults_only:
        rows = [r for r in rows if state[r] in fault_ids or r in t.error]
    match = compile_query(query)
    if match is None:
        return rows
    out = []
    ids, name, comp, worker, error = t.ids, t.name, t.component, t.worker, t.error
    # Task names/components/states repeat: test each distinct string once.
    memo: dict[int, bool] = {}
    for i, r in enumerate(rows):
        if i % 20000 == 0 and cancelled():
            return out
        hit = False
        for sid in (name[r], comp[r], state[r]):
            m = memo.get(sid)
            if m is None:
                m = memo[sid] = bool(values[sid]) and match(values[sid])
            if m:
                hit = True
                break
        if not hit:
            w = worker.get(r)
            e = error.get(r)
            hit = match(ids[r]) or (w is not None and match(w)) or (
                e is not None and ((e[0] is not None and match(e[0])) or (e[1] is not None and match(e[1])))
            )
        if hit:
            out.append(r)
    return out


def sort_tasks(t: TaskTable, rows: list[int], column: int, reverse: bool = False) -> list[int]:
    values = t.strings.values
    if column == 0:
        key: Callable[[int], Any] = lambda r: (values[t.name[r]] or "", t.ids[r])
    elif column == 1:
        key = lambda r: t.ids[r]
    elif column == 2:
        key = lambda r: (values[t.component[r]] or "", t.ids[r])
    elif column == 3:
        key = lambda r: (values[t.state[r]] or "", t.ids[r])
    elif column == 4:
        # Unknown durations last in both directions.
        def key(r: int) -> Any:
            d = t.duration[r]
            if math.isnan(d):
                return (1, 0.0) if not reverse else (-1, 0.0)
            return (0, d)
    elif column == 5:
        key = lambda r: (t.worker.get(r) or "", t.ids[r])
    else:
        key = lambda r: ((t.error.get(r) or (None, None))[0] or "", t.ids[r])
    return sorted(rows, key=key, reverse=reverse)


# -- findings as plain text (clipboard) --------------------------------------------
def finding_text(f: Finding) -> str:
    lines = [
        f"[{f.severity}] {printable(f.title)}",
        f"category: {f.category}   count: {f.count}   {TRANSIENT_TEXT[f.transient]}",
    ]
    if f.exception_types:
        lines.append("exception: " + " <- ".join(printable(x) for x in f.exception_types))
    if f.pattern:
        lines.append(f"pattern: {printable(f.pattern)}")
    if f.first_seen or f.last_seen:
        lines.append(f"first seen: {f.first_seen or '-'}   last seen: {f.last_seen or '-'}")
    if f.evidence:
        lines.append("evidence:")
        lines.extend(f"  {e.timestamp or '-'}  {printable(e.source)}  {printable(e.text)}" for e in f.evidence)
    lines.append(f"suggestion: {printable(f.suggestion)}")
    if f.example_traceback:
        lines.append("example traceback:")
        lines.append(printable(f.example_traceback.rstrip()))
    return "\n".join(lines) + "\n"


def failure_text(f: FailureRecord) -> str:
    """The traceback (or the message when there is none), printable."""
    if f.traceback:
        return printable(f.traceback.rstrip()) + "\n"
    return printable(f"{f.failure_class}: {f.message}") + "\n"

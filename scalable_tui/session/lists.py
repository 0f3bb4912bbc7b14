"""What the list screens do with a ``RunSnapshot``: task columns, filter, sort, match findings and
failures against a query, and the plain texts that ``c`` copies.

No Textual here: every helper is testable headless, and a query runs the same on every screen.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable, Iterable

from scalable_tui.model.diagnosis import Finding
from assistant.render import TRANSIENT_TEXT, seen_text
from assistant.textsafe import printable
from scalable_tui.model.run import (
    FailureRecord,
    TaskTable,
    looks_like_dask_key,
)
from scalable_tui.session.snapshot import FAULT_STATES, RunSnapshot


# -- tasks: filter and sort ------------------------------------------------------
#: ``worker`` never shows a Dask future key (Scalable 2.0.0b6 writes ``run_gcam-<32 hex>``
#: into the task event's ``worker`` field): such values go to the ``dask key`` column.
TASK_COLUMNS = ("name", "task id", "component", "state", "duration", "worker", "error type", "dask key")


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


def split_worker(value: str | None) -> tuple[str | None, str | None]:
    """A task event's ``worker`` field -> (worker, dask key): a future's key is never a worker."""
    if value and looks_like_dask_key(value):
        return None, value
    return value, None


def task_cells(t: TaskTable, r: int) -> tuple[str, str, str, str, str, str, str, str]:
    values = t.strings.values
    err = t.error.get(r)
    worker, key = split_worker(t.worker.get(r))
    return (
        printable(values[t.name[r]] or "-"),
        printable(t.ids[r]),
        printable(values[t.component[r]] or "-"),
        values[t.state[r]] or "unknown",
        _dur(t.duration[r]),
        printable(worker or "-"),
        printable((err[0] if err else None) or "-"),
        printable(key or "-"),
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
        key = lambda r: (split_worker(t.worker.get(r))[0] or "", t.ids[r])
    elif column == 6:
        key = lambda r: ((t.error.get(r) or (None, None))[0] or "", t.ids[r])
    else:
        key = lambda r: (split_worker(t.worker.get(r))[1] or "", t.ids[r])
    return sorted(rows, key=key, reverse=reverse)


# -- failures and findings: filter ----------------------------------------------------
#: What ``f`` ("faults only") keeps on the Failures and Findings screens: groups of
#: severity error or critical.  Warnings (e.g. transient network errors that a retry
#: fixes) and info findings are hidden.
FAULT_SEVERITIES = frozenset({"error", "critical"})


def is_fault_finding(f: Finding) -> bool:
    return f.severity in FAULT_SEVERITIES


def finding_fields(f: Finding) -> list[str]:
    """What ``/`` searches in a failure group / finding (besides its failures)."""
    return [
        f.category,
        f.severity,
        f.title,
        *f.exception_types,
        f.pattern,
        f.example_message,
        *f.task_names,
        *f.components,
    ]


def record_fields(r: FailureRecord) -> list[str]:
    """What ``/`` searches in one failure: task name and id, exception, message, worker."""
    return [
        v
        for v in (r.task_name, r.task_id, r.failure_class, r.message, r.component, r.worker, r.dask_key, r.phase)
        if v
    ]


def record_matches(r: FailureRecord, pattern: re.Pattern[str], memo: dict[str, bool] | None = None) -> bool:
    """Does the filter match one of the failure's fields?  ``memo`` caches per distinct
    string (task names, exceptions, components repeat across thousands of failures)."""
    if memo is None:
        return any(pattern.search(printable(v)) for v in record_fields(r))
    for v in record_fields(r):
        hit = memo.get(v)
        if hit is None:
            hit = memo[v] = pattern.search(printable(v)) is not None
        if hit:
            return True
    return False


def finding_matches(
    f: Finding,
    pattern: re.Pattern[str],
    records: Iterable[FailureRecord] = (),
    cancelled: Callable[[], bool] = lambda: False,
) -> bool:
    """The group's own fields, then (only when those miss) each of its failures.

    About 7 µs a failure (15k: 0.1 s), so callers run it off the UI thread;
    ``cancelled`` is polled every few thousand failures (then: False).
    """
    if any(v and pattern.search(printable(v)) for v in finding_fields(f)):
        return True
    memo: dict[str, bool] = {}
    for i, r in enumerate(records):
        if i % 2000 == 1999 and cancelled():
            return False
        if record_matches(r, pattern, memo):
            return True
    return False


def select_findings(
    snap: "RunSnapshot",
    findings: Iterable[Finding],
    pattern: re.Pattern[str] | None,
    faults_only: bool,
    cancelled: Callable[[], bool],
) -> list[Finding]:
    """The findings ``f`` (faults only) and ``/`` (group fields or any of its failures) leave."""
    out = []
    for f in findings:
        if cancelled():
            break
        if faults_only and not is_fault_finding(f):
            continue
        if pattern is None or finding_matches(f, pattern, snap.failures_of(f), cancelled):
            out.append(f)
    return out


def record_is_fault(snap: "RunSnapshot", r: FailureRecord) -> bool:
    """``f`` in a failure group: keep failures whose task did not end up succeeding.

    A failure without a task (or of a task the event stream never mentions) is kept.
    """
    if not r.task_id:
        return True
    row = snap.tasks.row.get(r.task_id)
    if row is None:
        return True
    state = snap.tasks.strings.values[snap.tasks.state[row]]
    return state != "succeeded"


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
    if f.first_seen or f.last_seen or f.before_attach:
        lines.append(f"seen: {printable(seen_text(f))}" if f.before_attach
                     else f"first seen: {printable(f.first_seen or '-')}   last seen: {printable(f.last_seen or '-')}")
    if f.evidence:
        lines.append("evidence:")
        lines.extend(f"  {printable(e.timestamp or '-')}  {printable(e.source)}  {printable(e.text)}" for e in f.evidence)
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

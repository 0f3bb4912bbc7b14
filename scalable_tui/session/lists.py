"""What the list screens do with a ``RunSnapshot``: match findings and failures against a query, and
the plain texts that ``c`` copies; the Tasks list itself is ``session.task_lists`` (re-exported here).

No Textual here: every helper is testable headless, and a query runs the same on every screen.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable

from scalable_tui.model.diagnosis import Finding
from assistant.render import retry_words, seen_text
from assistant.textsafe import printable
from scalable_tui.model.run import FailureRecord
from scalable_tui.session.snapshot import RunSnapshot
from scalable_tui.session.task_lists import (  # noqa: F401 - re-exported: the screens' one door for lists
    TASK_COLUMNS,
    compile_query,
    filter_tasks,
    is_fault,
    query_pattern,
    sort_tasks,
    split_worker,
    task_cells,
)


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
    row = snap.tasks.row_get(r.task_id)  # a failure's task: answered without building the id map
    if row is None:
        return True
    state = snap.tasks.strings.values[snap.tasks.state[row]]
    return state != "succeeded"


# -- findings as plain text (clipboard) --------------------------------------------
def finding_text(f: Finding) -> str:
    lines = [
        f"[{f.severity}] {printable(f.title)}",
        f"category: {f.category}   count: {f.count}   {retry_words(f)[1]}",
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

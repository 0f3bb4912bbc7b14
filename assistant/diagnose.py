"""Failures -> grouped, categorised, ordered findings with concrete suggestions.

Works on a ``RunState`` from any source, so the live and recording sources
get the same diagnosis as run directories.  Pure and deterministic: the same
state gives the same findings in the same order.

This module assembles the findings and defines once what counts as a failure
(:func:`failure_counts`).  Grouping failures by signature is
:mod:`assistant.grouping`, the values a suggestion quotes are
:mod:`assistant.suggest_context`, the abandoned/idle run finding is
:mod:`assistant.abandoned` and the notes on unreadable input are
:mod:`assistant.incomplete`.
"""

from __future__ import annotations

import math
from collections import Counter

from assistant.abandoned import _abandoned_finding, abandoned_info
from assistant.grouping import MAX_NAME_CHARS, _Group, clip_name, group_failures, join_failures
from assistant.incomplete import incomplete_inputs
from assistant.rules import SUGGESTIONS
from assistant.signature import SIGNATURE_VERSION
from assistant.suggest_context import _context
from assistant.task_names import title_place
from assistant.textsafe import clip
from scalable_tui.model.bulk import gc_paused
from scalable_tui.model.diagnosis import Diagnosis, Evidence, Finding, SEVERITY_RANK
from scalable_tui.model.run import FailureRecord, ResourceProfile, RunState, duration_text
from scalable_tui.model.words import plural

MAX_TASK_IDS = 50
MAX_EVIDENCE = 5
#: ``details.phase`` of an exception raised by the driving script inside ``with session:``.
SCRIPT_PHASE = "session.context"
SCRIPT_SUGGESTION = (
    "This exception came from the script that drives the run (inside `with session:`), not from a task: "
    "its traceback is in that script's own output (the batch job's log or the terminal that ran it). "
    "The script stopped there: whatever it would have submitted after that point never ran."
)


def _requested(profiles: list[ResourceProfile]) -> dict[str, str | int | float | None]:
    """What the group's failures requested: a field's value when they agree, else every value with its count.

    The first failure's request alone said ``memory=4G`` for a group whose
    failures were 6 of 10 in a component that requested 2G.
    """
    if not profiles:
        return {}
    out: dict[str, str | int | float | None] = {}
    for key in ("requested_memory", "requested_walltime", "requested_cpus", "provider"):
        seen = Counter(getattr(p, key) for p in profiles)
        seen.pop(None, None)
        if len(seen) <= 1:
            out[key] = next(iter(seen), None)
        else:
            out[key] = ", ".join(f"{v} ×{n}" for v, n in seen.most_common())
    return out


# -- findings ----------------------------------------------------------------
def _finding(state: RunState, g: _Group) -> Finding:
    recs = sorted(g.records, key=lambda f: (f.ts if f.ts is not None else math.inf, f.index))
    profiles = [f.resources for f in recs if f.resources is not None]
    seen_profiles: list[ResourceProfile] = list({id(p): p for p in profiles}.values())
    ctx = _context(state, g, seen_profiles)
    task_ids = [f.task_id for f in recs if f.task_id]
    workers = Counter(f.worker for f in recs if f.worker)
    names = Counter(f.task_name for f in recs if f.task_name)
    comps = Counter(f.component for f in recs if f.component)
    evidence = [
        Evidence(
            timestamp=f.timestamp,
            source=f"{f.source}:{f.line_no}" if f.line_no else f.source,
            text=f"{clip(f.failure_class, MAX_NAME_CHARS)}: {f.message[:500]}"[:500],
        )
        for f in (recs[:MAX_EVIDENCE - 1] + recs[-1:] if len(recs) > MAX_EVIDENCE else recs)
    ]
    example_tb = next((f for f in recs if f.traceback), None)
    res = _requested(profiles)
    exc = clip(recs[0].failure_class, MAX_NAME_CHARS).rsplit(".", 1)[-1]
    where = f" in {title_place(names, clip_name)}" if names else ""
    if g.rule.category in ("user_code", "invalid_input"):
        title = f"{exc}{where or ' in task code'}"
    else:
        # Several groups can share a category: the exception and task tell them apart.
        title = f"{g.rule.title}: {exc}{where}"
    suggestion = SUGGESTIONS[g.rule.category].format_map(ctx)
    if recs[0].phase == SCRIPT_PHASE and not task_ids:
        # Not a task's error: the script that drives the run raised it, so the task advice would mislead.
        title = f"The workflow script raised {exc} inside `with session:`"
        suggestion = SCRIPT_SUGGESTION
    elif recs[0].phase and recs[0].phase != "task_execution":
        title = f"{g.rule.title} ({recs[0].phase}): {exc}"
    return Finding(
        id=g.sig,
        category=g.rule.category,
        severity=g.rule.severity,  # type: ignore[arg-type]
        title=title,
        count=len(recs),
        transient=g.rule.transient,
        exception_types=list(g.types),
        pattern=g.pattern,
        suggestion=suggestion,
        matched=g.matched,
        evidence=evidence,
        task_ids=task_ids[:MAX_TASK_IDS],
        task_ids_more=max(0, len(task_ids) - MAX_TASK_IDS),
        task_names=dict(names.most_common()),
        components=dict(comps.most_common()),
        workers=[w for w, _ in workers.most_common(20)],
        first_seen=recs[0].timestamp,
        last_seen=next((f.timestamp for f in reversed(recs) if f.timestamp), None),
        before_attach=sum(1 for f in recs if f.ts is None and f.details.get("before_attach")),
        example_message=recs[0].message[:2000],
        example_traceback=example_tb.traceback if example_tb else None,
        signature=g.sig,
        phase=recs[0].phase,
        resources=res,
        failure_indices=[f.index for f in recs],
    )

#: The ``failure_class`` of a worker death that no task failure stands for.
WORKER_DIED = "WorkerDied"


def counted_failures(state: RunState) -> tuple[list[FailureRecord], int, int]:
    """The failure records a diagnosis counts, and how many it leaves out: (records, superseded, recovered).

    One per failed task: a task with several records (a producer that writes
    one per attempt, or a plain record beside a richer ``task_execution`` one)
    counts once, by its last record, as the retry plan counts it and as a live
    scheduler counts one erred key; a task whose last event is ``succeeded``
    recovered, so its records are not failures of the run.  Records of no task
    (session-level, or a graph the scheduler refused) all count.
    """
    fs = state.failures
    last: dict[str, int] = {}
    with_task = 0
    for i, f in enumerate(fs):
        tid = f.task_id
        if tid is not None:
            last[tid] = i
            with_task += 1
    t = state.tasks
    try:  # ``strings.values``, not ``strings.index``: a reopened table builds no map it does not need
        ok: int | None = t.strings.values.index("succeeded")
    except ValueError:
        ok = None
    recovered: set[str] = set()
    if ok is not None and last:
        row_get, states = t.sparse_getter("row"), t.state
        for tid in last:
            r = row_get(tid)
            if r is not None and states[r] == ok:
                recovered.add(tid)
    superseded = with_task - len(last)
    if not superseded and not recovered:
        return fs, 0, 0
    kept = [f for i, f in enumerate(fs)
            if f.task_id is None or (last[f.task_id] == i and f.task_id not in recovered)]
    return kept, superseded, len(recovered)


def uncounted_notice(superseded: int, recovered: int) -> str | None:
    """The note that says which failure records a diagnosis left out (``counted_failures``)."""
    parts = []
    if superseded:
        parts.append(f"{plural(superseded, 'earlier failure record')} superseded by a later record of the same task")
    if recovered:
        parts.append(f"the failure records of {plural(recovered, 'task')} that succeeded later")
    return f"not counted as failures: {' and '.join(parts)}" if parts else None


def failure_counts(state: RunState, counted: list[FailureRecord] | None = None) -> tuple[int, int, int, int]:
    """(failures, task failures, failures of no task, worker deaths): the one definition of "a failure".

    - A *task failure* is one failed task: its last ``failures.jsonl`` record
      (or a failed task event without one) in a run directory, unless the task
      succeeded later (``counted_failures``); one erred key on a live
      scheduler (a retry that errs again is the same failure).
    - A failure of *no task* is a session-level record (``details.phase``:
      the session failed to start or close, or the driving script raised
      inside ``with session:``) or a task graph the scheduler refused.
    - A *worker death* is one unexpected worker departure.  It is counted once
      in ``worker_deaths`` and becomes a failure record (``WorkerDied``) only when
      no task failure stands for it: the deaths a ``KilledWorker`` names are that
      task failure, not extra failures.
    - The failure records the findings group are the task failures, the
      failures of no task and those ``WorkerDied`` records, so the findings'
      counts add up to the first number.
    """
    fs = state.failures if counted is None else counted
    died = other = 0
    for f in fs:
        if f.task_id is None:
            if f.failure_class == WORKER_DIED:
                died += 1
            else:
                other += 1
    return len(fs), len(fs) - died - other, other, max(state.worker_deaths, died)


def diagnose_state(state: RunState, *, stale_after_s: float | None = None, now: float | None = None) -> Diagnosis:
    """The heuristic diagnosis of one run state."""
    with gc_paused():  # 100,000 failures: many tuples and strings, no cycles (model/bulk.py)
        join_failures(state)
        counted, superseded, recovered = counted_failures(state)
        findings = [_finding(state, g) for g in group_failures(state, counted)]
    abandoned, idle = abandoned_info(state, stale_after_s, now)
    if abandoned and idle is not None:
        findings.append(_abandoned_finding(state, idle))
    # Severity first; within one severity, run-level findings (count 0) before
    # failure groups, then the biggest groups first.
    findings.sort(key=lambda f: (SEVERITY_RANK[f.severity], f.count > 0, -f.count, f.category, f.id))
    totals = state.totals()
    total, task_failures, run_failures, worker_deaths = failure_counts(state, counted)
    failure_findings = [f for f in findings if f.count]
    cats = {f.category for f in failure_findings}
    if total:
        summary = (
            f"{total} failure{'s' if total != 1 else ''} in {len(failure_findings)} group"
            f"{'s' if len(failure_findings) != 1 else ''} across {len(cats)} categor{'ies' if len(cats) != 1 else 'y'}"
        )
        top = failure_findings[0]
        summary += f"; most important: {top.title} ({top.count}×, {top.category})."
    else:
        summary = "No failures recorded."
    incomplete = incomplete_inputs(state, abandoned)
    if incomplete:
        summary += f" Input incomplete: {'; '.join(incomplete)}."
    if abandoned and idle is not None:
        summary = f"Run probably abandoned (no events for {duration_text(idle)}, {totals.unfinished} task(s) unfinished). " + summary
    status = state.meta.status or ("completed" if state.summary else "unknown")
    return Diagnosis(
        run_id=state.meta.run_id,
        run_dir=state.run_dir,
        status=status,
        abandoned=abandoned,
        idle_s=round(idle, 1) if idle is not None else None,
        summary=summary,
        failures_total=total,
        task_failures=task_failures,
        run_failures=run_failures,
        worker_deaths=worker_deaths,
        tasks=dict(sorted(totals.by_state.items())),
        tasks_total=totals.total,
        tasks_origin=totals.origin,
        unfinished=totals.unfinished,
        findings=findings,
        notices=state.notices() + [n for n in (uncounted_notice(superseded, recovered),) if n],
        incomplete=incomplete,
        signature_version=SIGNATURE_VERSION,
    )

"""The screens' one run data model: an immutable-by-convention ``RunSnapshot``.

The reader thread owns the live ``RunState`` (it mutates it on every
refresh).  After each change it builds a snapshot with private copies of the
columns the screens read (array copies: milliseconds even for 300k tasks) and
posts it to the UI; screens only render snapshots.  No Textual imports here,
so the model and the filter/sort helpers are testable headless.
"""

from __future__ import annotations

import heapq
import operator
import re
from bisect import bisect_left, bisect_right
from collections import Counter
from itertools import accumulate, compress
from array import array
from dataclasses import dataclass, field
from typing import Any

from assistant.abandoned import abandoned_info, stale_threshold
from scalable_tui.model.diagnosis import Diagnosis, Finding
from assistant.render import failure_breakdown
from assistant.textsafe import printable
from assistant.task_names import fold_name
from scalable_tui.model.run import (
    TERMINAL_STATES,
    FailureRecord,
    Interner,
    RunMeta,
    RunState,
    TaskTable,
    WorkerEvent,
)

TIMELINE_BUCKETS = 60
FAULT_STATES = frozenset({"failed", "cancelled"})


def copy_tasks(t: TaskTable) -> TaskTable:
    """A private copy of the columns (the reader keeps appending to the original)."""
    c = TaskTable()
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
    #: The biggest task groups (task names, ``client.map``'s ``name[0]``, ``name[1]``, … folded into one
    #: ``name[…]``) with their per-state counts, largest first; ``groups`` counts them all.
    top_groups: list[tuple[str, dict[str, int]]]
    groups: int
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
    #: What ``top_groups`` are grouped by: "task name", or "function" when the names are per task.
    groups_by: str = "task name"
    #: A scheduler's view diagnosed in the background: ``session.view.failure_basis`` of the view it was
    #: made from, so a screen beside a newer view can tell (``live_failures_line``).  None for a run directory.
    basis: tuple[Any, ...] | None = None

    @property
    def run_id(self) -> str:
        return self.meta.run_id

    def ended(self) -> bool:
        """The run closed or was given up, as its diagnosis says it to every door (``Diagnosis.ended``)."""
        return self.diagnosis.ended

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


def failures_text(diag: Diagnosis) -> str:
    """``23 failures (20 task failures · 3 worker deaths)``: the counts every screen prints (``failure_breakdown``).

    They are ``Diagnosis.failures_total`` / ``task_failures`` / ``worker_deaths``
    (defined once in ``assistant.diagnose.failure_counts``), so the Overview, the
    Failures screen, the status line and ``diagnose --format json`` agree.
    """
    n = diag.failures_total
    text = f"{n} failure{'s' if n != 1 else ''}"
    return text + failure_breakdown(diag)


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
    """Finished tasks per time bucket (done, failed): the per-row rule of ``_bucket``, counted by bisection.

    A per-row loop cost ~0.16 s of every publish of a 300k-task run.  Here the
    finished rows' times are picked and sorted with C-level calls (nearly in
    order already: rows are added as tasks start), and each bucket's edge is
    found by bisecting with the per-row rule itself as the key: that rule only
    grows with the time, so the counts are exactly the per-row ones.
    """
    done = [0] * TIMELINE_BUCKETS
    failed = [0] * TIMELINE_BUCKETS
    if lo is None or hi is None:
        return done, failed
    span = max(hi - lo, 1e-9)
    values = t.strings.values
    kind_of = bytearray(len(values))  # state code -> 1 done, 2 failed, 0 not finished
    for i, v in enumerate(values):
        if v in TERMINAL_STATES:
            kind_of[i] = 2 if v in FAULT_STATES else 1
    kinds = bytes(map(kind_of.__getitem__, t.state))
    ts = t.last_ts

    def bucket(x: float) -> int:
        return _bucket(x, lo, span)

    for which, out in ((1, done), (2, failed)):
        picked = list(compress(ts, map(which.__eq__, kinds)))
        picked = sorted(compress(picked, map(operator.eq, picked, picked)))  # NaN != NaN: no time
        edge = 0
        for b in range(1, TIMELINE_BUCKETS):
            nxt = bisect_left(picked, b, lo=edge, key=bucket)
            out[b - 1] = nxt - edge
            edge = nxt
        out[-1] = len(picked) - edge
    return done, failed


def _bucket(ts: float, lo: float, span: float) -> int:
    """The timeline bucket of a finished task's time: before the start is the first, after the end the last."""
    b = int((ts - lo) / span * TIMELINE_BUCKETS)
    n = TIMELINE_BUCKETS - 1
    return n if b > n else (0 if b < 0 else b)


def task_group(name: str) -> str:
    """``run_gcam[12]`` -> ``run_gcam[…]`` (Scalable's ``client.map`` names its tasks ``name[i]``), and
    ``run_gcam[scenario=000063]`` -> ``run_gcam[…]`` (a name per task): the findings' fold
    (``assistant.task_names.fold_name``), so the Overview's bars and the findings name tasks alike."""
    return fold_name(name)


#: Task groups the Overview shows as bars (the rest are counted).
TOP_GROUPS = 12


def task_groups_of(names: list[str]) -> list[str]:
    """``task_group`` of each name, from one regex pass over them all joined (C speed; 300k names with
    a per-name regex call took ~0.3 s of every publish)."""
    text = "\n".join(names)
    if text.count("\n") != max(0, len(names) - 1):  # a name with a newline: one by one
        return [task_group(x) for x in names]
    folded, n = _MAPPED_LINES.subn("[…]", text)
    if n == 0:
        return list(names)
    if 8 * n > len(names):  # many fold (a name per task): cut the folded text again, in C
        return folded.split("\n")
    out = list(names)  # a few fold: the others stay the same objects
    starts = list(map(operator.add, accumulate(map(len, names), initial=0), range(len(names) + 1)))
    for m in _MAPPED_LINES.finditer(text):
        k = bisect_right(starts, m.start()) - 1
        out[k] = names[k][: m.start() - starts[k]] + "[…]"
    return out


#: ``PER_TASK`` at the end of each line of names joined by newlines (none of which holds one).
_MAPPED_LINES = re.compile(r"\[[^\[\]\n]*\]$", re.MULTILINE)


def overview_groups(tasks: TaskTable, top: int = TOP_GROUPS) -> tuple[list[tuple[str, dict[str, int]]], int, str]:
    """The Overview's bars: ``top_task_groups`` by task name, or by function when the names are per task.

    Scalable lets a caller name each task (``_scalable_task_name``, e.g.
    ``run_gcam[scenario=000123]``); such a run had 12 bars of one task each and
    "… 299,988 more task names".  When most names name a single task, and the
    tasks' functions (all known) form at most half as many groups, the bars are
    per function instead; the third value says which ("task name" or "function").
    Only the chosen column's bars are counted.
    """
    by_name = _group_sizes(tasks, "name")
    n = len(by_name[2])
    if n > top and 2 * n > tasks.n_tasks():
        functions = set(compress(tasks.function, tasks.state))  # code 0 is None: "not known"
        names = list(map(tasks.strings.values.__getitem__, functions))
        # A function's group is its own name unless it ends in a bracket ("f[3]" -> "f[…]"): so at least this
        # many groups.  Functions that vary per task are turned down here, without grouping 300k names (0.15 s).
        if all(names) and 2 * (len(names) - _may_fold(names)) <= n:
            by_fn = _group_sizes(tasks, "function")
            if 2 * len(by_fn[2]) <= n:
                return _bars(tasks, "function", *by_fn, top), len(by_fn[2]), "function"
    return _bars(tasks, "name", *by_name, top), n, "task name"


def _may_fold(names: list[Any]) -> int:
    """At least as many as the names ``task_group`` folds: the line ends after a bracket in them joined (a
    name with a newline only adds line ends, so the count stays an upper bound)."""
    try:
        return len(_MAPPED_LINES.findall("\n".join(names)))
    except TypeError:  # not all strings: assume every one may fold
        return len(names)


def top_task_groups(tasks: TaskTable, top: int = TOP_GROUPS,
                    column: str = "name") -> tuple[list[tuple[str, dict[str, int]]], int]:
    """The ``top`` task groups by size with their per-state counts, and how many groups there are.

    Equal to folding ``tasks.counts_by(column)`` by ``task_group`` and ranking by (-size, name) (the
    reference in tests/app/test_data.py), without building per-state counts for every name: a run
    whose names differ per task (a scenario id in the name) has 300k groups of one task, and that
    cost ~0.6 s and ~60 MB a publish for 12 bars.
    """
    sizes = _group_sizes(tasks, column)
    return _bars(tasks, column, *sizes, top), len(sizes[2])


def _group_sizes(tasks: TaskTable, column: str) -> tuple[list[int], list[str], dict[str, int]]:
    """The column's name codes in use, each one's group, and the tasks per group (rows with a task event)."""
    values = tasks.strings.values
    sizes = Counter(compress(getattr(tasks, column), tasks.state))  # rows with a task event, per name code
    name_codes = list(sizes)
    groups = task_groups_of([values[code] or "(none)" for code in name_codes])
    totals: dict[str, int]
    if len(set(groups)) == len(groups):  # no two names in one group (per-task names): sizes as they are
        totals = dict(zip(groups, sizes.values()))
    elif all(n == 1 for n in sizes.values()):  # one task per name, folded (a name per task): counted in C
        totals = Counter(groups)
    else:
        totals = Counter()
        for g, n in zip(groups, sizes.values()):
            totals[g] += n
    return name_codes, groups, totals


def _bars(tasks: TaskTable, column: str, name_codes: list[int], groups: list[str], totals: dict[str, int],
          top: int) -> list[tuple[str, dict[str, int]]]:
    """The ``top`` groups of ``_group_sizes`` ranked, with per-state counts for those only."""
    values = tasks.strings.values
    names = getattr(tasks, column)
    ranked = _ranked(totals, top)
    wanted = {name for name, _ in ranked}
    shown = list(map(wanted.__contains__, groups))
    if sum(shown) > MANY_NAMES:
        return _bars_many(tasks, column, list(compress(name_codes, shown)), list(compress(groups, shown)), ranked)
    group_of = dict(zip(compress(name_codes, shown), compress(groups, shown)))  # of the names with a bar
    picked = bytearray(len(values))  # name code -> 1 when its group has a bar
    for code in group_of:
        picked[code] = 1
    counts: dict[str, dict[str, int]] = {name: {} for name in wanted}
    for (code, st), n in Counter(compress(zip(names, tasks.state), map(picked.__getitem__, names))).items():
        if not st:  # no task event
            continue
        acc = counts[group_of[code]]
        key = values[st] or "unknown"
        acc[key] = acc.get(key, 0) + n
    return [(name, counts[name]) for name, _ in ranked]


#: Names behind the bars beyond which they are counted with numpy (a name per task folded into a few bars:
#: a Python pass over 300k (name, state) pairs took 0.3 s of a publish).
MANY_NAMES = 20_000


def _bars_many(tasks: TaskTable, column: str, codes: list[int], groups: list[str],
               ranked: list[tuple[str, int]]) -> list[tuple[str, dict[str, int]]]:
    """``_bars`` for many names: rows -> bar index by an array over name codes, (bar, state) counted by bincount."""
    import numpy as np

    values = tasks.strings.values
    index = {name: i for i, (name, _) in enumerate(ranked)}
    code_bar = np.full(len(values), -1, dtype=np.int64)
    code_bar[np.array(codes, dtype=np.int64)] = np.fromiter(map(index.__getitem__, groups), dtype=np.int64,
                                                            count=len(groups))
    bar = code_bar[np.frombuffer(getattr(tasks, column), dtype=np.uintc)]
    state = np.frombuffer(tasks.state, dtype=np.uintc)
    keep = (bar >= 0) & (state != 0)  # rows in a bar with a task event
    states, which = np.unique(state[keep], return_inverse=True)
    k = len(states)
    counts = np.bincount(bar[keep] * k + which, minlength=len(ranked) * k).reshape(len(ranked), k)
    out: list[tuple[str, dict[str, int]]] = []
    for i, (name, _) in enumerate(ranked):
        acc: dict[str, int] = {}
        for j in np.flatnonzero(counts[i]):
            key = values[int(states[j])] or "unknown"
            acc[key] = acc.get(key, 0) + int(counts[i, j])
        out.append((name, acc))
    return out


def _ranked(totals: dict[str, int], top: int) -> list[tuple[str, int]]:
    """``heapq.nsmallest(top, totals.items(), key=lambda kv: (-kv[1], kv[0]))`` without a key call per group.

    The ``top``-th largest size is the cut: every group above it is ranked, and
    the rest of the places go to the first names among those exactly at it (on
    a run of 300k one-task groups the key calls took ~80 ms).
    """
    if top <= 0 or not totals:
        return []
    if len(totals) <= top:
        return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    cut = heapq.nlargest(top, totals.values())[-1]
    above = sorted(compress(totals.items(), map(cut.__lt__, totals.values())), key=lambda kv: (-kv[1], kv[0]))
    at = heapq.nsmallest(top - len(above), compress(totals, map(cut.__eq__, totals.values())))
    return above + [(k, cut) for k in at]


def build_snapshot(
    state: RunState,
    diagnosis: Diagnosis,
    version: int,
    *,
    stale_after_s: float | None,
    now: float,
    loading: float | None = None,
    final: bool = False,
    overview: Any = None,
) -> RunSnapshot:
    """Copy what the screens need out of the live state (runs in the reader thread).

    ``final``: the reader will never touch this state again (a finished run,
    fully read), so the task table is shared instead of copied (0.2 s and
    ~50 MB on a 300k-task run), and marked ``frozen``.  ``overview``: the
    bars and timelines of this state from ``session.overview_cache``.
    """
    tasks = state.tasks if final else copy_tasks(state.tasks)
    if final:
        tasks.frozen = True
    live = state.meta.status == "running"
    _abandoned, idle = abandoned_info(state, stale_after_s, now)
    if overview is not None:  # ``overview_cache``: what the lines below count, stored for this very state
        done, failed, top, n_groups, groups_by = overview
    else:
        done, failed = _timeline(tasks, state.first_event_ts, state.last_event_ts)
        top, n_groups, groups_by = overview_groups(tasks)
    return RunSnapshot(
        version=version,
        run_dir=state.run_dir,
        meta=state.meta,
        tasks=tasks,
        failures=list(state.failures),
        worker_events=list(state.worker_events),
        profiles=list(state.profiles),
        # the reader's notices, then the diagnosis's own (what it left uncounted, why Slurm was not joined)
        notices=list(dict.fromkeys([*state.notices(), *diagnosis.notices])),
        diagnosis=diagnosis,
        counts=tasks.counts_by_state(),
        top_groups=top,
        groups=n_groups,
        groups_by=groups_by,
        first_event_ts=state.first_event_ts,
        last_event_ts=state.last_event_ts,
        live=live,
        activity_ts=None if idle is None else now - idle,
        stale_after_s=stale_threshold(state, stale_after_s),
        completions=done,
        failures_timeline=failed,
        loading=loading,
    )

"""Failures -> grouped, categorised, ordered findings with concrete suggestions.

Works on a ``RunState`` from any source, so the live and recording sources
get the same diagnosis as run directories.  Pure and deterministic: the same
state gives the same findings in the same order.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from scalable_tui.model.diagnosis import SEVERITY_RANK, Diagnosis, Evidence, Finding
from assistant.rules import SUGGESTIONS, Rule, classify
from assistant.signature import (
    SIGNATURE_VERSION,
    ParsedTraceback,
    normalize_message,
    parse_traceback,
    signature_id,
    signature_key,
)
from assistant.textsafe import clip
from scalable_tui.model.run import FailureRecord, ResourceProfile, RunState, looks_like_dask_key

MAX_TASK_IDS = 50
MAX_EVIDENCE = 5
DEFAULT_STALE_S = 3600.0
#: What the rules and context regexes see of one failure, at most (head and
#: tail, ``clip``): hostile sizes (a 10 MB message) cost linear time, and the
#: words that decide a category sit at a message's start or a traceback's end.
MAX_MATCH_CHARS = 16_384
#: Names shown in titles (task names, exception classes) are cut to this.
MAX_NAME_CHARS = 200


@dataclass
class _Group:
    rule: Rule
    matched: str
    sig: str
    pattern: str
    types: tuple[str, ...]
    records: list[FailureRecord] = field(default_factory=list)


def _bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else clip(text, limit)


def failure_text(f: FailureRecord) -> str:
    """Everything the rules may match on, in one string (each part bounded by ``clip``)."""
    parts = [f"{_bounded(f.failure_class, MAX_NAME_CHARS)}: {_bounded(f.message, MAX_MATCH_CHARS)}"]
    if f.traceback:
        parts.append(_bounded(f.traceback, MAX_MATCH_CHARS))
    if f.details:
        parts.extend(_bounded(f"{k}={v}", MAX_NAME_CHARS) for k, v in f.details.items() if isinstance(v, (str, int, float)))
    return "\n".join(parts)


def _parsed_traceback(f: FailureRecord) -> ParsedTraceback | None:
    return parse_traceback(_bounded(f.traceback, MAX_MATCH_CHARS)) if f.traceback else None


def exception_types_of(f: FailureRecord, tb: ParsedTraceback | None | bool = False) -> tuple[str, ...]:
    types = [_bounded(f.failure_class, MAX_NAME_CHARS).rsplit(".", 1)[-1]]
    parsed = _parsed_traceback(f) if tb is False else tb
    if parsed is not None:
        for t in parsed.exception_types:  # type: ignore[union-attr]
            if t not in types:
                types.append(t)
    return tuple(types)


def join_failures(state: RunState) -> None:
    """Fill task name, component, duration and resources on each failure."""
    t = state.tasks
    for f in state.failures:
        if f.worker is not None and looks_like_dask_key(f.worker):
            f.dask_key, f.worker = f.worker, None
        if f.task_id is None:
            continue
        r = t.row.get(f.task_id)
        if r is None:
            continue
        f.task_name = t.name_of(r)
        f.component = t.component_of(r)
        f.duration_s = t.duration_of(r)
        w = t.worker.get(r)
        if w is not None:
            if looks_like_dask_key(w):
                f.dask_key = w
            elif f.worker is None:
                f.worker = w
        p = t.resource.get(r)
        f.resources = None if p is None else state.profiles[p]


# Ids, hashes and long numbers never decide a category (the rules look at
# words, errno values, signals, exit codes and percentages: all short), so
# texts that differ only in those classify alike.  Masking them lets 15,000
# unique messages share a few dozen classifications.
_CLASSIFY_KEY = re.compile(r"\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b|\d{4,}")


def _classify_key(f: FailureRecord) -> tuple[str, str, str | None]:
    return (f.failure_class, _CLASSIFY_KEY.sub("#", failure_text(f)), f.phase)


def group_failures(state: RunState) -> list[_Group]:
    groups: dict[str, _Group] = {}
    rule_memo: dict[tuple[str, str, str | None], tuple[Rule, str, tuple[str, ...]]] = {}
    sig_memo: dict[tuple[str, str, str, str | None, str | None], tuple[str, str, tuple[str, ...]]] = {}
    # Work is shared by exact text: a traceback is parsed once, a message is
    # normalised once, and not at all when in-app frames decide the signature
    # (its pattern is needed only for a new group's first record).
    tb_memo: dict[str, ParsedTraceback] = {}
    id_memo: dict[tuple, str] = {}
    for f in state.failures:
        tb: ParsedTraceback | None = None
        if f.traceback:
            tb = tb_memo.get(f.traceback)
            if tb is None:
                tb = tb_memo[f.traceback] = _parsed_traceback(f)  # type: ignore[assignment]
        ck = _classify_key(f)
        hit = rule_memo.get(ck)
        if hit is None:
            types = exception_types_of(f, tb)
            rule, why = classify(types, failure_text(f), f.phase)
            hit = rule_memo[ck] = (rule, why, types)
        rule, why, types = hit
        sk = (rule.category, f.failure_class, f.message, f.traceback, f.phase)
        sh = sig_memo.get(sk)
        if sh is None:
            key, chain = signature_key(rule.category, types[0], tb)
            pattern: str | None = None
            if key is None:
                pattern = normalize_message(f.message)
                key = ("msg", rule.category, chain, pattern)
            sig = id_memo.get(key)
            if sig is None:
                sig = id_memo[key] = signature_id(key)
            if f.phase:
                sig = f"{sig}@{f.phase}"
            sh = sig_memo[sk] = (sig, pattern, chain)
        sig, pattern, chain = sh
        g = groups.get(sig)
        if g is None:
            if pattern is None:
                pattern = normalize_message(f.message)
            g = groups[sig] = _Group(rule, why, sig, pattern, chain)
        g.records.append(f)
    return list(groups.values())


# -- suggestion context ------------------------------------------------------
# Linear on any input: possessive spaces (``\s*…\s*$`` retried every split of
# a long run of spaces), host and path starts only where a word starts.
_MEM = re.compile(r"^\s*+(\d+(?:\.\d+)?)\s*+([KMGTP]?)i?B?\s*+$", re.I)
_WALL = re.compile(r"^(?:(\d+)-)?(\d+):(\d{2})(?::(\d{2}))?$")
_MODULE = re.compile(r"No module named '([^']+)'|cannot import name '([^']+)'")
_PATH = re.compile(r"'(/[^']+)'|\"(/[^\"]+)\"|(?<![\w/])(/(?:[\w.-]+/)+[\w.-]+)")
_HOST = re.compile(
    r"(?:https?://)?(?<![\w.-])((?:[a-z0-9-]++\.)+[a-z]{2,}+|\d{1,3}(?:\.\d{1,3}){3})(?![\w-])(?!\.[\w-])(?::\d+)?",
    re.I,
)
MAX_RESOURCE_CHARS = 64


def _double_memory(mem: str) -> str | None:
    m = _MEM.match(mem) if len(mem) <= MAX_RESOURCE_CHARS else None
    if not m:
        return None
    n = float(m.group(1)) * 2
    return f"{n:g}{m.group(2).upper()}"


def _longer_walltime(wall: str) -> str | None:
    m = _WALL.match(wall.strip()) if len(wall) <= MAX_RESOURCE_CHARS else None
    if not m:
        return None
    d, h, mi, s = (int(x) if x else 0 for x in m.groups())
    total = ((d * 24 + h) * 60 + mi) * 60 + s
    total = int(total * 1.5)
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def walltime_seconds(wall: str | None) -> float | None:
    if not wall or len(wall) > MAX_RESOURCE_CHARS:
        return None
    m = _WALL.match(wall.strip())
    if not m:
        return None
    d, h, mi, s = (int(x) if x else 0 for x in m.groups())
    return float(((d * 24 + h) * 60 + mi) * 60 + s)


class _Ctx(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def _context(state: RunState, g: _Group, profiles: list[ResourceProfile]) -> _Ctx:
    ctx = _Ctx()
    comps = Counter(f.component for f in g.records if f.component)
    ctx["component"] = comps.most_common(1)[0][0] if comps else "?"
    ctx["target"] = state.meta.target_name or "?"
    mems = sorted({p.requested_memory for p in profiles if p.requested_memory})
    walls = sorted({p.requested_walltime for p in profiles if p.requested_walltime})
    cluster_wall = cluster_mem = None
    for ev in state.worker_events:
        kw = ev.details.get("cluster_kwargs") if isinstance(ev.details, dict) else None
        if isinstance(kw, dict):
            cluster_wall = cluster_wall or kw.get("walltime")
            cluster_mem = cluster_mem or kw.get("memory")
    if not mems and isinstance(cluster_mem, str):
        mems = [cluster_mem]
    if not walls and isinstance(cluster_wall, str):
        walls = [cluster_wall]
    ctx["mem_ctx"] = f" (requested memory: {', '.join(mems)})" if mems else ""
    nxt = [_double_memory(m) for m in mems]
    ctx["mem_next_ctx"] = f" (e.g. {', '.join(n for n in nxt if n)})" if any(nxt) else ""
    ctx["wall_ctx"] = f" (requested walltime: {', '.join(walls)})" if walls else ""
    wn = [_longer_walltime(w) for w in walls]
    ctx["wall_next_ctx"] = f" (e.g. {', '.join(w for w in wn if w)})" if any(wn) else ""
    modules = Counter()
    paths = Counter()
    hosts = Counter()
    for f in g.records[:200]:
        message = clip(f.message, MAX_MATCH_CHARS)
        text = f"{message}\n{clip(f.traceback, MAX_MATCH_CHARS) if f.traceback else ''}"
        for m in _MODULE.finditer(text):
            modules[clip(m.group(1) or m.group(2), MAX_NAME_CHARS)] += 1
        for m in _PATH.finditer(message):
            paths[clip(next(x for x in m.groups() if x), MAX_NAME_CHARS)] += 1
        for m in _HOST.finditer(message):
            hosts[clip(m.group(1), MAX_NAME_CHARS)] += 1
    ctx["module_ctx"] = f" ({', '.join(repr(m) for m, _ in modules.most_common(3))})" if modules else ""
    if paths:
        common = _common_dir([p for p, _ in paths.most_common(20)])
        ctx["path_ctx"] = f" (under {common})" if common and common != "/" else f" (e.g. {paths.most_common(1)[0][0]})"
    else:
        ctx["path_ctx"] = ""
    ctx["host_ctx"] = f" ({', '.join(h for h, _ in hosts.most_common(2))})" if hosts else ""
    ex = g.records[0]
    exc_name = clip(ex.failure_class, MAX_NAME_CHARS)
    ctx["example_ctx"] = f" ({exc_name}: {ex.message[:80]})" if ex.message else f" ({exc_name})"
    ctx["allowed_failures_ctx"] = "Dask gives up on a task after `distributed.scheduler.allowed-failures` (default 3) worker deaths"
    return ctx


def _common_dir(paths: list[str]) -> str:
    import os.path

    try:
        return os.path.dirname(os.path.commonpath(paths)) if len(paths) == 1 else os.path.commonpath(paths)
    except ValueError:
        return ""


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
    res: dict[str, str | int | float | None] = {}
    if seen_profiles:
        p = seen_profiles[0]
        res = {
            "requested_memory": p.requested_memory,
            "requested_walltime": p.requested_walltime,
            "requested_cpus": p.requested_cpus,
            "provider": p.provider,
        }
    exc = clip(recs[0].failure_class, MAX_NAME_CHARS).rsplit(".", 1)[-1]
    where = f" in {clip(names.most_common(1)[0][0], MAX_NAME_CHARS)}" if names else ""
    if g.rule.category in ("user_code", "invalid_input"):
        title = f"{exc}{where or ' in task code'}"
    else:
        # Several groups can share a category: the exception and task tell them apart.
        title = f"{g.rule.title}: {exc}{where}"
    if recs[0].phase and recs[0].phase != "task_execution":
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
        suggestion=SUGGESTIONS[g.rule.category].format_map(ctx),
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


def stale_threshold(state: RunState, stale_after_s: float | None) -> float:
    """How long without events before a "running" run is called abandoned.

    A run whose tasks may legitimately run for four hours is not abandoned
    after one quiet hour: by default the threshold is the longest requested
    walltime, at least an hour.
    """
    if stale_after_s is not None:
        return stale_after_s
    walls = [walltime_seconds(p.requested_walltime) for p in state.profiles]
    longest = max((w for w in walls if w), default=0.0)
    return max(DEFAULT_STALE_S, longest)


def abandoned_info(state: RunState, stale_after_s: float | None = None, now: float | None = None) -> tuple[bool, float | None]:
    """(probably abandoned?, seconds since the newest event) for a "running" run."""
    if state.meta.status != "running":
        return False, None
    now = time.time() if now is None else now
    last = state.last_event_ts
    if last is None:
        from datetime import datetime

        if state.meta.started_at:
            try:
                last = datetime.fromisoformat(state.meta.started_at.replace("Z", "+00:00")).timestamp()
            except ValueError:
                last = None
    if last is None:
        try:
            last = Path(state.run_dir, "run.json").stat().st_mtime
        except OSError:
            return False, None
    idle = max(0.0, now - last)
    return idle > stale_threshold(state, stale_after_s), idle


def _duration_text(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 86400:
        return f"{seconds // 86400}d {seconds % 86400 // 3600}h"
    if seconds >= 3600:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds}s"


def _abandoned_finding(state: RunState, idle: float) -> Finding:
    unfinished = state.totals().unfinished
    ctx = _Ctx(unfinished=unfinished)
    last = state.last_event_ts
    from datetime import datetime, timezone

    last_s = datetime.fromtimestamp(last, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if last else None
    return Finding(
        id="run_abandoned",
        category="run_abandoned",
        severity="critical",
        title=f"Run probably abandoned: status is still 'running' but no event for {_duration_text(idle)}",
        count=0,
        transient=True,
        suggestion=SUGGESTIONS["run_abandoned"].format_map(ctx),
        matched="run.json status=running, no summary.json, no recent events",
        evidence=[
            Evidence(timestamp=last_s, source="*.jsonl", text=f"last event {_duration_text(idle)} ago"),
            Evidence(timestamp=state.meta.started_at, source="run.json", text="status: running, finished_at: null"),
            Evidence(source="tasks.jsonl", text=f"{unfinished} task(s) without a terminal state"),
        ],
        first_seen=state.meta.started_at,
        last_seen=last_s,
    )


#: The ``failure_class`` of a worker death that no task failure stands for.
WORKER_DIED = "WorkerDied"


def failure_counts(state: RunState) -> tuple[int, int, int]:
    """(failure records, task failures, worker deaths): the one definition of "a failure".

    - A *task failure* is one failed task: a ``failures.jsonl`` record (or a
      failed task event without one) in a run directory; one erred key on a
      live scheduler (a retry that errs again is the same failure).
    - A *worker death* is one unexpected worker departure.  It is counted once
      in ``worker_deaths`` and becomes a failure record (``WorkerDied``) only when
      no task failure stands for it: the deaths a ``KilledWorker`` names are that
      task failure, not extra failures.
    - The failure records the findings group are the task failures plus those
      ``WorkerDied`` records, so the findings' counts add up to the first number.
    """
    died = sum(1 for f in state.failures if f.failure_class == WORKER_DIED)
    return len(state.failures), len(state.failures) - died, max(state.worker_deaths, died)


def _count_lines(path: Path) -> int | None:
    """Complete lines in ``path`` (a partial last line is not a skipped one), or None."""
    n = 0
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                n += chunk.count(b"\n")
    except OSError:
        return None
    return n


def incomplete_inputs(state: RunState) -> list[str]:
    """One line per file that could not be read in full: unreadable, or lines skipped.

    Said in the report itself (not only on stderr): a report of "no failures"
    over a file that was 98% garbage would be a wrong answer, not a partial one.
    """
    out: list[str] = []
    run_dir = Path(state.run_dir)
    for name, iss in sorted(state.issues.items()):
        if iss.unreadable:
            out.append(f"{name}: unreadable ({iss.unreadable}): results are incomplete")
            continue
        skipped = iss.total_skipped()
        if not skipped:
            continue
        total = _count_lines(run_dir / name) if run_dir.is_dir() else None
        if total and total >= skipped:
            pct = 100.0 * skipped / total
            share = "<1" if pct < 1 else (">99" if 99 < pct < 100 else f"{pct:.0f}")
            out.append(f"{name}: {share}% unreadable ({skipped} of {total} lines skipped): results are incomplete")
        else:
            out.append(f"{name}: {skipped} unreadable line(s) skipped: results are incomplete")
    return out


def diagnose_state(state: RunState, *, stale_after_s: float | None = None, now: float | None = None) -> Diagnosis:
    """The heuristic diagnosis of one run state."""
    join_failures(state)
    findings = [_finding(state, g) for g in group_failures(state)]
    abandoned, idle = abandoned_info(state, stale_after_s, now)
    if abandoned and idle is not None:
        findings.append(_abandoned_finding(state, idle))
    # Severity first; within one severity, run-level findings (count 0) before
    # failure groups, then the biggest groups first.
    findings.sort(key=lambda f: (SEVERITY_RANK[f.severity], f.count > 0, -f.count, f.category, f.id))
    totals = state.totals()
    total, task_failures, worker_deaths = failure_counts(state)
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
    incomplete = incomplete_inputs(state)
    if incomplete:
        summary += f" Input incomplete: {'; '.join(incomplete)}."
    if abandoned and idle is not None:
        summary = f"Run probably abandoned (no events for {_duration_text(idle)}, {totals.unfinished} task(s) unfinished). " + summary
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
        worker_deaths=worker_deaths,
        tasks=dict(sorted(totals.by_state.items())),
        tasks_total=totals.total,
        tasks_origin=totals.origin,
        unfinished=totals.unfinished,
        findings=findings,
        notices=state.notices(),
        incomplete=incomplete,
        signature_version=SIGNATURE_VERSION,
    )

"""Every failure group seen across the runs of a runs directory: ``scalable-tui history``.

Each run is reduced once to a cached summary (``summary_cache``: signature ->
count plus the run's meta), so listing thousands of runs reads a few hundred
bytes per run instead of diagnosing each again.  Groups are matched by
grouping signature, per project (the same signature in two unrelated
projects is two stories).

A group's ``status``, looking at the runs of its project oldest to newest:

- ``persistent``: seen in each of the last ``PERSISTENT_RUNS`` runs: it fails
  every night, fix it first.  A project with fewer runs has no persistent group
  yet (one night is no evidence of persistence).
- ``new``: seen in the newest run only.
- ``flaky``: intermittent: between its first and its last sighting there is
  at least one run without it.  Retrying may hide it; it is still a bug.
- ``recurring``: seen in every run since it first appeared, up to the newest,
  but for fewer than ``PERSISTENT_RUNS`` runs (too young to call persistent).
- ``resolved``: not seen in the newest run (and never intermittent).
"""

from __future__ import annotations

import re
import time
from calendar import timegm
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from assistant.task_names import fold_name
from scalable_tui.session import summary_cache

PERSISTENT_RUNS = 3
#: Runs shown in a text sparkline (the newest ones; JSON has every count).
SPARK_RUNS = 30
SPARK = "▁▂▃▄▅▆▇█"
ABSENT = "·"

DEFINITIONS = {
    "persistent": f"seen in each of the last {PERSISTENT_RUNS} runs",
    "new": "seen in the newest run only",
    "flaky": "intermittent: absent from at least one run between its first and last sighting",
    "recurring": f"seen in every run since it appeared, for fewer than {PERSISTENT_RUNS} runs",
    "resolved": "not seen in the newest run",
}

_STAMP = re.compile(r"^run-(\d{8}T\d{6}Z)")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})")


def _epoch_of_stamp(stamp: str) -> float | None:
    try:
        return float(timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ")))
    except ValueError:
        return None


def _epoch_of_iso(text: str | None) -> float | None:
    m = _ISO.match(text or "")
    if not m:
        return None
    try:
        return float(timegm(tuple(int(g) for g in m.groups()) + (0, 0, 0)))  # type: ignore[arg-type]
    except (ValueError, OverflowError):
        return None


def run_epoch(run_dir: Path, summary: dict[str, Any] | None = None) -> float | None:
    """When a run started: ``run.json``'s ``started_at`` (through its summary), else the UTC stamp of its name."""
    if summary is not None:
        t = _epoch_of_iso(summary.get("started_at"))
        if t is not None:
            return t
    m = _STAMP.match(run_dir.name)
    return _epoch_of_stamp(m.group(1)) if m else None


@dataclass(slots=True)
class Group:
    signature: str
    title: str
    category: str
    severity: str
    counts: dict[str, int] = field(default_factory=dict)  # run_id -> count
    status: str = ""
    first_run: str = ""
    last_run: str = ""


@dataclass(slots=True)
class ProjectHistory:
    project: str | None
    runs: list[dict[str, Any]]  # summaries, oldest first
    groups: list[Group]


@dataclass(slots=True)
class History:
    runs_dir: str
    projects: list[ProjectHistory]
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    #: (run directory, the directory it copies): a run id met again is counted once.
    copies: list[tuple[str, str]] = field(default_factory=list)
    #: Run directories in the runs directory (before any filter).
    listed: int = 0
    cached: int = 0
    built: int = 0
    since_s: float | None = None
    project_filter: str | None = None


def classify(seen: list[bool]) -> str:
    """A group's status from its presence in each run, oldest first (see the module docstring)."""
    n = len(seen)
    # Persistence needs runs to show it: a group of a project's first run (or first two) is new
    # (recurring), never "persistent" on the evidence of one night.
    if n >= PERSISTENT_RUNS and all(seen[-PERSISTENT_RUNS:]):
        return "persistent"
    if seen and seen[-1] and sum(seen) == 1:
        return "new"
    idx = [i for i, s in enumerate(seen) if s]
    if idx and idx[-1] - idx[0] + 1 > len(idx):
        return "flaky"
    if seen and seen[-1]:
        return "recurring"
    return "resolved"


_STATUS_ORDER = {"persistent": 0, "new": 1, "flaky": 2, "recurring": 3, "resolved": 4}
_SEVERITY_ORDER = {"critical": 0, "error": 1, "warning": 2, "info": 3}


def across_runs_title(titles: list[str]) -> str:
    """One title for a group from its runs' titles (oldest first).

    Each run's title names a task when it has most of that run's failures, so
    the newest alone said "FileNotFoundError in sim_step[scenario=003]" of a
    group whose failures were in scenarios 003 to 005 over the nights.  The
    titles agree, or agree once per-task names are folded, or the place is not
    said.
    """
    if len(set(titles)) == 1:
        return titles[-1]
    heads, places = zip(*(t.rpartition(" in ")[::2] if " in " in t else (t, "") for t in titles))
    if len(set(heads)) == 1 and all(places):
        folded = {", ".join(fold_name(n) for n in p.split(", ")) for p in places}
        if len(folded) == 1:
            return f"{heads[-1]} in {folded.pop()}"
        return f"{heads[-1]} in several tasks"
    return titles[-1]


def aggregate(summaries: Iterable[dict[str, Any]]) -> list[ProjectHistory]:
    """Group run summaries by project and their failure groups by signature (pure)."""
    by_project: dict[str | None, list[dict[str, Any]]] = {}
    for s in summaries:
        by_project.setdefault(s.get("project"), []).append(s)
    out = []
    for project in sorted(by_project, key=lambda p: (p is None, p or "")):
        runs = sorted(by_project[project], key=lambda s: (s.get("_epoch") or 0.0, s.get("run_id") or ""))
        groups: dict[str, Group] = {}
        titles: dict[str, list[str]] = {}
        for s in runs:
            for sig, (count, title, category, severity) in s["groups"].items():
                g = groups.get(sig)
                if g is None:
                    g = groups[sig] = Group(sig, title, category, severity)
                g.counts[s["run_id"]] = g.counts.get(s["run_id"], 0) + count
                titles.setdefault(sig, []).append(title)
        for sig, said in titles.items():
            groups[sig].title = across_runs_title(said)
        ids = [s["run_id"] for s in runs]
        for g in groups.values():
            seen = [r in g.counts for r in ids]
            g.status = classify(seen)
            g.first_run = ids[seen.index(True)]
            g.last_run = ids[len(seen) - 1 - seen[::-1].index(True)]
        ordered = sorted(groups.values(), key=lambda g: (_STATUS_ORDER[g.status], _SEVERITY_ORDER.get(g.severity, 9),
                                                         -sum(g.counts.values()), g.signature))
        out.append(ProjectHistory(project, runs, ordered))
    return out


def collect(
    runs_dir: str | Path | None = None,
    *,
    project: str | None = None,
    since_s: float | None = None,
    now: float | None = None,
    use_cache: bool = True,
) -> History:
    """Summaries of the runs under ``runs_dir`` (newer than ``since_s`` ago, of ``project``), aggregated.

    Raises ``runs.RunNotFound`` when the runs directory cannot be listed.
    """
    from scalable_tui.sources.rundir.locate import default_runs_dir, list_runs

    root = Path(runs_dir) if runs_dir is not None else default_runs_dir()
    runs = list_runs(root)
    now = time.time() if now is None else now
    cutoff = None if since_s is None else now - since_s
    hist = History(str(root), [], since_s=since_s, project_filter=project, listed=len(runs))
    kept = []
    first_dir: dict[str, Path] = {}  # run id -> the directory it was first read from
    for run_dir in runs:
        if cutoff is not None:
            t = run_epoch(run_dir)
            if t is not None and t < cutoff:
                continue  # older than --since by its name: not even read
        try:
            s, hit = summary_cache.summary(run_dir, use_cache=use_cache)
        except Exception as exc:  # noqa: BLE001 - one unreadable run must not hide the others
            hist.unreadable.append((str(run_dir), f"{type(exc).__name__}: {exc}"))
            continue
        hist.cached += hit
        hist.built += not hit
        s = dict(s, _epoch=run_epoch(run_dir, s))
        if cutoff is not None and s["_epoch"] is not None and s["_epoch"] < cutoff:
            continue
        if project is not None and s.get("project") != project:
            continue
        rid = s.get("run_id")
        if rid in first_dir:
            # A copy of a run (same run id): counting it again doubled the run's groups in one column.
            hist.copies.append((str(run_dir), str(first_dir[rid])))
            continue
        first_dir[rid] = run_dir
        kept.append(s)
    if use_cache and hist.built:
        summary_cache.prune()
    hist.projects = aggregate(kept)
    return hist

"""The open run's place in its project's history: the History screen's rows and the Findings "since" column.

Built on what ``scalable-tui history`` and ``diagnose --compare`` use: one
cached summary per run (``summary_cache``), ``history.aggregate`` (statuses,
first/last run) and the grouping signature (``Finding.signature``, else its
id) to match a group across runs.

Which runs: the other runs of the same project in the directory the open run
lives in (Scalable writes every run of a project into one runs directory).
A run copied somewhere on its own has no history, and the screens say so in
words instead of calling every group "new".  The open run's own groups come
from the diagnosis already on screen: it is never read a second time.

Reading the other runs may take seconds the first time (each uncached run is
diagnosed once, then cached), so the screens call :func:`load_project_runs` in
a thread worker; the rest is pure and cheap (UI thread).  No Textual here.
Screens must not import this module (it reads run directories: the
"screens never reach into a source" contract): they reach it as
``app.history_view``, as the run picker gets ``session.runlist``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import orjson

from scalable_tui.model.diagnosis import Finding
from scalable_tui.session import summary_cache
from scalable_tui.session.history import DEFINITIONS, PERSISTENT_RUNS, SPARK_RUNS, aggregate, run_epoch
from scalable_tui.session.history_render import sparkline
from scalable_tui.sources.rundir.files import read_regular

__all__ = [
    "HistoryRow",
    "HistoryTable",
    "MAX_SINCE_RUNS",
    "ProjectRuns",
    "Since",
    "DEFINITIONS",
    "LEGEND",
    "current_summary",
    "snapshot_summary",
    "history_table",
    "load_project_runs",
    "since_by_finding",
]

#: Earlier runs read for the "since" column (newest first; as ``compare`` reads for "regressed").
MAX_SINCE_RUNS = 200
#: Shown in the "since" column while the history is read, and when there is none.
PENDING = "…"
NO_HISTORY = "—"
#: What the History screen's columns mean.
LEGEND = (f"counts per run, oldest → newest; · = not seen; persistent = in each of the last {PERSISTENT_RUNS} runs, "
          "flaky = comes and goes; HERE = failures in this run")


@dataclass(frozen=True, slots=True)
class ProjectRuns:
    """The other runs of the open run's project, as cached summaries (oldest first)."""

    #: Where they were looked for (the open run's directory's parent).
    runs_dir: str
    project: str | None
    #: Summaries (``summary_cache`` shape plus ``_epoch``) of the other runs of the project, oldest first.
    others: tuple[dict[str, Any], ...] = ()
    #: Runs that could not be read: (run directory, error), never hidden.
    unreadable: tuple[tuple[str, str], ...] = ()
    #: Other runs of the project left unread because of ``limit`` (the oldest ones).
    left_out: int = 0
    #: Why no other run could be looked at (the runs directory is unreadable), in words.
    error: str | None = None


def _project_of(run_dir: Path) -> tuple[bool, str | None]:
    """``(readable, project_name)`` from ``run.json`` alone (cheap: other projects' runs are never diagnosed)."""
    try:
        obj = orjson.loads(read_regular(run_dir / "run.json"))
    except (OSError, orjson.JSONDecodeError):
        return False, None
    if not isinstance(obj, dict):
        return False, None
    name = obj.get("project_name")
    return True, name if isinstance(name, str) else None


def lone_run_words(run_dir: str | Path) -> str | None:
    """Why ``run_dir`` has no history when no other run is beside it, else None (cheap: stops at the first other run).

    Lets a screen say "no history" at once, without a worker, for a run on its own.
    """
    here = Path(run_dir)
    root = here.resolve().parent
    try:
        with os.scandir(root) as it:
            if any(e.name.startswith("run-") and e.name != here.name and e.is_dir() for e in it):
                return None
    except OSError as exc:
        return f"no history: cannot list {root}: {exc.strerror or exc}"
    return "no history: no other run in this run's directory"  # no path: it is the run's own parent


def load_project_runs(
    run_dir: str | Path,
    project: str | None,
    *,
    limit: int | None = None,
    earlier_only: bool = False,
    cancelled: Callable[[], bool] = lambda: False,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> ProjectRuns:
    """The other runs of ``project`` beside ``run_dir`` (any thread; slow the first time, then cached).

    ``limit``: read at most this many of them, the ones whose names sort just
    before ``run_dir`` first (names start with a UTC stamp), then the later ones.
    ``earlier_only``: only the runs whose names sort before it (the "since" column).
    """
    from scalable_tui.sources.rundir.locate import RunNotFound, list_runs

    here = Path(run_dir)
    root = here.resolve().parent
    try:
        listed = list_runs(root)
    except RunNotFound as exc:
        return ProjectRuns(str(root), project, error=str(exc))
    me = os.path.realpath(here)
    candidates = [r for r in listed if os.path.realpath(r) != me]  # newest first
    before = [r for r in candidates if r.name < here.name]
    after = [r for r in candidates if r.name >= here.name]
    ordered = before + ([] if earlier_only else after[::-1])  # nearest earlier first, then later runs oldest first
    others: list[dict[str, Any]] = []
    unreadable: list[tuple[str, str]] = []
    left_out = 0
    for i, r in enumerate(ordered):
        if cancelled():
            break
        progress(i, len(ordered))
        readable, name = _project_of(r)
        if readable and name != project:
            continue
        if limit is not None and len(others) >= limit:
            left_out += 1
            continue
        try:
            s, _hit = summary_cache.summary(r)
        except Exception as exc:  # noqa: BLE001 - one unreadable run must not hide the others
            if readable:  # a run of this project that cannot be diagnosed: said, not hidden
                unreadable.append((str(r), f"{type(exc).__name__}: {exc}"))
            continue
        if s.get("project") != project:
            continue
        others.append(dict(s, _epoch=run_epoch(r, s)))
    others.sort(key=_order)
    return ProjectRuns(str(root), project, tuple(others), tuple(unreadable), left_out)


def _order(s: dict[str, Any]) -> tuple[float, str]:
    return (s.get("_epoch") or 0.0, s.get("run_id") or "")  # as history.aggregate orders runs


def current_summary(run_dir: str, run_id: str, project: str | None, started_at: str | None, status: str,
                    failures_total: int, findings: list[Finding]) -> dict[str, Any]:
    """The open run as ``summary_cache.build_summary`` would store it, from the diagnosis on screen."""
    groups: dict[str, list[Any]] = {}
    for f in findings:
        k = f.signature or f.id
        if k in groups:
            groups[k][0] += f.count
        else:
            groups[k] = [f.count, f.title[:summary_cache.MAX_TITLE], f.category, f.severity]
    s: dict[str, Any] = {"run_id": run_id or Path(run_dir).name, "run_dir": run_dir, "project": project,
                         "started_at": started_at, "status": status, "failures_total": failures_total,
                         "groups": groups, "current": True}
    s["_epoch"] = run_epoch(Path(run_dir), s)
    return s


def snapshot_summary(snap: Any) -> dict[str, Any]:
    """The open run (a ``RunSnapshot``) as a history summary, from its diagnosis: the run is not read again."""
    d = snap.diagnosis
    return current_summary(snap.run_dir, snap.meta.run_id, snap.meta.project_name, snap.meta.started_at,
                           d.status, d.failures_total, d.findings)


# -- the "since" column -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Since:
    #: The column: ``new``, ``11-23 ×3`` (first seen; in this many runs in a row up to this one),
    #: ``11-20 regressed`` (seen before, not in the previous run).
    text: str
    #: The same in words, for the detail pane.
    words: str


def _when(s: dict[str, Any], fmt: str = "%m-%d") -> str:
    """``MM-DD`` (UTC) of a run's start, for a narrow column."""
    t = s.get("_epoch")
    return time.strftime(fmt, time.gmtime(t)) if t is not None else "?"


def earlier_of(runs: ProjectRuns, current: dict[str, Any]) -> list[dict[str, Any]]:
    """The runs before the open one, oldest first."""
    key = _order(current)
    return [s for s in runs.others if _order(s) < key]


def since_by_finding(runs: ProjectRuns, current: dict[str, Any], findings: list[Finding]) -> dict[str, Since]:
    """Finding id -> since when its group is seen; empty when there is no earlier run (say so, never "new")."""
    earlier = earlier_of(runs, current)
    if not earlier:
        return {}
    prev = earlier[-1]["run_id"]
    out: dict[str, Since] = {}
    for f in findings:
        k = f.signature or f.id
        seen = [k in s["groups"] for s in earlier]
        if not any(seen):
            out[f.id] = Since("new", f"new: first seen in this run (not in the {len(earlier)} earlier run"
                                     f"{'s' if len(earlier) != 1 else ''} of this project)")
            continue
        first = earlier[seen.index(True)]
        n_seen = sum(seen)
        streak = 0
        for s in reversed(seen):
            if not s:
                break
            streak += 1
        # Older runs left unread (``limit``): a group in the oldest run read may be older, and a streak
        # through every run read may be longer; say "at most" / "at least", never a wrong number.
        older = bool(runs.left_out) and seen[0]
        base = (f"first seen in {first['run_id']}{' or earlier (older runs not read)' if older else ''}; "
                f"in {n_seen} of the {len(earlier)} earlier run{'s' if len(earlier) != 1 else ''} read")
        when = ("≤" if older else "") + _when(first)
        if streak == 0:
            last = earlier[len(seen) - 1 - seen[::-1].index(True)]
            out[f.id] = Since(f"{when} regressed",
                              f"regressed: {base}, last in {last['run_id']}, not in the previous run {prev}")
        else:
            longer = older and streak == len(earlier)
            out[f.id] = Since(f"{when} ×{streak + 1}{'+' if longer else ''}",
                              f"{base}; in this run and the {streak}{' or more' if longer else ''} before it in a row")
    return out


def no_history_words(runs: ProjectRuns, current: dict[str, Any]) -> str | None:
    """Why the "since" column is empty, in words (None when there is an earlier run)."""
    if runs.error is not None:
        return f"no history: {runs.error}"
    if earlier_of(runs, current):
        return None
    who = f"project {runs.project}" if runs.project else "this run's (unnamed) project"
    return f"no history: no earlier run of {who} beside this one"


# -- the History screen ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class HistoryRow:
    status: str
    runs_seen: int
    runs_total: int
    total: int
    #: One character per run, oldest to newest (the last ``SPARK_RUNS`` runs).
    spark: str
    #: Run ids, and their starts as ``MM-DD HH:MM`` (UTC) for a narrow column.
    first_run: str
    last_run: str
    first_when: str
    last_when: str
    #: Failures of this group in the open run (0: not in it).
    here: int
    title: str
    category: str
    severity: str
    signature: str


@dataclass(frozen=True, slots=True)
class HistoryTable:
    runs_dir: str
    project: str | None
    #: All runs of the project, the open one included, oldest first (run ids).
    run_ids: tuple[str, ...]
    #: 1-based position of the open run among them.
    position: int
    rows: tuple[HistoryRow, ...]
    #: Lines to show under the header: no earlier runs, runs left unread, unreadable runs.
    notes: tuple[str, ...] = ()

    @property
    def header(self) -> str:
        n = len(self.run_ids)
        who = f"project {self.project}" if self.project else "(no project name)"
        shown = f", sparkline: the last {SPARK_RUNS}" if n > SPARK_RUNS else ""
        return (f"History of {who}: {n} run{'s' if n != 1 else ''} in {self.runs_dir} (this run: {self.position} of "
                f"{n}{shown}); {len(self.rows)} failure group{'s' if len(self.rows) != 1 else ''}")


def history_table(runs: ProjectRuns, current: dict[str, Any]) -> HistoryTable:
    """Every failure group seen across the project's runs (the open one included), as ``history`` lists them."""
    (proj,) = aggregate([*runs.others, current])  # one project: the others were chosen by it
    ids = [s["run_id"] for s in proj.runs]
    shown = ids[-SPARK_RUNS:]
    here = {k: v[0] for k, v in current["groups"].items()}
    when = {s["run_id"]: _when(s, "%m-%d %H:%M") for s in proj.runs}
    rows = tuple(
        HistoryRow(g.status, len(g.counts), len(ids), sum(g.counts.values()),
                   sparkline([g.counts.get(r) for r in shown]), g.first_run, g.last_run, when[g.first_run],
                   when[g.last_run], here.get(g.signature, 0), g.title, g.category, g.severity, g.signature)
        for g in proj.groups)
    position = next(i for i, s in enumerate(proj.runs, 1) if s.get("current"))
    notes: list[str] = []
    why = no_history_words(runs, current)
    if why is not None:
        notes.append(why + ("" if len(ids) > 1 else ": the history starts with this run"))
    if runs.left_out:
        notes.append(f"{runs.left_out} older run(s) of the project not read")
    for path, err in runs.unreadable:
        notes.append(f"could not read {path}: {err}")
    return HistoryTable(runs.runs_dir, runs.project, tuple(ids), position, rows, tuple(notes))

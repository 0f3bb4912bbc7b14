"""What the review app copies for one failure group: its task ids, or its retry script.

The task ids are every distinct task id among the group's failure records
(``Finding.task_ids`` is capped for output; this is not), in the order they
failed.  The retry script is exactly what ``scalable-tui retry-plan
--format python`` prints, for this group's retry groups only: the same
``build_retry_plan`` (a finding's tasks may split by component) and
``retry_snippet``, so the app and the command cannot disagree.

Headless: the app calls these in a worker and copies the text.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from assistant.textsafe import clip, printable_line
from scalable_tui.model.diagnosis import Finding
from scalable_tui.model.run import RunState
from scalable_tui.session.snapshot import RunSnapshot

__all__ = ["Copied", "group_label", "group_retry_script", "group_task_ids"]

#: Why a live scheduler (or its recording) has no retry script.
NO_SCRIPT_LIVE = ("no retry script here: it rebuilds the Scalable session from the run directory's manifest.yaml, "
                  "which a scheduler does not have; run 'scalable-tui retry-plan RUN_DIR --format python' on the "
                  "run directory (y copies the task ids)")


@dataclass(frozen=True, slots=True)
class Copied:
    """The text to copy (None: nothing, and ``message`` says why) and what to tell the user."""

    text: str | None
    message: str


def group_label(snap: RunSnapshot, finding: Finding) -> str:
    """``group 3 "KeyError: 'region_7'"``: its place in the findings list and its title (printable)."""
    n = next((i for i, f in enumerate(snap.diagnosis.findings, 1) if f.id == finding.id), 0)
    return f'group {n} "{printable_line(clip(finding.title, 60))}"'


def group_task_ids(snap: RunSnapshot, finding: Finding) -> list[str]:
    """Every distinct task id of the group's failures, in failure order (worker deaths may have none)."""
    seen: dict[str, None] = {}
    for r in snap.failures_of(finding):
        if r.task_id:
            seen.setdefault(r.task_id, None)
    return list(seen)


def copy_task_ids(snap: RunSnapshot, finding: Finding) -> Copied:
    ids = group_task_ids(snap, finding)
    label = group_label(snap, finding)
    if not ids:
        return Copied(None, f"{label} has no task ids (a worker death or a run-level finding): nothing copied")
    return Copied("\n".join(ids) + "\n", f"copied {len(ids)} task id{'s' if len(ids) != 1 else ''} of {label}, "
                                         "one per line")


def _state_of(snap: RunSnapshot) -> RunState:
    """The snapshot's data as the ``RunState`` the retry plan reads (the plan only reads)."""
    return RunState(run_dir=str(Path(snap.run_dir).resolve()), meta=snap.meta, tasks=snap.tasks,
                    failures=snap.failures, worker_events=snap.worker_events, profiles=snap.profiles, issues={})


def group_retry_script(snap: RunSnapshot, finding: Finding, *, live: bool) -> Copied:
    """The ``retry-plan --format python`` script for this group's tasks, or why there is none."""
    label = group_label(snap, finding)
    if live:
        return Copied(None, NO_SCRIPT_LIVE)
    from assistant.retry_plan import build_retry_plan
    from assistant.retry_snippet import retry_snippet
    from scalable_tui.sources.rundir.observed import read_observed

    observed = read_observed(Path(snap.run_dir))
    plan = build_retry_plan(_state_of(snap), snap.diagnosis, observed_memory_gb=observed.memory_gb)
    mine = [g for g in plan.groups if g.finding_id == finding.id]
    if not mine:
        return Copied(None, f"{label}: no task of it is still failed (a retry fixed them, or it is a worker death "
                            "or run-level finding): nothing to resubmit")
    ready = [g for g in mine if g.resubmittable]
    if not ready:
        g = mine[0]
        why = g.reason if g.action == "fix_first" else (g.rule or "no change could be computed")
        return Copied(None, f"{label}: no retry script: its tasks are {g.action} ({why})")
    sub = dataclasses.replace(plan, groups=mine, failed_tasks=sum(g.count for g in mine))
    n = sum(g.count for g in ready)
    left = sum(g.count for g in mine) - n
    return Copied(retry_snippet(sub), f"copied the retry script of {label}: resubmits {n} task{'s' if n != 1 else ''} "
                                      f"({', '.join(sorted({g.action for g in ready}))})"
                                      + (f", leaves out {left}" if left else ""))

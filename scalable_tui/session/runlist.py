"""One row per run for ``scalable-tui runs`` and the review app's run picker.

Finished runs are summarised from ``summary.json`` (cheap); runs without one
(still running, or abandoned) are read with the incremental reader so their
counts and "abandoned?" status are right.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from scalable_tui.sources.rundir.files import read_regular


def _json(p: Path) -> dict[str, Any] | None:
    try:
        obj = orjson.loads(read_regular(p))
    except (OSError, orjson.JSONDecodeError):
        return None
    return obj if isinstance(obj, dict) else None


def run_row(run_dir: Path, stale_after_s: float | None = None) -> dict[str, Any]:
    meta = _json(run_dir / "run.json") or {}
    summary = _json(run_dir / "summary.json")
    row: dict[str, Any] = {
        "run_id": meta.get("run_id") or run_dir.name,
        "run_dir": str(run_dir),
        "project": meta.get("project_name"),
        "target": meta.get("target_name"),
        "status": meta.get("status") or "unknown",
        "started": meta.get("started_at"),
        "finished": meta.get("finished_at"),
        "succeeded": None,
        "failed": None,
        #: the third final state: without it succeeded + failed + unfinished did not add up to the run's tasks
        "cancelled": None,
        "unfinished": None,
        "failures": None,
        "abandoned": False,
    }
    counts = summary.get("counts") if isinstance(summary, dict) else None
    if isinstance(counts, dict) and meta.get("status") != "running":
        row["succeeded"] = counts.get("tasks_succeeded")
        row["failed"] = counts.get("tasks_failed")
        row["cancelled"] = counts.get("tasks_cancelled")
        row["failures"] = counts.get("failure_events")
        row["unfinished"] = 0
        return row
    from assistant.abandoned import abandoned_info
    from assistant.diagnose import counted_failures
    from scalable_tui.sources.rundir.reader import load_run

    state = load_run(run_dir, store_index=False)  # a listing reads the index, never fills it
    by_state = state.tasks.counts_by_state()
    row["succeeded"] = by_state.get("succeeded", 0)
    row["failed"] = by_state.get("failed", 0)
    row["cancelled"] = by_state.get("cancelled", 0)
    row["failures"] = len(counted_failures(state)[0])  # as the diagnosis counts them
    row["unfinished"] = state.tasks.unfinished()
    abandoned, idle = abandoned_info(state, stale_after_s)
    row["abandoned"] = abandoned
    if abandoned:
        row["status"] = "abandoned?"
    row["idle_s"] = idle
    return row


def run_rows(runs: list[Path], stale_after_s: float | None = None) -> list[dict[str, Any]]:
    return [run_row(p, stale_after_s) for p in runs]

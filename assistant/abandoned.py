"""An abandoned run: "running" by its files, but silent for longer than the stale threshold.

The threshold defaults to the longest requested walltime (at least an hour),
so a run whose tasks legitimately take hours is not called abandoned after
one quiet hour.
"""

from __future__ import annotations

import time

from assistant.rules import SUGGESTIONS
from assistant.suggest_context import _Ctx, walltime_seconds
from scalable_tui.model.diagnosis import Evidence, Finding
from scalable_tui.model.run import RunState, duration_text

DEFAULT_STALE_S = 3600.0


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
        last = state.run_json_mtime  # the reader's stat of run.json (the assistant reads no files)
        if last is None:
            return False, None
    idle = max(0.0, now - last)
    return idle > stale_threshold(state, stale_after_s), idle


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
        title=f"Run probably abandoned: status is still 'running' but no event for {duration_text(idle)}",
        count=0,
        transient=True,
        suggestion=SUGGESTIONS["run_abandoned"].format_map(ctx),
        matched="run.json status=running, no summary.json, no recent events",
        evidence=[
            Evidence(timestamp=last_s, source="*.jsonl", text=f"last event {duration_text(idle)} ago"),
            Evidence(timestamp=state.meta.started_at, source="run.json", text="status: running, finished_at: null"),
            Evidence(source="tasks.jsonl", text=f"{unfinished} task(s) without a terminal state"),
        ],
        first_seen=state.meta.started_at,
        last_seen=last_s,
    )

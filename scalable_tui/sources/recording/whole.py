"""A recording as one ``RunState``: the whole night, for the assistant and ``diagnose``.

``WholeRecording`` is mixed into ``Recording`` (``reader.py``); it replays the
last frame and sums task totals over every scheduler the recording saw.
"""

from __future__ import annotations

import time
from typing import Any

from scalable_tui.model.run import RunState, TaskTotals, retired_counts
from scalable_tui.sources.recording.format import RecordingError, decode_prefix

__all__ = ["WholeRecording"]


def _sum_prefixes(per_prefix: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for counts in per_prefix:
        for k, v in counts.items():
            out[k] = out.get(k, 0) + v
    return out


class WholeRecording:
    """The whole-recording views of a ``Recording`` (a mixin; see the module docstring)."""

    def whole_run_state(self) -> RunState:
        """A ``RunState`` covering the whole recording: every failure, every departure and event."""
        if not self._frames:
            raise RecordingError(f"{self.path}: the recording has no snapshots")
        snap = self._snapshot(len(self._frames) - 1, None)
        state = snap.to_run_state()
        totals = self._totals_over_schedulers()
        if totals is not None:
            state.task_totals = totals
        meta = state.meta
        meta.status = self.status
        if self.status != "incomplete":
            from datetime import datetime, timezone

            end = self.meta.get("ended") or self.end
            meta.finished_at = datetime.fromtimestamp(float(end), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        ids = self.meta.get("scheduler_ids") or []
        if ids:
            meta.run_id = str(ids[-1]) if len(ids) == 1 else f"{ids[0]} (+{len(ids) - 1} more)"
        meta.extra.update({
            "source": "recording",
            "recording": str(self.path),
            "recording_start": self.start,
            "recording_end": self.end,
            "frames": len(self._frames),
            "end_reason": self.meta.get("end_reason"),
            "never_connected": self.never_connected,
        })
        state.run_dir = str(self.path)
        if state.summary is not None:
            state.summary["source"] = "recording"
        state.first_event_ts = min([self.start or time.time()] + [f.ts for f in state.failures if f.ts])
        return state

    def _totals_over_schedulers(self) -> TaskTotals | None:
        """Task totals summed over every scheduler the recording saw (None: only one).

        A restarted scheduler starts its task-prefix counts from zero (and the
        live source resets them), so the last frame alone would forget the
        tasks of the schedulers before it.  Each scheduler's last observed counts
        are taken: the frame before a ``scheduler-restarted`` event, and the last
        frame of each recorder session.
        """
        if len(self.meta.get("scheduler_ids") or []) < 2:
            return None
        ends: set[int] = {len(self._frames) - 1}
        for i in range(1, len(self._frames)):
            if self._frames[i].session != self._frames[i - 1].session:
                ends.add(i - 1)
        for r in self._events:
            if r.kind == "scheduler-restarted":
                i = self._frame_index(r.frame)
                if i:
                    ends.add(i - 1)
        saved = self._state
        last: dict[str, dict[str, int]] = {}
        for i in sorted(ends):  # later observations of one scheduler replace earlier ones
            st = self._state_for(i)
            sid = str(st.scalars.get("scheduler_id") or "")
            last.pop(sid, None)  # keep the order of last sight: the current scheduler ends the dict
            last[sid] = _sum_prefixes(decode_prefix(n, d).as_dict() for n, d in st.prefixes.items())
        self._state = saved
        counts = list(last.values())
        # A scheduler that is gone took its unfinished tasks with it (as the live monitor counts them).
        return TaskTotals.from_scheduler([*(retired_counts(c) for c in counts[:-1]), *counts[-1:]])

    def summary(self) -> dict[str, Any]:
        """Counts for a one-line description."""
        return {
            "frames": len(self._frames),
            "start": self.start,
            "end": self.end,
            "failures": self.n_failures,
            "events": len(self._events),
            "worker_deaths": sum(1 for r in self._events if r.kind == "worker-removed" and r.unexpected),
            "status": self.status,
        }

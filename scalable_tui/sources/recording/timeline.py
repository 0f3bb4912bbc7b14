"""Where to look in a recording: gaps it did not see, jumps to the next failure or death, time windows.

``RecordingTimeline`` is mixed into ``Recording`` (``reader.py``): it reads the
frame and row indexes the reader keeps (``_frames``, ``_times``, ``_failures``,
``_events``, ``_latest_fk``, ``meta``) and decodes rows through it.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from scalable_tui.model.live import LiveEvent, LiveFailure
from scalable_tui.model.run import duration_text
from scalable_tui.sources.recording.frames import _Frame

__all__ = ["Gap", "Mark", "GAP_INTERVALS", "RecordingTimeline"]


@dataclass(slots=True)
class Mark:
    """A moment to jump to: ``t`` is the frame time at which ``item`` is first visible (``state_at(t)`` has it)."""

    t: float
    frame: int
    item: LiveFailure | LiveEvent


@dataclass(slots=True)
class Gap:
    """Time the recording did not see: between the frames at ``before`` and ``after``."""

    before: float
    after: float
    #: Why, in a few words ("the recorder was restarted", "no snapshot for 5m 20s", "the scheduler restarted").
    reason: str

    @property
    def seconds(self) -> float:
        return self.after - self.before


#: A pause between snapshots longer than this many intervals is a gap (a stalled or killed recorder).
GAP_INTERVALS = 3.0


class RecordingTimeline:
    """Gaps, jumps and windows over a ``Recording``'s indexes (a mixin; see the module docstring)."""

    def gaps(self) -> list[Gap]:
        """Where the recording is blind: a new recorder session, a pause of several intervals, a scheduler restart."""
        out: list[Gap] = []
        interval = self.meta.get("interval")
        limit = GAP_INTERVALS * float(interval) if isinstance(interval, (int, float)) and interval > 0 else None
        restarts = {r.frame for r in self._events if r.kind == "scheduler-restarted"}
        prev: _Frame | None = None
        for f in self._frames:
            if prev is not None:
                dt = f.t - prev.t
                if f.session != prev.session:
                    out.append(Gap(prev.t, f.t, f"the recorder was restarted; nothing recorded for {duration_text(dt)}"))
                elif f.seq in restarts:
                    out.append(Gap(prev.t, f.t, "the scheduler restarted (new scheduler id)"))
                elif limit is not None and dt > limit:
                    out.append(Gap(prev.t, f.t, f"no snapshot for {duration_text(dt)} (recorder stalled or scheduler unreachable)"))
            prev = f
        return out

    # -- jumps -------------------------------------------------------------------
    def _frame_time(self, seq: int) -> float:
        i = self._frame_index(seq)
        if i is None:  # pragma: no cover - rows always belong to a written frame
            i = min(len(self._frames) - 1, bisect.bisect_left(self._frames, seq, key=lambda f: f.seq))
        return self._frames[i].t

    def _after(self, t: float) -> int:
        """Rows whose frame is after the frame shown at ``t`` (or all, when ``t`` is before the start)."""
        if not self._frames or t < self._times[0]:
            return -1
        return self._frames[self._index_at(t)].seq

    def next_failure_after(self, t: float) -> Mark | None:
        """The first new failed task that becomes visible after the frame shown at ``t``."""
        seq = self._after(t)
        k = bisect.bisect_right(self._failures, seq, key=lambda r: r.frame)
        for row in self._failures[k:]:
            if not row.update:
                return Mark(self._frame_time(row.frame), row.frame, self._failure(row))
        return None

    def next_worker_death_after(self, t: float, *, include_expected: bool = False) -> Mark | None:
        """The first worker departure (unexpected ones only, by default) visible after the frame shown at ``t``."""
        seq = self._after(t)
        k = bisect.bisect_right(self._events, seq, key=lambda r: r.frame)
        for row in self._events[k:]:
            if row.kind == "worker-removed" and (include_expected or row.unexpected):
                return Mark(self._frame_time(row.frame), row.frame, self._event(row))
        return None

    def failures_between(self, t0: float, t1: float) -> list[LiveFailure]:
        """Failed tasks (latest version of each) that erred in ``[t0, t1]`` (their own time)."""
        seen: dict[tuple[str, str], LiveFailure] = {}
        for row in self._failures:
            if row.t is not None and t0 <= row.t <= t1:
                seen[row.fk] = self._failure(row)
        return list(seen.values())

    def events_between(self, t0: float, t1: float) -> list[LiveEvent]:
        """Every recorded event that happened in ``[t0, t1]`` (its own time), in recorded order."""
        return [self._event(r) for r in self._events if r.t is not None and t0 <= r.t <= t1]

    def worker_deaths(self) -> list[Mark]:
        return [Mark(self._frame_time(r.frame), r.frame, self._event(r))
                for r in self._events if r.kind == "worker-removed" and r.unexpected]

    @property
    def n_failures(self) -> int:
        return len(self._latest_fk)

    @property
    def n_events(self) -> int:
        return len(self._events)

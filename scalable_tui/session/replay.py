"""``ReplaySession``: a recording seen at a chosen moment, plus the whole recording diagnosed.

Headless (no Textual).  ``seek`` shows the frame ``Recording.state_at(t)``
rebuilds for a moment of the timeline (no network at all), with the Slurm
jobs stored for that moment; the moment is diagnosed in the background as
live (``LiveViews``), as of that moment.  The Findings screen shows the whole
recording diagnosed (``session.diagnose_recording``, exactly what
``diagnose FILE.rec`` prints) from ``ViewModel.whole``.

Playback is stepped by the door's timer (``play_step``): the session only
says which frame the recorded clock has reached.
"""

from __future__ import annotations

import bisect
import os
import threading
import time
from typing import Any

from scalable_tui.model.jobs import JobsSnapshot, WorkerSeen
from scalable_tui.model.live import LiveSnapshot
from scalable_tui.session.monitor import LiveViews, build_live_snapshot, live_key
from scalable_tui.session.snapshot import RunSnapshot, build_snapshot
from scalable_tui.session.view import SPEEDS, Capabilities, Notice, TimelinePosition, ViewModel

__all__ = ["ReplaySession", "SPEEDS", "replay_jobs"]


def replay_jobs(snap: Any, t: float, now: float | None = None) -> Any:
    """``snap`` (stored at its ``polled_at``) as seen at the replayed moment ``t``.

    ``polled_at``/``last_ok`` are shifted by ``now - t`` so that the screen's "polled … ago", and
    the elapsed and walltime left it advances from the poll (computed against the wall clock), read
    as they did at ``t``."""
    now = time.time() if now is None else now
    polled = snap.polled_at if snap.polled_at is not None else t
    shift = now - t
    snap.polled_at = polled + shift
    if snap.last_ok is not None:
        snap.last_ok += shift
    return snap


def failure_marks(rec: Any) -> list[float]:
    """Frame times at which a failed task first shows."""
    out: list[float] = []
    if not len(rec):
        return out
    t = rec.start - 1.0
    while True:
        m = rec.next_failure_after(t)
        if m is None or (out and m.t <= out[-1]):
            return out
        out.append(m.t)
        t = m.t


class ReplaySession(LiveViews):
    """Seek, step, jump and play over a ``sources.recording.Recording``."""

    def __init__(self, recording: Any, *, speed: int = 10) -> None:
        if not hasattr(recording, "state_at"):
            from scalable_tui.sources.recording.reader import Recording

            recording = Recording(os.fspath(recording))
        rec = recording
        self.recording = rec
        self.caps = Capabilities(live=True, has_jobs=bool(rec.has_jobs), has_timeline=True, can_debug=False)
        super().__init__()
        self.times: list[float] = rec.times()
        self.pos = 0
        self.speed_i = SPEEDS.index(speed) if speed in SPEEDS else 1
        self.playing = False
        self._play_t = 0.0
        self._play_last = 0.0
        self.failure_times: list[float] = failure_marks(rec)
        self.death_times: list[float] = sorted({m.t for m in rec.worker_deaths()})
        #: Where the recording is blind (recorder restarted or stalled, scheduler restarted): by the frame after.
        self.gaps = {g.after: g for g in rec.gaps()}
        self._jobs_key: Any = None
        #: (the moment's LiveSnapshot, the jobs stored for it) for the moment's diagnosis.
        self._moment_jobs: tuple[LiveSnapshot | None, Any] = (None, None)
        self.view = ViewModel(
            caps=self.caps, subtitle=rec.path.name, timeline=self._position(),
            jobs_off_reason=None if rec.has_jobs else "this recording has no batch-scheduler jobs (recorded without Slurm)")

    @property
    def address(self) -> str:
        meta = self.recording.meta
        return str(meta.get("scheduler_address") or meta.get("address") or "")

    def _position(self) -> TimelinePosition:
        gap = self.gaps.get(self.times[self.pos]) if self.times else None
        return TimelinePosition(tuple(self.times), self.pos, tuple(self.failure_times), tuple(self.death_times),
                                SPEEDS[self.speed_i], self.playing, None if gap is None else gap.reason,
                                tuple((g.before, g.after) for g in self.gaps.values()))

    # -- start ------------------------------------------------------------------------------
    def start(self) -> None:
        """Tell what the recording's reader noticed, diagnose the whole recording, show the first frame."""
        for note in self.recording.notices:
            self.on_notice(Notice(note, title="recording", severity="warning", timeout=15))
        if not self.times:
            error = "the recording has no snapshots yet"
            self.update(error=error, whole_error=error)
            self.on_notice(Notice(error, severity="error", timeout=30))
            return
        threading.Thread(target=self.diagnose_whole, name="whole-recording diagnosis", daemon=True).start()
        self.seek(0)

    def diagnose_whole(self) -> None:
        """The same pipeline and inputs as ``diagnose FILE.rec`` (the recorded jobs, not today's sacct)."""
        from scalable_tui.session.pipeline import diagnose_recording
        from scalable_tui.sources.recording.reader import Recording

        try:
            with Recording(self.recording.path) as rec:  # its own connection and caches: seeking goes on
                state, diag = diagnose_recording(rec, slurm="auto")
                now = rec.end or time.time()
            snap = build_snapshot(state, diag, 1, stale_after_s=None, now=now)
            snap.live = False
        except Exception as exc:  # noqa: BLE001 - shown, never a crash
            error = f"{type(exc).__name__}: {exc}"
            self.update(whole_error=error)
            self.on_notice(Notice(f"cannot diagnose the whole recording: {error}", severity="error", timeout=15))
            return
        self.update(whole=snap, whole_error=None)

    def efficiency(self) -> Any:
        """Worker groups' limits vs the RSS and CPU recorded (the whole recording, like ``efficiency FILE.rec``)."""
        from scalable_tui.session.efficiency import recording_efficiency
        from scalable_tui.sources.recording.reader import Recording

        with Recording(self.recording.path) as rec:  # its own connection: seeking goes on
            return recording_efficiency(rec)

    # -- the moment ---------------------------------------------------------------------------
    def diagnosed(self, live: LiveSnapshot, version: int) -> RunSnapshot:
        """As live, but "now" is the moment shown (ages and staleness as they were then).

        The jobs are the ones stored for that moment, unshifted (the Jobs screen's
        copy has its clocks moved to the wall clock)."""
        moment_live, jobs = self._moment_jobs
        snap = build_live_snapshot(live, version, now=live.last_poll_ok or self.recording.end,
                                   jobs=jobs if moment_live is live else None)
        snap.live = False  # the status line does not tick by itself: every move emits a new view
        return snap

    def seek(self, index: int) -> None:
        """Show the frame ``index`` (clamped)."""
        if not self.times:
            return
        self.pos = max(0, min(len(self.times) - 1, index))
        self._play_t = self.times[self.pos]
        t = self.times[self.pos]
        live = self.recording.state_at(t)
        changes: dict[str, Any] = {}
        if self.recording.has_jobs:
            changes = self._jobs_at(t, live)
        self.update(live=live, live_version=self.view.live_version + 1, timeline=self._position(), **changes)
        key = (live_key(live), self._jobs_key)
        if key != self._diag_key:
            self._diag_key = key
            self.diagnose_soon(live)

    def _jobs_at(self, t: float, live: LiveSnapshot) -> dict[str, Any]:
        """The jobs stored at or before ``t``, as the Jobs screen would have shown them at ``t``."""
        snap = self.recording.jobs_at(t)
        self._moment_jobs = (live, self.recording.jobs_at(t))
        self._jobs_key = snap.polled_at if snap is not None else None
        wm = None
        if snap is not None:
            snap = replay_jobs(snap, t)
            try:
                from scalable_tui.sources.jobs.reconcile import reconcile_workers

                seen = [WorkerSeen(w.name, host=w.host, address=w.address) for w in live.alive_workers]
                wm = reconcile_workers(snap, seen, now=t)
            except Exception:  # noqa: BLE001 - no mapping this time
                wm = None
        else:
            snap = JobsSnapshot(message="no jobs poll recorded before this moment")
        return {"jobs": snap, "job_map": wm, "jobs_version": self.view.jobs_version + 1}

    def seek_time(self, t: float) -> None:
        """Show the frame nearest to ``t`` (a click on the timeline)."""
        if not self.times:
            return
        i = bisect.bisect_left(self.times, t)
        if i >= len(self.times) or (i > 0 and t - self.times[i - 1] <= self.times[i] - t):
            i -= 1
        self.seek(i)

    def step(self, n: int) -> None:
        self.seek(self.pos + int(n))

    def edge(self, end: int) -> None:
        self.seek(len(self.times) - 1 if end else 0)

    def jump(self, kind: str, direction: int) -> str | None:
        """To the next/previous failure or worker death; a sentence when there is none."""
        if not self.times:
            return None
        marks = self.failure_times if kind == "failure" else self.death_times
        what = "failure" if kind == "failure" else "worker death"
        cur = self.times[self.pos]
        if direction > 0:
            i = bisect.bisect_right(marks, cur)
            target = marks[i] if i < len(marks) else None
        else:
            i = bisect.bisect_left(marks, cur) - 1
            target = marks[i] if i >= 0 else None
        if target is None:
            return f"no {'later' if direction > 0 else 'earlier'} {what} in this recording"
        self.seek(bisect.bisect_right(self.times, target) - 1)
        return None

    def change_speed(self, delta: int) -> None:
        self.speed_i = max(0, min(len(SPEEDS) - 1, self.speed_i + int(delta)))
        self.update(timeline=self._position())

    # -- playback (stepped by the door's timer) ---------------------------------------------------
    def play(self) -> bool:
        """Start playing (from the start when at the end); False when there is nothing to play."""
        if not self.times:
            return False
        if self.pos >= len(self.times) - 1:
            self.seek(0)
        self.playing = True
        self._play_t = self.times[self.pos]
        self._play_last = time.monotonic()
        self.update(timeline=self._position())
        return True

    def pause(self) -> None:
        self.playing = False
        self.update(timeline=self._position())

    def play_step(self) -> bool:
        """Advance the recorded clock by the wall time since the last step × speed; True at the end."""
        if not self.playing or not self.times:
            return False
        now = time.monotonic()
        self._play_t += (now - self._play_last) * SPEEDS[self.speed_i]
        self._play_last = now
        i = bisect.bisect_right(self.times, self._play_t) - 1
        if i > self.pos:
            play_t = self._play_t
            self.seek(i)
            self._play_t = play_t  # keep the fraction between frames
        return self.pos >= len(self.times) - 1

    def close(self) -> None:
        self.closed.set()
        self.recording.close()

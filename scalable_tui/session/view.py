"""The one immutable view model every session emits, whatever feeds it.

A review of a run directory, an attach to a scheduler and a replay of a
recording differ only in what they can show; the UI renders a ``ViewModel``
and chooses its screens and keys from the ``Capabilities`` flags, so it never
asks which kind of session it has (it used to duck-type the app:
``getattr(app, "job_map", None)``, ``app.recording``, ``app.view_time``).

Plain data, no Textual: a session is driven and checked headless.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

from scalable_tui.model.jobs import JobsSnapshot
from scalable_tui.model.live import LiveSnapshot
from scalable_tui.model.words import plural
from scalable_tui.session.snapshot import RunSnapshot, failures_text

__all__ = ["Capabilities", "Notice", "TimelinePosition", "ViewModel", "diagnosis_failed_for", "diagnosis_is_current",
           "failure_basis", "live_failures_line", "live_failures_note", "live_key", "live_status", "SPEEDS"]

#: Playback speeds of a replay: recorded seconds per wall-clock second.
SPEEDS = (1, 10, 60, 600)


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What the session can show or do; fixed for its life (the screens' columns never change under them)."""

    #: A scheduler's view (attach, demo, or a recording of one): the live screens (Events, live Workers…).
    live: bool = False
    #: Batch-scheduler jobs to show (a job source, or a recording that stored jobs).
    has_jobs: bool = False
    #: A timeline to seek on (a replay).
    has_timeline: bool = False
    #: Workers to list (always: a run directory has worker events, a scheduler its workers).
    has_workers: bool = True
    #: ``D`` can replay a failed task locally (a connected scheduler only).
    can_debug: bool = False
    #: ``attach --record FILE``: the file written (shown on every screen).
    recording_to: str | None = None
    #: Slurm is polled now (``R`` on Jobs asks at once).
    polls_jobs: bool = False


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the user must be told once (a connection change, a failed recording)."""

    text: str
    title: str = ""
    severity: str = "information"
    timeout: float = 8.0


@dataclass(frozen=True, slots=True)
class TimelinePosition:
    """Where a replay stands: the frame times, the one shown, the marks and the playback."""

    times: tuple[float, ...]
    pos: int
    failure_times: tuple[float, ...] = ()
    death_times: tuple[float, ...] = ()
    speed: int = 10
    playing: bool = False
    #: Why the recording is blind right before the moment shown (recorder restarted…), or None.
    gap: str | None = None
    #: Every stretch the recording did not see, as (last frame before, first frame after): drawn on the bar.
    gaps: tuple[tuple[float, float], ...] = ()

    @property
    def current(self) -> float | None:
        return self.times[self.pos] if self.times else None

    def status(self) -> str:
        if not self.times:
            return "replay · no snapshots"
        clock = time.strftime("%H:%M:%S", time.localtime(self.times[self.pos]))  # as tui.fmt.clock
        text = f"replay · {clock} ({self.pos + 1}/{len(self.times)}) · speed {self.speed}×"
        if self.gap is not None:
            text += f" · GAP before this moment: {self.gap}"
        return text + (" · playing" if self.playing else "")


def live_status(live: LiveSnapshot, now: float) -> tuple[str, str]:
    """(text, kind) for the footer: kind ``live`` (connected), ``abandoned`` (disconnected), ``finished``."""
    if live.closed:
        return "closed (final state shown)", "finished"
    if live.connected:
        text = f"connected to {live.address}"
        if live.last_poll_ok:
            text += f" (polled {max(0.0, now - live.last_poll_ok):.0f}s ago)"
        if live.link == "slow":  # one late reply: not an alarm yet (two in a row are)
            text += "  ·  slow: the last poll got no reply in time; waiting longer"
        if live.mode != "plugin":
            text += "  ·  limited: monitoring plugin not installed (see Overview)"
        return text, "live"
    if live.disconnected_since is None:
        return f"connecting to {live.address}…", "live"
    text = live.status_line() + "  ·  last data kept"
    if live.retry_at:
        text += f"  ·  retry in {max(0.0, live.retry_at - now):.0f}s"
    return text, "abandoned"



def failure_basis(live: LiveSnapshot) -> tuple[Any, ...]:
    """What a diagnosis's failure counts depend on (task failures, worker deaths and graph errors).

    Narrower than ``live_key``: events arrive with almost every poll of a busy
    cluster, and a count marked "diagnosing…" on each of them would flicker.
    """
    return (live.scheduler_id, live.failures_total, len(live.failures), sum(f.occurrences for f in live.failures),
            len(live.incidents) + live.incidents_dropped)


def live_key(live: LiveSnapshot) -> tuple[Any, ...]:
    """What the diagnosis depends on: a new key means diagnose again."""
    return (*failure_basis(live), live.events_total, live.connected, live.closed)


def diagnosis_is_current(live: LiveSnapshot, run: RunSnapshot | None) -> bool:
    """Was ``run``'s diagnosis made from this scheduler view (``RunSnapshot.basis``)?  It runs in the background."""
    return run is not None and run.basis == failure_basis(live)


def diagnosis_failed_for(live: LiveSnapshot, failed: tuple[Any, ...] | None) -> bool:
    """Is ``failed`` (``ViewModel.diagnosis_failed``) this view's basis, i.e. nothing is diagnosing it now?"""
    return failed is not None and failed == failure_basis(live)


def live_failures_line(live: LiveSnapshot, run: RunSnapshot | None, failed: tuple[Any, ...] | None = None) -> str:
    """The live Overview's failure count beside the scheduler's view ``live``.

    The diagnosis runs in the background and can be a poll (with 100k
    failures, seconds) behind the view: its "12 failures" printed next to a
    note about the view's 13 read as two totals.  So the diagnosis's breakdown
    only when it was made from this view (``RunSnapshot.basis``), else the
    view's own count, marked as not yet diagnosed, or as failed to diagnose
    when ``failed`` (``ViewModel.diagnosis_failed``) is this view's basis: a
    diagnosis that raised must not read "diagnosing…" until the next poll.
    """
    if diagnosis_is_current(live, run):
        return failures_text(run.diagnosis)  # type: ignore[union-attr]
    count = plural(live.failures_total, "task failure")
    if diagnosis_failed_for(live, failed):
        return f"{count} (diagnosis failed, see the notice)"
    return f"{count} (diagnosing…)" if run is not None else count


def live_failures_note(live: LiveSnapshot) -> str | None:
    """Why the failures seen since attach and the scheduler's erred count differ, in words; None when they agree.

    The two numbers count different things: every task that failed since attach
    (kept by the monitor, also after the scheduler let go of it), and the tasks
    the scheduler holds as erred right now (a failed task its client released
    or retried is no longer among them; a task whose input failed is).  Side by
    side without a word ("84 erred", "90 failures") they read as a wrong total.
    """
    seen = live.failures_total
    # This scheduler's erred tasks: ``still`` is this scheduler's too.  With an earlier scheduler's erred
    # counted in (``task_totals``), a restart made "3 of the scheduler's 5 erred are tasks whose input failed"
    # out of no dependents at all.
    erred = sum(p.erred for p in live.prefixes.values())
    still = live.failures_erred_now
    if still is None:
        if seen == erred:
            return None
        return (f"{plural(seen, 'task failure')} seen since attach; the scheduler holds {erred} erred now "
                "(it no longer counts failed tasks that were released or retried, and counts tasks whose "
                "input failed)")
    still = min(still, seen)
    gone = seen - still
    dependents = max(0, erred - still)
    if not gone and not dependents:
        return None
    text = f"{plural(seen, 'task failure')} seen since attach ({still} still erred on the scheduler"
    text += f"; {gone} released or retried)" if gone else ")"
    if dependents:
        text += (f"; {dependents} of the scheduler's {erred} erred {'is a task' if dependents == 1 else 'are tasks'} "
                 "whose input failed")
    return text


@dataclass(frozen=True)
class ViewModel:
    """Everything a screen renders, as of one moment; a new one replaces it whole."""

    caps: Capabilities = field(default_factory=Capabilities)
    #: The diagnosed run (tasks, failures, findings); None while loading.
    run: RunSnapshot | None = None
    #: The scheduler's latest poll (attach, demo) or the replayed moment.
    live: LiveSnapshot | None = None
    live_version: int = 0
    jobs: JobsSnapshot | None = None
    #: ``WorkerJobMap``: which job each live worker runs.
    job_map: Any = None
    jobs_version: int = 0
    #: Why there are no jobs (no squeue, a recording without jobs), for the Jobs screen.
    jobs_off_reason: str | None = None
    timeline: TimelinePosition | None = None
    #: A replay's whole recording diagnosed (the Findings screen), and why it is missing.
    whole: RunSnapshot | None = None
    whole_error: str | None = None
    #: The run could not be read at all.
    error: str | None = None
    #: ``failure_basis`` of the latest scheduler view whose diagnosis raised (a notice said why), else None.
    diagnosis_failed: tuple[Any, ...] | None = None
    #: The header's subtitle: run id, scheduler address or recording file name.
    subtitle: str = ""

    def with_(self, **changes: Any) -> "ViewModel":
        return dataclasses.replace(self, **changes)

    def live_failures_note(self) -> str | None:
        """``live_failures_note`` of the scheduler's view shown (None without one)."""
        return live_failures_note(self.live) if self.live is not None else None

    def view_time(self) -> float:
        """The moment the screens show: now when live, the replayed moment in a replay."""
        t = self.timeline.current if self.timeline is not None else None
        return time.time() if t is None else t

    def ticks(self) -> bool:
        """Does the status line change with the clock alone (poll age, idle time)?"""
        if self.timeline is not None:
            return False
        if self.caps.live:
            return True
        return self.run is not None and self.run.live

    def status_line(self, now: float) -> tuple[str, str] | None:
        """(text, kind) for the footer, or None before anything is known (then: loading…/error)."""
        if self.timeline is not None:
            return self.timeline.status(), ("live" if self.timeline.playing else "finished")
        if self.caps.live:
            if self.run is None and self.live is None:
                return None
            if self.live is None:
                return "connecting…", "live"
            return live_status(self.live, now)
        if self.run is None:
            return None
        return self.run.status_line(now)

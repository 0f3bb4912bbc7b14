"""The one diagnosis pipeline: heuristics, then batch-job findings, merged.

Every door (``diagnose`` on a run directory or a recording, the review app,
attach, replay, the demo, the Slurm join) calls ``diagnose`` here, so the same
state gives the same findings, counts and summary wherever it is looked at.
Before this module each door assembled ``diagnose_state`` + ``hpc_findings`` +
``merge_findings`` itself and they drifted apart (recorded jobs ignored in
replay, today's ``sacct`` asked about an old recording).

Headless: no Textual, no ``distributed``.  Reading files happens in the
``*_run`` / ``*_recording`` helpers, never in ``assistant``.
"""

from __future__ import annotations

import math
import os
from typing import Any, Iterable

from assistant.diagnose import diagnose_state
from assistant.grouping import join_failures
from scalable_tui.model.diagnosis import Diagnosis
from scalable_tui.session.slurm_join import SlurmJoin, merge_findings, scanned_logs, slurm_join
from scalable_tui.model.jobs import JobsSnapshot, WorkerDeparture
from scalable_tui.model.live import LiveSnapshot
from scalable_tui.model.run import RunState

__all__ = ["NothingRecorded", "diagnose", "diagnose_cached", "diagnose_live", "diagnose_recording",
           "diagnose_recording_file", "diagnose_run", "live_departures"]


def diagnose(
    state: RunState,
    *,
    jobs: JobsSnapshot | None = None,
    departures: Iterable[WorkerDeparture] | None = None,
    log_dir: str | os.PathLike[str] | None = None,
    now: float | None = None,
    stale_after_s: float | None = None,
    slurm: str = "off",
    slurm_source: Any = None,
    joined: SlurmJoin | None = None,
    base: Diagnosis | None = None,
) -> Diagnosis:
    """The diagnosis of ``state``, with batch-job findings when there are jobs to look at.

    ``jobs``: the job states the monitor saw (attach, or stored in a recording):
    they are the truth about the run's jobs, so Slurm is not asked again.
    Without them, ``slurm`` ("auto"/"force"/"off") asks Slurm accounting about a
    past run (``hpc_join.slurm_join``; ``slurm_source`` stands in for ``sacct``
    in tests); ``joined`` is such a join already made (the review app asks
    ``sacct`` at most every 5 minutes while tailing).  ``now`` is the moment
    the diagnosis speaks for: a replay passes the moment shown, a monitor its
    clock, so time-based findings (stuck PENDING, abandoned runs) appear when
    their threshold passes.  ``base``: ``diagnose_cached`` of the same arguments, already made.
    """
    diag = base if base is not None else diagnose_cached(state, stale_after_s=stale_after_s, now=now)
    if jobs is not None:
        if not jobs.jobs:
            return diag
        from assistant.hpc import hpc_findings

        extra = hpc_findings(jobs, list(departures or ()), scanned_logs(jobs, log_dir), now=now)
        return merge_findings(diag, extra)
    if joined is not None:
        return merge_findings(diag, joined.findings, joined.note)
    if slurm == "off":
        return diag
    joined = slurm_join(state, slurm, log_dir=None if log_dir is None else str(log_dir), source=slurm_source)
    return merge_findings(diag, joined.findings, joined.note)


def diagnose_cached(state: RunState, *, stale_after_s: float | None = None, now: float | None = None,
                    store: bool = True) -> Diagnosis:
    """``diagnose_state``, read from the persistent index entry of a big finished run when it holds it
    (``session.diagnosis_cache``), else computed and (``store``) kept there.  A part of a run (the review
    app's first slice) is never answered from, nor should it take, the whole run's entry: ``store=False``."""
    from scalable_tui.session import diagnosis_cache

    hit = diagnosis_cache.lookup(state, stale_after_s)
    if hit is not None:
        # what diagnosing does to the state besides: each failure gets its task's name, component, duration,
        # worker and resources (the screens and the retry plan read them there); a reopen's failures were
        # stored joined (``RunState.joined_mark``, restored by the index), which saves 0.1-0.25 s of it
        if not state.failures_joined():
            join_failures(state)
        return hit
    diag = diagnose_state(state, stale_after_s=stale_after_s, now=now)
    if store:
        diagnosis_cache.store(state, stale_after_s, diag)
    return diag


def live_departures(live: LiveSnapshot | None) -> list[WorkerDeparture]:
    """The workers that left, as ``assistant.hpc`` wants them (joined to their Slurm jobs)."""
    if live is None:
        return []
    return [WorkerDeparture(name=w.name, ts=w.left_at, reason=w.left_reason, address=w.address, host=w.host)
            for w in live.departed_workers]


def diagnose_live(
    live: LiveSnapshot,
    *,
    jobs: JobsSnapshot | None = None,
    log_dir: str | os.PathLike[str] | None = None,
    now: float | None = None,
) -> tuple[RunState, Diagnosis]:
    """A live (or replayed) snapshot -> its ``RunState`` and diagnosis."""
    state = live.to_run_state()
    return state, diagnose(state, jobs=jobs, departures=live_departures(live), log_dir=log_dir, now=now)


def diagnose_recording(
    recording: Any,
    *,
    slurm: str = "auto",
    log_dir: str | os.PathLike[str] | None = None,
    now: float | None = None,
    stale_after_s: float | None = None,
    slurm_source: Any = None,
) -> tuple[RunState, Diagnosis]:
    """A whole recording (``sources.recording.Recording``) -> its ``RunState`` and diagnosis.

    The jobs the recorder stored are used (the last stored poll, which keeps the
    jobs that ended while recording): what attach saw live, not what ``sacct``
    says today.  A recording without jobs falls back to ``slurm`` as a run
    directory does.  ``now`` defaults to the recording's end.
    """
    state = recording.whole_run_state()
    end = recording.end
    now = end if now is None else now
    if slurm != "off" and recording.has_jobs and end is not None:
        jobs = recording.jobs_at(math.inf)  # the last stored, also when polled after the last frame
        last = recording.state_at(end, max_events=0)
        return state, diagnose(state, jobs=jobs, departures=live_departures(last), log_dir=log_dir, now=now,
                               stale_after_s=stale_after_s)
    return state, diagnose(state, now=now, stale_after_s=stale_after_s, slurm=slurm, log_dir=log_dir,
                           slurm_source=slurm_source)


class NothingRecorded(Exception):
    """A recording whose recorder never reached its scheduler: nothing was seen (which is not "no failures")."""


def diagnose_recording_file(
    path: str | os.PathLike[str],
    *,
    slurm: str = "auto",
    log_dir: str | os.PathLike[str] | None = None,
    stale_after_s: float | None = None,
) -> tuple[RunState, Diagnosis, list[str]]:
    """A recording file -> (its state, its diagnosis, its notices): what ``diagnose``/``retry-plan`` open and
    ``diagnose --compare`` compares with, the same way for both.

    Raises ``NothingRecorded`` (its text says why) and the reader's ``RecordingError`` (not a recording, damaged).
    """
    from scalable_tui.sources.recording.reader import Recording

    with Recording(path) as rec:
        if rec.never_connected:
            raise NothingRecorded(rec.never_connected_text())
        notices = list(rec.notices)
        state, diag = diagnose_recording(rec, slurm=slurm, log_dir=log_dir, stale_after_s=stale_after_s)
    return state, diag, notices


def diagnose_run(
    run_dir: str | os.PathLike[str],
    *,
    slurm: str = "off",
    log_dir: str | os.PathLike[str] | None = None,
    stale_after_s: float | None = None,
    now: float | None = None,
) -> Diagnosis:
    """Read a Scalable run directory and diagnose it (what ``assistant.diagnose_run`` used to do)."""
    from scalable_tui.sources.rundir.reader import load_run

    state = load_run(run_dir)
    return diagnose(state, now=now, stale_after_s=stale_after_s, slurm=slurm, log_dir=log_dir)

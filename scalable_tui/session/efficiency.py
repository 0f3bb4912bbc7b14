"""Requested vs used for every door: a run directory, a recording, a live scheduler (``efficiency``).

``scalable-tui efficiency`` and the apps' Efficiency screen ask the same
functions here, so the table and its findings are the same wherever they are
looked at.  The arithmetic is the assistant's (``assistant.efficiency``);
this module only gathers its inputs: observed values and Slurm jobs for a run
directory, worker metrics sampled over a recording's frames, or over an
attach (``WorkerUsage``, fed every poll).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Iterable

from assistant.efficiency import (
    EfficiencyReport,
    efficiency_from_jobs,
    efficiency_from_run,
    efficiency_from_workers,
    oom_task_ids_of,
)
from scalable_tui.model.diagnosis import Diagnosis
from scalable_tui.model.live import LiveSnapshot
from scalable_tui.model.run import RunState

__all__ = ["MAX_FRAMES", "WorkerUsage", "recording_efficiency", "recording_worker_samples", "run_efficiency",
           "slurm_jobs", "snapshot_state"]

#: At most this many frames of a recording are read for worker metrics (evenly spread).
MAX_FRAMES = 2000


def run_efficiency(state: RunState, run_dir: str | os.PathLike[str], *, slurm: str = "off",
                   slurm_source: Any = None, diagnosis: Diagnosis | None = None) -> EfficiencyReport:
    """A run directory: requests vs ``observed_*`` per task function, plus one row per Slurm job name.

    ``diagnosis``: the run's, when the caller has it (its out-of-memory groups
    keep those tasks from being told to ask for less).
    """
    from scalable_tui.session.pipeline import diagnose
    from scalable_tui.sources.rundir.observed import read_observed

    observed = read_observed(run_dir)
    diag = diagnosis if diagnosis is not None else diagnose(state)
    report = efficiency_from_run(state, observed.memory_gb, observed.cpu, oom_task_ids_of(state, diag))
    jobs, note = slurm_jobs(state, slurm, slurm_source)
    if jobs:
        by_job = efficiency_from_jobs(jobs, state.meta.run_id)
        report.rows.extend(by_job.rows)
        report.findings.extend(by_job.findings)
        report.notes.extend(by_job.notes)
    if note:
        report.notes.append(note)
    if observed.skipped:
        report.notes.append(f"resources.jsonl: {observed.skipped} observation(s) unreadable or of the wrong type, skipped")
    return report


def snapshot_state(snap: Any) -> RunState:
    """The ``RunState`` behind a published ``RunSnapshot``: what the screen shows, never the reader's live state
    (which the reader thread may be extending while this is read)."""
    return RunState(run_dir=snap.run_dir, meta=snap.meta, tasks=snap.tasks, failures=list(snap.failures),
                    worker_events=list(snap.worker_events), profiles=list(snap.profiles), issues={},
                    first_event_ts=snap.first_event_ts, last_event_ts=snap.last_event_ts)


def slurm_jobs(state: RunState, mode: str, source: Any = None) -> tuple[list[Any], str | None]:
    """The run's Slurm jobs from sacct (attributed to the run as ``diagnose`` does), and a note."""
    from scalable_tui.session.slurm_join import ran_on_slurm

    if mode == "off" or (mode == "auto" and not ran_on_slurm(state)):
        return [], None
    from scalable_tui.sources.jobs.attribution import run_findings_input
    from scalable_tui.sources.jobs.slurm import job_source

    src = source or job_source("slurm" if mode == "force" else "auto")
    if src is None:
        return [], "the run used Slurm, but squeue/sacct are not on PATH here: no per-job figures"
    if state.first_event_ts is None:
        return [], "no event timestamps: cannot ask Slurm about the run's jobs"
    try:
        snap, why = run_findings_input(state, src)
    except Exception as exc:  # noqa: BLE001 - Slurm trouble is a note, never a crash
        return [], f"Slurm accounting could not be read: {type(exc).__name__}: {exc}"
    if snap.status != "ok":
        return [], f"Slurm: {snap.message or snap.status}"
    return list(snap.jobs), why


def recording_worker_samples(rec: Any, max_frames: int = MAX_FRAMES) -> tuple[list[tuple[Any, ...]], int, int]:
    """``(name, memory_limit, rss, cpu %, nthreads)`` per worker and frame, frames read, frames in all."""
    times = rec.times()
    step = max(1, -(-len(times) // max_frames))
    picked = times[::step]
    if times and picked[-1] != times[-1]:
        picked.append(times[-1])
    out: list[tuple[Any, ...]] = []
    for t in picked:
        snap = rec.state_at(t, max_events=0)
        for w in snap.workers.values():
            if w.alive:
                out.append((w.name, w.memory_limit, w.memory, w.cpu, w.nthreads))
    return out, len(picked), len(times)


def recording_efficiency(rec: Any, max_frames: int = MAX_FRAMES) -> EfficiencyReport:
    """A recording: each worker group's memory limit and threads vs the RSS and CPU its workers reported."""
    samples, used, total = recording_worker_samples(rec, max_frames)
    report = efficiency_from_workers(samples, Path(rec.path).name)
    if used < total:
        report.notes.append(f"read {used} of {total} frames (evenly spread): peaks between them are missed")
    if not samples:
        report.notes.append("the recording has no worker metrics")
    return report


class WorkerUsage:
    """Peak memory and mean CPU per worker over an attach, from the metrics of every poll.

    Aggregates, not samples: a night of polls costs a few numbers per worker.
    A worker's figures are taken once per heartbeat (``last_seen``), so a
    fast poll interval does not weigh a worker more than its heartbeats do.
    """

    def __init__(self) -> None:
        #: name -> [memory_limit, peak rss, cpu sum, cpu samples, nthreads, last heartbeat]
        self._w: dict[str, list[Any]] = {}
        self.polls = 0
        #: ``add`` runs in the monitor's loop, ``report`` in a screen's worker thread.
        self._lock = threading.Lock()

    def add(self, live: LiveSnapshot) -> None:
        with self._lock:
            self._add(live)

    def _add(self, live: LiveSnapshot) -> None:
        self.polls += 1
        for w in live.alive_workers:
            agg = self._w.get(w.name)
            if agg is None:
                agg = self._w[w.name] = [None, None, 0.0, 0, 0, None]
            seen = getattr(w, "last_seen", None)
            if seen is not None and seen == agg[5]:
                continue  # the same heartbeat again
            agg[5] = seen
            if w.memory_limit:
                agg[0] = w.memory_limit
            if w.nthreads:
                agg[4] = w.nthreads
            if w.memory is not None and w.memory >= 0:
                agg[1] = w.memory if agg[1] is None else max(agg[1], w.memory)
            if w.cpu is not None and w.cpu >= 0:
                agg[2] += w.cpu
                agg[3] += 1

    def samples(self) -> Iterable[tuple[Any, ...]]:
        """One ``(name, limit, peak rss, mean cpu %, nthreads)`` per worker: what ``efficiency_from_workers`` reads."""
        for name, (limit, peak, cpu_sum, cpu_n, nthreads, _) in self._w.items():
            yield name, limit, peak, (cpu_sum / cpu_n if cpu_n else None), nthreads

    def report(self, run_id: str) -> EfficiencyReport:
        with self._lock:
            samples = list(self.samples())
        report = efficiency_from_workers(samples, run_id)
        if not self._w:
            report.notes.append("no worker has reported metrics yet")
        else:
            report.notes.append(f"over {self.polls} poll(s) since attach: earlier peaks are not known")
        return report

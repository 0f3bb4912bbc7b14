"""Issue 14, minor items: columns between polls, counts, wording, and saying when Slurm is skipped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


from assistant.diagnose import diagnose_state
from assistant.hpc import hpc_findings
from assistant.render import render_text
from scalable_tui.tui.screens.live_jobs import elapsed_now, jobs_header, time_left_now
from scalable_tui.session.slurm_join import merge_findings
from scalable_tui.model.jobs import Job, JobsSnapshot
from scalable_tui.model.live import LiveSnapshot
from scalable_tui.sources.jobs.slurm import SlurmSource


def test_elapsed_and_left_advance_together_between_polls() -> None:
    job = Job("7", "dask-worker", "RUNNING", elapsed_s=100.0, time_limit_s=600.0, time_left_s=500.0)
    snap = JobsSnapshot(jobs=[job], polled_at=1000.0)
    assert elapsed_now(job, snap, 1030.0) == 130.0 and time_left_now(job, snap, 1030.0) == 470.0
    done = Job("8", "dask-worker", "TIMEOUT", elapsed_s=90.0)
    assert elapsed_now(done, snap, 1030.0) == 90.0  # an ended job's elapsed stays


def test_force_without_squeue_says_squeue_is_missing_not_slurmctld(monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    snap = SlurmSource(user="root", cluster="tcp://127.0.0.1:1").poll()
    assert snap.status == "down" and snap.message == "squeue not found on PATH"
    head = jobs_header(snap, None, True, None, 1000.0).plain
    assert "squeue not found on PATH" in head and "slurmctld unreachable" not in head


def test_slurm_only_findings_are_counted_as_failures() -> None:
    job = Job("4242", "dask-worker", "TIMEOUT", time_limit_s=60.0, elapsed_s=61.0, worker_names=["w"])
    diag = diagnose_state(LiveSnapshot(address="tcp://127.0.0.1:1").to_run_state())
    merged = merge_findings(diag, hpc_findings([job]))
    text = render_text(merged)
    assert "⚠ 1 failure detected in 1 group" in text, text  # was "⚠ 0 failures detected in 1 group"


def test_a_worker_death_a_killed_job_explains_is_counted_once() -> None:
    """Slurm killed job 4242 at its walltime: its worker's death is that job's failure, not a second one."""
    from scalable_tui.model.live import LiveEvent
    from scalable_tui.model.live_workers import WorkerInfo
    from scalable_tui.session.pipeline import diagnose_live

    live = LiveSnapshot(address="tcp://127.0.0.1:1")
    live.workers = {"tcp://127.0.0.1:40001": WorkerInfo(key="tcp://127.0.0.1:40001", address="tcp://127.0.0.1:40001",
                                                         name="SLURMCluster-0", host="127.0.0.1", status="closed",
                                                         left_at=1000.0, left_reason="worker-close")}
    live.add_event(LiveEvent(ts=1000.0, kind="worker-removed", worker="SLURMCluster-0",
                                 address="tcp://127.0.0.1:40001", text="SLURMCluster-0 left",
                                 details={"unexpected": True}))
    job = Job("4242", "dask-worker", "TIMEOUT", time_limit_s=60.0, elapsed_s=61.0, worker_names=["SLURMCluster-0"])
    _state, alone = diagnose_live(live)
    assert [f.exception_types for f in alone.findings if f.count] == [["WorkerDied"]]  # without Slurm: a death
    _state, diag = diagnose_live(live, jobs=JobsSnapshot(jobs=[job]))
    assert [(f.category, f.count) for f in diag.findings if f.count] == [("walltime", 1)], diag.findings
    assert (diag.failures_total, diag.job_failures, diag.worker_deaths) == (1, 1, 1)
    assert sum(f.count for f in diag.findings) == diag.failures_total
    assert ("1 failure detected in 1 group across 1 category (0 task failures, 1 Slurm job), 1 worker death "
            "(explained by the failed Slurm jobs or KilledWorker failures):") in render_text(diag, width=300)


def test_lifetime_advice_is_worded_for_a_one_minute_walltime() -> None:
    job = Job("5", "dask-worker", "TIMEOUT", time_limit_s=60.0, elapsed_s=70.0)
    (f,) = hpc_findings([job])
    assert "'--lifetime', '45s'" in f.suggestion and "(about 15 s below the walltime)" in f.suggestion
    assert "a few minutes" not in f.suggestion
    (f,) = hpc_findings([Job("6", "dask-worker", "TIMEOUT", time_limit_s=3600.0, elapsed_s=3601.0)])
    assert "(about 5 minutes below the walltime)" in f.suggestion


def test_record_says_when_slurm_is_skipped(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + ":/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "scalable_tui.cli", "record", "tcp://127.0.0.1:1", "-o",
                          str(tmp_path / "r.rec"), "--give-up-after", "0", "--slurm", "off"],
                         capture_output=True, text=True, timeout=60, env=env)
    assert "note: Slurm jobs not recorded: --slurm off" in out.stderr, out.stderr


def test_record_summary_says_only_this_clusters_jobs_were_stored() -> None:
    from scalable_tui.session.record import RecordResult

    r = RecordResult(exit_code=0, reason="stopped", frames=3, jobs=2, failures=0, deaths=0, events=0, workers=1,
                     seconds=3.0, size=10, path="x.rec", notes=[])
    assert "2 Slurm jobs snapshot(s) (only jobs of this cluster); stopped" in r.line()

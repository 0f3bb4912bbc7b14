"""``record --notify/--on-finding`` alerts join the Slurm jobs as ``attach``'s do.

Before: record's own diagnosis (``LiveAlerts`` with ``diagnose=True``) called
``diagnose_live(live)`` without the jobs it polled, so a worker killed at its
walltime alerted in ``attach`` and never in ``record``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from scalable_tui.model.jobs import Job, JobsSnapshot
from scalable_tui.model.live import WorkerInfo
from scalable_tui.session.live_alerts import LiveAlerts
from scalable_tui.session.notify import Delivery
from scalable_tui.session.record import record
from scalable_tui.sources.jobs.slurm import SlurmSource
from tests.session.test_pipeline import T0, busy_night
from tests.slurm.test_source import dask_fake


def _night():  # type: ignore[no-untyped-def]
    live = busy_night(120, 3)
    live.workers["SLURMCluster-3"] = WorkerInfo(key="SLURMCluster-3", name="SLURMCluster-3",
                                                address="tcp://127.0.0.1:2", host="127.0.0.1", alive=False,
                                                status="left", left_at=T0 + 9, left_reason="worker-close")
    jobs = JobsSnapshot(jobs=[Job(job_id="4242", name="dask-worker", state="TIMEOUT", node="localhost", elapsed_s=61,
                                  time_limit_s=60, worker_names=["SLURMCluster-3"], mapped_by="batch_script",
                                  exit_code="0:15", end_time=T0 + 9)], polled_at=T0 + 10)
    return live, jobs


def _alerted(deliveries: list[Delivery]) -> dict[str, str]:
    return {a.category: a.title for d in deliveries for a in d.alerts if a.kind == "finding"}


def test_record_alerts_carry_the_slurm_findings_attach_shows() -> None:
    live, jobs = _night()
    got: list[Delivery] = []
    alerts = LiveAlerts([got.append], clock=lambda: T0 + 10, diagnose=True)
    alerts.frame(live)
    alerts.jobs(jobs)  # record's job poll
    alerts.close()
    cats = _alerted(got)
    assert "walltime" in cats and "4242" in cats["walltime"], cats
    # the same finding attach's diagnosis has (monitor.build_live_snapshot -> diagnose_live(jobs=...))
    from scalable_tui.session.pipeline import diagnose_live

    (f,) = [f for f in diagnose_live(live, jobs=jobs, now=T0 + 10)[1].findings if f.category == "walltime"]
    assert cats["walltime"] == f.title


def test_without_jobs_there_is_no_walltime_alert() -> None:
    """The walltime alert above comes from the jobs, not from the snapshot alone."""
    live, _ = _night()
    got: list[Delivery] = []
    alerts = LiveAlerts([got.append], clock=lambda: T0 + 10, diagnose=True)
    alerts.frame(live)
    alerts.close()
    assert "walltime" not in _alerted(got)


def test_record_loop_hands_every_jobs_poll_to_on_jobs(tmp_path: Path) -> None:
    fake, _ = dask_fake()
    src = SlurmSource(user="root", name="dask-worker", runner=fake)
    seen: list[JobsSnapshot] = []
    res = asyncio.run(record("tcp://127.0.0.1:1", tmp_path / "loop.rec", interval=0.2, give_up_after=1.0,
                             handle_signals=False, call_timeout=0.5, job_source=src, jobs_interval=0.2,
                             on_jobs=seen.append))
    assert res.exit_code == 2 and len(seen) >= 1
    assert {j.job_id: j.state for j in seen[-1].jobs} == {"21": "RUNNING", "22": "RUNNING", "23": "PENDING"}


def test_record_alerts_read_the_job_logs_of_slurm_log_dir(tmp_path: Path) -> None:
    """``record --slurm-log-dir``: the job logs tell why a job vanished (accounting-less Slurm), as in attach.

    Before, record had no such option: its alerts never saw a time limit that only the log told.
    """
    from scalable_tui.cli.common import _alerts
    from scalable_tui.cli.parser import build_parser

    live, _ = _night()
    jobs = JobsSnapshot(jobs=[Job(job_id="4243", name="dask-worker", state="RUNNING", gone=True, node="localhost",
                                  time_limit_s=60, worker_names=["SLURMCluster-3"], mapped_by="batch_script")],
                        polled_at=T0 + 10)
    (tmp_path / "dask-worker-4243.err").write_text(
        "slurmstepd: error: *** JOB 4243 ON localhost CANCELLED AT 2026-11-25T12:06:21 DUE TO TIME LIMIT ***\n")
    for log_dir, expect in ((None, False), (tmp_path, True)):
        argv = ["record", "-o", str(tmp_path / "x.rec"), "--on-finding", "true"]
        args = build_parser().parse_args(argv + (["--slurm-log-dir", str(log_dir)] if log_dir else []))
        alerts = _alerts(args, record=True)
        assert alerts.log_dir == (str(log_dir) if log_dir else None)
        got: list[Delivery] = []
        alerts.sinks = [got.append]
        alerts.clock = lambda: T0 + 10
        alerts.frame(live)
        alerts.jobs(jobs)
        alerts.close()
        assert ("walltime" in _alerted(got)) is expect, _alerted(got)

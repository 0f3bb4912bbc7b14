"""The one headless pipeline (``scalable_tui.session``): task totals, failure counts and recorded Slurm jobs
give the same answer on every door.  No cluster: recordings are written with the real ``RecordingWriter``."""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path

from assistant.render import render_markdown, render_text
from scalable_tui.model.jobs import Job, JobsSnapshot
from scalable_tui.model.live import LiveEvent, LiveFailure, LiveSnapshot, PrefixCounts, WorkerInfo
from scalable_tui.sources.recording.writer import RecordingWriter
from scalable_tui.session import diagnose_live, diagnose_recording
from scalable_tui.sources.recording.reader import Recording
from tests.conftest import run_cli

T0 = 1_800_000_000.0


def busy_night(n_ok: int = 400, n_bad: int = 17, *, t: float = T0) -> LiveSnapshot:
    """Hundreds of tasks in memory, a few erred: what the scheduler's task prefixes say."""
    s = LiveSnapshot(address="tcp://127.0.0.1:8786", scheduler_id="Scheduler-abc", events=deque(maxlen=100),
                     attached_at=t)
    s.connected, s.link, s.last_poll_ok = True, "ok", t
    s.prefixes = {"run_gcam": PrefixCounts("run_gcam", memory=n_ok, erred=n_bad),
                  "stitch": PrefixCounts("stitch", processing=3, waiting=5)}
    s.failures = [LiveFailure(key=f"run_gcam-{i}", prefix="run_gcam", exception_type="ValueError",
                              exception=f"ValueError('bad scenario {i}')", traceback=None, erred_on=["w-0"],
                              first_seen=t - 10 + i * 0.1) for i in range(n_bad)]
    s.failures_total = n_bad
    return s


def test_live_totals_are_the_schedulers_not_the_failed_rows() -> None:
    """Before: ``to_run_state`` counted its table of failed tasks only -> ``17 total · 17 failed``."""
    _state, diag = diagnose_live(busy_night())
    assert diag.tasks_origin == "scheduler"
    assert diag.tasks_total == 425 and diag.tasks["memory"] == 400 and diag.tasks["erred"] == 17
    assert diag.unfinished == 8 and diag.task_failures == 17 and diag.worker_deaths == 0
    assert "Tasks: 425 total · 3 processing · 400 memory · 17 erred · 5 waiting" in render_text(diag)
    assert "**Tasks:** 425 total" in render_markdown(diag)


def _died(t: float, addr: str, name: str) -> LiveEvent:
    return LiveEvent(ts=t, kind="worker-removed", worker=name, text=f"{name} ({addr}) left", address=addr,
                     details={"unexpected": True, "expected": False, "reason": "the worker process exited"})


def test_a_death_named_by_killed_worker_is_one_failure_and_other_deaths_are_their_own() -> None:
    s = busy_night(0, 0)
    for ev in (_died(T0 - 5, "tcp://127.0.0.1:5001", "w-0"), _died(T0 - 3, "tcp://127.0.0.1:5002", "w-1")):
        s.add_event(ev)
    s.failures = [LiveFailure(key="hog-1", prefix="hog", exception_type="KilledWorker",
                              exception="KilledWorker: Attempted to run task 'hog-1' on 1 different workers",
                              traceback=None, erred_on=["w-0"], first_seen=T0 - 4,
                              killed_workers=["w-0"], killed_addresses=["tcp://127.0.0.1:5001"])]
    state, diag = diagnose_live(s)
    assert [f.failure_class for f in state.failures] == ["KilledWorker", "WorkerDied"]
    assert (diag.failures_total, diag.task_failures, diag.worker_deaths) == (2, 1, 2)
    assert sum(f.count for f in diag.findings if f.count) == diag.failures_total
    # the words add up to the total: one death is its own failure, the other is inside the KilledWorker
    assert ("2 failures detected in 2 groups across 1 category (1 task failure, 1 worker death), "
            "1 more worker death (in the KilledWorker failures):") in render_text(diag, width=200)


def _frames(w: RecordingWriter, live: LiveSnapshot, n: int = 5, step: float = 5.0) -> None:
    for i in range(n):
        live.polls += 1
        live.last_poll_ok = T0 + i * step
        w.write(live.copy(), t=T0 + i * step)


def write_slurm_night(path: Path) -> None:
    """A recording whose jobs show a walltime kill and a job stuck PENDING (as attach saw them live)."""
    live = busy_night(120, 3)
    live.workers["SLURMCluster-3"] = WorkerInfo(key="SLURMCluster-3", name="SLURMCluster-3",
                                                address="tcp://127.0.0.1:2", host="127.0.0.1", alive=False,
                                                status="left", left_at=T0 + 9, left_reason="worker-close")
    w = RecordingWriter.create(path, address=live.address, interval=5.0)
    _frames(w, live)
    jobs = [Job(job_id="4242", name="dask-worker", state="TIMEOUT", node="localhost", elapsed_s=61, time_limit_s=60,
                worker_names=["SLURMCluster-3"], mapped_by="batch_script", exit_code="0:15", end_time=T0 + 9),
            Job(job_id="4243", name="dask-worker", state="PENDING", reason="Resources", submit_time=T0 - 7200)]
    assert w.write_jobs(JobsSnapshot(jobs=jobs, polled_at=T0 + 10), t=T0 + 10)
    w.close("scheduler closed")


def test_recording_diagnosis_uses_the_recorded_jobs(tmp_path: Path) -> None:
    path = tmp_path / "slurm.rec"
    write_slurm_night(path)
    with Recording(path) as rec:
        _state, diag = diagnose_recording(rec)
    cats = {f.category for f in diag.findings}
    assert {"walltime", "cluster_startup"} <= cats, cats
    assert diag.tasks_total == 131 and diag.tasks["erred"] == 3


def test_diagnose_rec_json_has_recorded_slurm_findings_and_true_totals(tmp_path: Path) -> None:
    """Before: the recorded jobs were ignored (and ``--slurm force`` asked today's sacct)."""
    path = tmp_path / "slurm.rec"
    write_slurm_night(path)
    for mode in ("auto", "force"):
        proc = run_cli("diagnose", str(path), "--format", "json", "--no-ai", "--slurm", mode,
                       env={"PATH": "/usr/bin:/bin"})  # no sacct here: nothing may be asked of it
        assert proc.returncode == 0, proc.stderr
        d = json.loads(proc.stdout)
        cats = {f["category"] for f in d["findings"]}
        assert {"walltime", "cluster_startup"} <= cats, (mode, cats)
        assert not any("sacct" in n for n in d["notices"]), d["notices"]
        assert (d["tasks_total"], d["tasks"]["memory"], d["tasks"]["erred"]) == (131, 120, 3)
        assert (d["failures_total"], d["task_failures"], d["worker_deaths"], d["job_failures"]) == (4, 3, 0, 1)
        assert d["tasks_origin"] == "scheduler"
    text = run_cli("diagnose", str(path), "--no-ai", env={"PATH": "/usr/bin:/bin"}).stdout
    assert "Tasks: 131 total" in text and "4242" in text

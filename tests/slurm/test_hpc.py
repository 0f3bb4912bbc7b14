"""assistant.hpc on recorded Slurm output: categories, advice, evidence, and agreement with the rules."""

from __future__ import annotations

import math

import pytest

from assistant.grouping import exception_types_of, failure_text
from assistant.hpc import hpc_failure_records, hpc_findings
from assistant.hpc_advice import lifetime_advice
from assistant.hpc_facts import hpc_facts
from scalable_tui.session.slurm_join import job_findings
from scalable_tui.model.diagnosis import Finding
from assistant.rules import CATEGORIES, classify
from scalable_tui.model.jobs import Job, JobsSnapshot, WorkerDeparture
from scalable_tui.model.run import WorkerEvent
from scalable_tui.sources.jobs.slurm_logs import parse_log_text
from scalable_tui.sources.jobs.slurm_parse import parse_sacct, parse_squeue

from .test_parsers import ids, read


def final_snapshot() -> tuple[JobsSnapshot, dict]:
    jobs, _ = parse_squeue(read("squeue_22.05_sbatch_final.txt"))
    i = ids()
    logs = {}
    for kind in ("timeout", "oom", "failed", "cancelled", "ok"):
        jid = i[kind]
        logs[jid] = parse_log_text(read(f"slurm-{jid}.{kind}.out"), f"logs/slurm-{jid}.out", jid)
    # the timeout job ran a dask worker
    for j in jobs:
        if j.job_id == i["timeout"]:
            j.worker_names = ["SLURMCluster-0"]
    return JobsSnapshot(jobs=jobs), logs


def by_cat(findings: list[Finding]) -> dict[str, Finding]:
    return {f.category: f for f in findings}


def test_final_states_become_findings() -> None:
    snap, logs = final_snapshot()
    i = ids()
    deps = [WorkerDeparture("SLURMCluster-0", ts=1.0, expected=False, reason="signal-15")]
    fs = job_findings(snap, deps, logs)
    cats = by_cat(fs)
    assert set(cats) == {"walltime", "oom", "cluster_startup"}  # cancelled and completed jobs are not failures
    w = cats["walltime"]
    assert w.severity == "error" and w.count == 1 and w.transient is False
    assert i["timeout"] in w.title and "00:01:00" in w.title
    assert "--lifetime" in w.suggestion and "--lifetime-stagger" in w.suggestion and "adapt" in w.suggestion
    assert "walltime='00:02:00'" in w.suggestion
    assert w.workers == ["SLURMCluster-0"]
    texts = [e.text for e in w.evidence]
    assert any(f"job {i['timeout']} (worker SLURMCluster-0): TIMEOUT" in t for t in texts)
    assert any("DUE TO TIME LIMIT" in t for t in texts)
    assert any("worker SLURMCluster-0 left (expected=False, signal-15)" in t for t in texts)
    assert w.resources["requested_walltime"] == "00:01:00" and w.resources["job_ids"] == i["timeout"]
    o = cats["oom"]
    assert "memory='200M'" in o.suggestion and "job_mem=" in o.suggestion
    assert any("oom-kill event" in e.text for e in o.evidence)
    s = cats["cluster_startup"]
    assert s.severity == "critical" and i["failed"] in s.title and "before" in s.title
    assert fs[0] is s  # most severe first
    for f in fs:
        assert f.category in CATEGORIES
        Finding.model_validate_json(f.model_dump_json())


def test_log_line_alone_is_enough() -> None:
    # e.g. accounting-less Slurm after MinJobAge: the job is only known as gone, the log tells why
    job = Job("16", "dask-worker", "RUNNING", gone=True, time_limit_s=3600.0, worker_names=["C-1"])
    log = parse_log_text("slurmstepd: error: *** JOB 16 ON n CANCELLED AT 2026-01-01T00:00:00 DUE TO TIME LIMIT ***")
    (f,) = hpc_findings([job], [], {"16": log})
    assert f.category == "walltime" and "'--lifetime', '55m', '--lifetime-stagger', '2m'" in f.suggestion


def test_log_dir_is_scanned(tmp_path) -> None:
    snap, _ = final_snapshot()
    i = ids()
    (tmp_path / f"dask-worker-{i['timeout']}.err").write_text(
        "2026-11-25 12:06:21,000 - distributed.worker - INFO -           Worker name:             SLURMCluster-9\n"
        + read(f"slurm-{i['timeout']}.timeout.out"))
    for j in snap.jobs:
        j.worker_names = []
    f = by_cat(job_findings(snap, [], tmp_path))["walltime"]
    assert f.workers == ["SLURMCluster-9"]
    assert any(e.source.endswith(f"dask-worker-{i['timeout']}.err:2") for e in f.evidence)


def test_departures_in_any_shape_join_by_worker_name() -> None:
    snap, logs = final_snapshot()
    for dep in (
        "SLURMCluster-0",
        {"name": "SLURMCluster-0", "expected": False, "ts": 5.0},
        WorkerEvent(timestamp=None, ts=5.0, state="worker_lost", provider="slurm", worker_id="SLURMCluster-0",
                    component=None, details={"expected": False}),
    ):
        w = by_cat(job_findings(snap, [dep], logs))["walltime"]
        assert any(e.source == "scheduler" and "SLURMCluster-0 left" in e.text for e in w.evidence)


def test_pending_long_enough_is_cluster_startup_with_reason() -> None:
    jobs, _ = parse_squeue(read("squeue_22.05_dask_p1.txt"))
    pend = next(j for j in jobs if j.is_pending)
    now = pend.submit_time + 600
    (f,) = hpc_findings(jobs, now=now)
    assert f.category == "cluster_startup" and f.severity == "warning"  # other jobs run
    assert "PENDING: Resources" in f.title and pend.job_id in f.title
    assert "cores=" in f.suggestion and "memory=" in f.suggestion and "queue=" in f.suggestion
    assert any("pending for 00:10:00" in e.text for e in f.evidence)
    assert hpc_findings(jobs, now=pend.submit_time + 60) == []  # not yet
    assert hpc_findings(jobs, now=pend.submit_time + 60, pending_after_s=30)[0].category == "cluster_startup"


def test_qos_pending_and_older_final_states() -> None:
    jobs, _ = parse_squeue(read("synthetic_older_squeue.txt"))
    acct, _ = parse_sacct(read("synthetic_older_sacct.txt"))
    qos = [j for j in jobs if j.reason == "QOSMaxJobsPerUserLimit"]
    (f,) = hpc_findings(qos, now=qos[0].submit_time + 3600)
    assert f.severity == "error"  # nothing of this set runs
    assert "QOS" in f.suggestion and "sacctmgr" in f.suggestion and "adapt(maximum" in f.suggestion
    cats = by_cat(hpc_findings(list(acct.values())))
    assert cats["preemption"].transient is True and "--requeue" in cats["preemption"].suggestion
    assert cats["worker_lost"].title.startswith("1 worker job lost to a node failure")
    assert "4243" in cats["worker_lost"].title


def test_cancelled_job_whose_batch_step_ran_out_of_memory() -> None:
    (job,) = parse_sacct(read("sacct_22.05_cancelled_after_oom.txt"))[0].values()
    assert job.state == "CANCELLED" and job.step_states == {"batch": "OUT_OF_MEMORY"}
    assert job.max_rss_mb == pytest.approx(798768 / 1024)
    (f,) = hpc_findings([job])
    assert f.category == "oom" and "steps batch OUT_OF_MEMORY" in f.evidence[0].text
    assert "peak RSS 780M" in f.suggestion and "memory='1908M'" in f.suggestion


def test_signal_9_inside_a_running_job_suggests_the_cgroup() -> None:
    job = Job("30", "dask-worker", "RUNNING", req_mem="954M", req_mem_mb=954.0, worker_names=["C-0"])
    log = parse_log_text("\n".join(
        f"2026-11-25 12:00:0{k},000 - distributed.nanny - WARNING - Worker process 42{k} was killed by signal 9"
        for k in range(4)))
    (f,) = hpc_findings([job], [], {"30": log})
    assert f.category == "oom" and "signal 9" in f.title and "job_mem=" in f.suggestion
    assert len(f.evidence) == 3  # the job line and two of the four log lines


def test_records_classify_like_the_findings() -> None:
    """The FailureRecord wording must land in the same category through the generic rules."""
    snap, logs = final_snapshot()
    acct, _ = parse_sacct(read("synthetic_older_sacct.txt"))
    p1, _ = parse_squeue(read("squeue_22.05_dask_p1.txt"))
    sig9 = Job("30", "w", "RUNNING", req_mem="1G", worker_names=["C-0"])
    failed_late = Job("31", "w", "FAILED", exit_code="1:0", worker_names=["C-1"])
    all_jobs = [*snap.jobs, *acct.values(), *p1, sig9, failed_late]
    all_logs = {**logs, "30": parse_log_text("Worker process 7 was killed by signal 9"),
                "31": parse_log_text("Worker name: C-1")}
    now = max(j.submit_time or 0 for j in all_jobs) + 3600
    facts = hpc_facts(all_jobs, [], all_logs, now=now)
    recs = hpc_failure_records(all_jobs, [], all_logs, now=now, start_index=100)
    assert len(recs) == len(facts) and {f.kind for f in facts} >= {
        "walltime", "oom", "oom_suspected", "preemption", "node_fail", "failed", "failed_start", "pending"}
    for fact, rec in zip(facts, recs):
        rule, _ = classify(exception_types_of(rec), failure_text(rec), rec.phase)
        assert rule.category == fact.category, (fact.kind, rec.message)
        assert rec.source == "slurm" and rec.details["job_id"] == fact.job.job_id
    assert [r.index for r in recs] == list(range(100, 100 + len(recs)))


@pytest.mark.parametrize(
    "wall,life,stagger",
    [(3600, "55m", "2m"), (1800, "25m", "2m"), (86400, "1435m", "2m"), (1200, "15m", "2m"),
     (600, "450s", "30s"), (60, "45s", "3s")],
)
def test_lifetime_stays_below_walltime(wall, life, stagger) -> None:
    assert lifetime_advice(wall) == (life, stagger)

    def secs(t: str) -> float:
        return float(t[:-1]) * {"s": 1, "m": 60, "h": 3600}[t[-1]]

    assert secs(life) + secs(stagger) < wall


def test_nothing_to_say() -> None:
    assert hpc_findings(JobsSnapshot()) == []
    ok = Job("1", "w", "COMPLETED", end_time=1.0)
    cancelled = Job("2", "w", "CANCELLED", raw_state="CANCELLED by 0")
    running = Job("3", "w", "RUNNING", time_limit_s=math.inf)
    assert hpc_findings([ok, cancelled, running], ["w-0", {"bogus": 1}, 42]) == []

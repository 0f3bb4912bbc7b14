"""dask-jobqueue SLURMClusters on a real single-node Slurm (see conftest.py), seen through SlurmSource.

Every address is 127.0.0.1.  Each test uses its own job name, so its source
sees only its jobs, and cancels them afterwards, by job id.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
import uuid
import warnings
from pathlib import Path

import pytest

from scalable_tui.session.slurm_join import job_findings
from scalable_tui.model.jobs import WorkerSeen
from scalable_tui.sources.jobs.slurm import SlurmSource

from .conftest import cancel_jobs, job_ids_named, wait_until

pytestmark = pytest.mark.slow


@contextlib.contextmanager
def jobqueue_cluster(tmp_path: Path, job_name: str | None = None, **kwargs):
    """A SLURMCluster with its own job name and log directory; closed and its jobs cancelled (by id) after."""
    from dask_jobqueue import SLURMCluster
    from distributed import Client

    job_name = job_name or f"stui-{uuid.uuid4().hex[:8]}"
    logs = kwargs.pop("log_directory", None) or tmp_path / "logs"
    opts = dict(cores=1, memory="1GB", processes=1, walltime="00:05:00", job_name=job_name,
                log_directory=str(logs), scheduler_options={"host": "127.0.0.1", "dashboard_address": ":0"})
    opts.update(kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = SLURMCluster(**opts)
    client = Client(cluster, set_as_default=False)
    submitted: set[str] = set()
    cluster.submitted_job_ids = submitted  # type: ignore[attr-defined]  # tests add what they learn
    try:
        yield cluster, client, job_name, logs
    finally:
        submitted.update(str(j.job_id) for j in cluster.workers.values() if getattr(j, "job_id", None))
        client.close()
        try:
            cluster.close(timeout=30)
        except Exception:  # dask-jobqueue 0.9 asserts when a job never started
            pass
        if job_name.startswith("stui-"):  # a name unique to this test: its jobs are ours
            submitted.update(job_ids_named(job_name))
        cancel_jobs(submitted)  # only the jobs this test submitted, by id
        if submitted:
            wait_until(lambda: not subprocess.run(["squeue", "-h", "-j", ",".join(sorted(submitted)), "-t", "PD,R,CG"],
                                                  capture_output=True, text=True).stdout.strip(), 30, 0.5)


def poll_until(src: SlurmSource, pred, timeout: float, interval: float = 1.0):
    """Poll the source until ``pred(snapshot)`` holds; the snapshot, or None after ``timeout``."""
    def once():
        snap = src.poll()
        return snap if pred(snap) else None

    return wait_until(once, timeout, interval)


def workers_seen(client) -> list[WorkerSeen]:
    info = client.scheduler_info(n_workers=-1)["workers"]
    return [WorkerSeen(name=str(w["name"]), host=w.get("host"), address=addr) for addr, w in info.items()]


def test_two_workers_are_mapped_to_their_jobs(slurm, tmp_path) -> None:
    with jobqueue_cluster(tmp_path) as (cluster, client, job_name, logs):
        cluster.scale(2)
        client.wait_for_workers(2, timeout=90)
        expected = {name: job.job_id for name, job in cluster.workers.items()}
        seen = workers_seen(client)
        assert {w.name for w in seen} == set(expected)

        src = SlurmSource(name=job_name, log_dir=logs)
        snap = src.poll()
        assert snap.status == "ok", snap.message
        assert {j.job_id for j in snap.jobs} == set(expected.values())
        for j in snap.jobs:
            assert j.state == "RUNNING" and j.node == "localhost" and j.name == job_name
            assert j.time_limit_s == 300 and 0 < j.time_left_s <= 300 and j.walltime_warning()
            assert j.req_mem == "954M" and j.req_cpus == 1 and j.mapped_by == "batch_script"
        wm = src.map_workers(snap, seen)
        assert wm.worker_to_job == expected
        assert set(wm.how.values()) == {"batch_script"}
        assert wm.jobs_without_worker == [] and wm.workers_without_job == [] and wm.unmapped_workers == []

        # SLURM_JOB_ID from the workers' environment agrees (the cheap client.run path of the live source)
        env_ids = client.run(lambda: __import__("os").environ.get("SLURM_JOB_ID"))
        by_addr = {w.address: w for w in seen}
        with_env = [WorkerSeen(by_addr[a].name, job_id=jid) for a, jid in env_ids.items()]
        assert src.map_workers(snap, with_env).worker_to_job == expected

        # after the cluster scales down, a still-listed worker whose job ended is reported
        cluster.scale(0)
        done = poll_until(src, lambda s: all(j.is_final for j in s.jobs), 60)
        assert done is not None and {j.state for j in done.jobs} <= {"CANCELLED", "COMPLETED"}
        assert sorted(src.map_workers(done, seen).workers_without_job) == sorted(expected)
        assert job_findings(done) == []  # closing a cluster is not a failure
        if slurm.accounting:  # review of a past run: the run's time window, from sacct
            hist = wait_until(lambda: (h := src.history(time.time() - 600)).jobs and
                              all(j.is_final for j in h.jobs) and h, 20, 1)
            assert hist and {j.job_id for j in hist.jobs} == set(expected.values())
            # seff's CPU figure: sacct's TotalCPU per job (a Dask worker burns some CPU starting up)
            assert all(j.total_cpu_s is not None and j.total_cpu_s > 0 for j in hist.jobs), hist.jobs
            from assistant.efficiency import efficiency_from_jobs

            (row,) = efficiency_from_jobs(hist.jobs).rows
            if any(j.elapsed_s for j in hist.jobs):  # Elapsed has whole seconds: a job under 1 s has no rate
                assert row.mean_cpu is not None and 0 < row.mean_cpu <= (row.requested_cpus or 1) * 1.5, hist.jobs
            else:
                assert row.mean_cpu is None


def test_pending_job_and_its_reason(slurm, tmp_path) -> None:
    cpus = int(subprocess.run(["sinfo", "-h", "-o", "%c"], capture_output=True, text=True).stdout.split()[0])
    if cpus > 8:
        pytest.skip(f"the node has {cpus} CPUs: filling it with 1 GB worker jobs is too heavy for a test")
    with jobqueue_cluster(tmp_path) as (cluster, client, job_name, logs):
        cluster.scale(cpus + 1)  # one one-CPU job more than the node has CPUs (2 here: scale(3))
        client.wait_for_workers(cpus, timeout=90)
        src = SlurmSource(name=job_name, log_dir=logs)
        snap = poll_until(src, lambda s: [j.reason for j in s.pending()] == ["Resources"], 60)
        assert snap is not None, src.poll().jobs
        (pend,) = snap.pending()
        assert snap.pending_summary() == "1 job PENDING: Resources"
        assert len(snap.active()) == cpus and pend.node is None
        # dask-jobqueue itself counts all of them as workers: only Slurm knows one never started
        assert len(cluster.workers) == cpus + 1
        wm = src.map_workers(snap, workers_seen(client))
        assert len(wm.worker_to_job) == cpus and pend.job_id not in wm.worker_to_job.values()
        assert pend.worker_names and pend.worker_names[0] in cluster.workers  # script readable while pending
        (f,) = job_findings(snap, pending_after_s=0)
        assert f.category == "cluster_startup" and "PENDING: Resources" in f.title and pend.job_id in f.title
        assert "memory=" in f.suggestion


# The walltime kill on a real Slurm: test_real_slurm_clusters.py (cluster A), with attribution.


def test_cgroup_oom_becomes_an_oom_finding(slurm, tmp_path) -> None:
    # The nanny's own memory guard (terminate at 95% of --memory-limit) must
    # not win the race: on a busy machine the allocation is slow enough that
    # the nanny sends SIGTERM first, and this test is about the cgroup's kill.
    prologue = ["export DASK_DISTRIBUTED__WORKER__MEMORY__TERMINATE=False"]
    with jobqueue_cluster(tmp_path, job_script_prologue=prologue) as (cluster, client, job_name, logs):
        cluster.scale(1)
        client.wait_for_workers(1, timeout=90)
        src = SlurmSource(name=job_name, log_dir=logs)

        def hog():
            data = b"x" * (3 * 1024**3)  # far past the job's 954M cgroup limit, touched at once
            return len(data)

        fut = client.submit(hog, pure=False)
        killed = wait_until(lambda: "killed_signal_9" in src.logs().get(src.poll().jobs[0].job_id, _NoLog).kinds(),
                            60, 1)
        assert killed, f"the worker process was not killed; future {fut.status}, squeue " + subprocess.run(
            ["squeue", "-h", f"--name={job_name}", "-o", "%i %T %r"], capture_output=True, text=True).stdout + \
            subprocess.run(["dmesg"], capture_output=True, text=True).stdout[-1500:] + "\njob logs:\n" + "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(logs.glob("*")))
        fut.cancel()
        snap = src.poll()
        job = snap.jobs[0]
        assert job.state == "RUNNING"  # Slurm itself says nothing while the job runs
        (f,) = job_findings(snap, [], logs)
        assert f.category == "oom" and job.job_id in f.title and "job_mem=" in f.suggestion

        # once the job ends, slurmstepd reports the cgroup's oom-kill events
        subprocess.run(["scancel", job.job_id], check=True, timeout=30)
        snap = poll_until(src, lambda s: s.jobs[0].is_final, 60)
        assert snap is not None
        log = wait_until(lambda: (lg := src.logs().get(job.job_id)) and "oom" in lg.kinds() and lg, 30, 1)
        assert log, src.logs()
        (f,) = [f for f in job_findings(snap, [], logs) if f.category == "oom"]
        assert any("oom-kill event" in e.text for e in f.evidence)
        assert f.title.startswith("Slurm's cgroup OOM killer")
        if slurm.accounting:  # the job says CANCELLED, its batch step OUT_OF_MEMORY
            acct = poll_until(src, lambda s: "OUT_OF_MEMORY" in s.jobs[0].step_states.values(), 20)
            assert acct is not None, src.poll().jobs[0]
            (f,) = [f for f in job_findings(acct) if f.category == "oom"]  # even without the logs
            assert "batch OUT_OF_MEMORY" in f.evidence[0].text


class _NoLog:
    @staticmethod
    def kinds() -> set[str]:
        return set()

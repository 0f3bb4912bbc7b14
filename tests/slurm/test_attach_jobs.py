"""The attach app's Jobs screen (7 / j) and Slurm findings, on a real LocalCluster or a real Slurm.

Fast tests: recorded squeue output behind ``FakeSlurm`` (tests/slurm/data), a
real LocalCluster whose workers carry the recorded dask-jobqueue names.
Slow test: a real ``SLURMCluster`` on the single-node Slurm of conftest.py.
"""

from __future__ import annotations

import asyncio
import subprocess

import pytest

from scalable_tui.tui.attach import AttachApp
from scalable_tui.session import diagnose_live
from scalable_tui.tui.screens.live_jobs import LiveJobsScreen
from scalable_tui.model.jobs import Job, JobsSnapshot
from scalable_tui.model.live import LiveSnapshot, WorkerInfo
from scalable_tui.sources.jobs.base import CmdResult
from scalable_tui.sources.jobs.slurm import SlurmSource
from tests.app.helpers import wait_for, wait_text

from .test_parsers import read
from .test_source import dask_fake

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def named_cluster():
    """A LocalCluster with two worker processes named like the recorded dask-jobqueue workers."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=0, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, memory_limit="512MiB")
    spec = next(iter(cluster.new_worker_spec().values()))
    for name in ("SLURMCluster-1", "SLURMCluster-2"):
        cluster.worker_spec[name] = spec
    cluster.sync(cluster._correct_state)
    client = Client(cluster, set_as_default=False)
    client.wait_for_workers(2, timeout=30)
    try:
        yield cluster, client
    finally:
        client.close()
        cluster.close()


async def test_jobs_screen_maps_recorded_jobs_and_shows_pending(named_cluster) -> None:
    cluster, _client = named_cluster
    fake, workers = dask_fake()  # jobs 21, 22 RUNNING (SLURMCluster-1/-2), 23 PENDING: Resources (SLURMCluster-0)
    src = SlurmSource(user="root", name="dask-worker", runner=fake)
    app = AttachApp(cluster.scheduler_address, poll_interval=0.3, call_timeout=5.0, no_ai=True,
                    job_source=src, jobs_interval=30)
    async with app.run_test(size=(170, 40)) as pilot:
        await wait_for(pilot, lambda: app.live is not None and len(app.live.alive_workers) == 2, 20, "workers")
        await wait_for(pilot, lambda: app.job_map is not None and len(app.job_map.worker_to_job) == 2, 20, "mapping")
        assert app.job_map.worker_to_job == {"SLURMCluster-1": workers["SLURMCluster-1"],
                                             "SLURMCluster-2": workers["SLURMCluster-2"]}
        await pilot.press("j")
        await wait_for(pilot, lambda: isinstance(app.screen, LiveJobsScreen), 5, "jobs screen")
        text = await wait_text(pilot, "1 job PENDING: Resources")
        for name, jid in workers.items():
            assert jid in text and name in text
        assert "RUNNING" in text and "PENDING" in text and "Resources" in text and "localhost" in text
        assert "Slurm: 3 jobs" in text
        assert fake.count("squeue", "-h") == 1  # one listing for all jobs, nothing per worker
        # worker mapping happens again when workers change, without another squeue call
        assert app.jobs_version >= 1

        # slurmctld goes away: shown in the header, the last jobs stay, nothing crashes
        fake.squeue = [CmdResult(["squeue"], 1, "", read("squeue_controller_down.stderr"), duration_s=9.0)]
        app.refresh_jobs()
        text = await wait_text(pilot, "slurmctld unreachable")
        assert "1 job PENDING: Resources" in text and workers["SLURMCluster-1"] in text
        assert fake.count("squeue", "-h") == 2

        await pilot.press("7")  # same screen by number; 1 goes back to Overview
        await pilot.press("1")
        await wait_for(pilot, lambda: not isinstance(app.screen, LiveJobsScreen), 5, "overview")


async def test_without_a_job_source_the_jobs_screen_says_so(named_cluster) -> None:
    cluster, _client = named_cluster
    app = AttachApp(cluster.scheduler_address, poll_interval=0.5, no_ai=True, jobs_off_reason="--slurm off")
    async with app.run_test(size=(140, 30)) as pilot:
        await pilot.press("7")
        text = await wait_text(pilot, "Slurm: off")
        assert "--slurm off" in text
        assert app.jobs is None


def test_walltime_death_becomes_a_walltime_finding_naming_the_job() -> None:
    job = Job(job_id="4242", name="dask-worker", state="TIMEOUT", node="localhost", elapsed_s=61,
              time_limit_s=60, worker_names=["SLURMCluster-3"], mapped_by="batch_script", exit_code="0:15")
    jobs = JobsSnapshot(jobs=[job], polled_at=1000.0)
    live = LiveSnapshot(address="tcp://127.0.0.1:1")
    live.workers["SLURMCluster-3"] = WorkerInfo(key="SLURMCluster-3", name="SLURMCluster-3",
                                                address="tcp://127.0.0.1:2", host="127.0.0.1", alive=False,
                                                status="left", left_at=990.0, left_reason="worker-close")
    (f,) = [f for f in diagnose_live(live, jobs=jobs)[1].findings if f.category == "walltime"]
    assert "4242" in f.title and "--lifetime" in f.suggestion
    assert any("SLURMCluster-3 left" in e.text for e in f.evidence)
    assert diagnose_live(live)[1].findings == []


async def test_worker_killed_at_walltime_becomes_a_finding_in_attach() -> None:
    """The job of a connected worker ends TIMEOUT and the worker leaves: Findings gets ``walltime``."""
    from distributed import Client, LocalCluster

    from scalable_tui.tui.screens.findings import FindingsScreen

    cluster = LocalCluster(n_workers=0, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, memory_limit="512MiB")
    cluster.worker_spec["SLURMCluster-1"] = next(iter(cluster.new_worker_spec().values()))
    cluster.sync(cluster._correct_state)
    client = Client(cluster, set_as_default=False)
    try:
        await asyncio.to_thread(client.wait_for_workers, 1, timeout=30)
        fake, workers = dask_fake()
        jid = workers["SLURMCluster-1"]
        # the recorded jobs run this scheduler's workers (their scripts say so); another cluster's
        # job 99 (also SLURMCluster-1, also TIMEOUT) is in the same user's queue
        for j in list(fake.scripts):
            fake.scripts[j] = fake.scripts[j].replace("tcp://127.0.0.1:32771", cluster.scheduler_address)
        fake.scripts["99"] = fake.scripts[jid].replace(cluster.scheduler_address, "tcp://127.0.0.1:1")
        other = "99|TIMEOUT|TimeLimit|localhost|1:24|1:00|INVALID|954M|1|1|debug|2026-11-25T12:00:00|" \
                "2026-11-25T12:00:01|2026-11-25T12:01:25|root|dask-worker\n"
        fake.squeue = [read("squeue_22.05_dask_p1.txt") + other]
        src = SlurmSource(user="root", runner=fake, cluster=cluster.scheduler_address)
        app = AttachApp(cluster.scheduler_address, poll_interval=0.3, call_timeout=5.0, no_ai=True,
                        job_source=src, jobs_interval=30)
        async with app.run_test(size=(170, 40)) as pilot:
            await wait_for(pilot, lambda: app.job_map is not None and app.job_map.worker_to_job.get("SLURMCluster-1") == jid,
                           20, "mapped")
            # Slurm kills the job at its time limit: the worker disappears, squeue says TIMEOUT
            fake.squeue = ["\n".join(l.replace("|RUNNING|None|", "|TIMEOUT|TimeLimit|") if l.startswith(f"{jid}|")
                                     else l for l in read("squeue_22.05_dask_p1.txt").splitlines()) + "\n" + other]
            await asyncio.to_thread(cluster.scale, 0)
            await wait_for(pilot, lambda: app.live.departed_workers, 20, "worker gone")
            app.refresh_jobs()

            def walltime():
                snap = app.snapshot
                return snap is not None and [f for f in snap.diagnosis.findings if f.category == "walltime"]

            await wait_for(pilot, walltime, 20, "walltime finding")
            (f,) = walltime()
            assert jid in f.title and "--lifetime" in f.suggestion
            assert "99" not in f.title  # the other cluster's walltime kill is not this one's
            await pilot.press("4")
            await wait_for(pilot, lambda: isinstance(app.screen, FindingsScreen), 5, "findings screen")
            await wait_text(pilot, jid)
            # Workers: the departed worker's job, its state and Slurm's cause, not only "connection lost"
            await pilot.press("5")
            text = await wait_text(pilot, f"Slurm killed job {jid} at its walltime")
            assert f"{jid} TIMEOUT" in text
            app.screen.query_one("#live-table").move_cursor(row=0)
            await pilot.pause()
            detail = await wait_text(pilot, f"Slurm job {jid}: TIMEOUT, reason TimeLimit")
            assert "99" not in detail.split("Slurm job", 1)[1].split("\n", 1)[0]
            # Jobs: the other cluster's job is listed, dimmed, as not this cluster's
            await pilot.press("7")
            text = await wait_text(pilot, "not this cluster")
            assert "Slurm: 3 jobs of this cluster" in text and "1 other job of the user" in text
    finally:
        await asyncio.to_thread(client.close)
        await asyncio.to_thread(cluster.close)


# -- a real Slurm ---------------------------------------------------------------------
@pytest.mark.slow
async def test_real_slurmcluster_jobs_mapped_then_pending(slurm, tmp_path) -> None:
    import dask_jobqueue  # noqa: F401 - imported in the main thread (it installs a SIGINT handler)

    from .test_real_slurm import jobqueue_cluster

    cpus = int(subprocess.run(["sinfo", "-h", "-o", "%c"], capture_output=True, text=True).stdout.split()[0])
    if cpus > 8:
        pytest.skip(f"the node has {cpus} CPUs: filling it with 1 GB worker jobs is too heavy for a test")
    running = min(cpus, 2)  # 2 on this 2-CPU box: scale(2), then scale(3)
    cm = jobqueue_cluster(tmp_path, walltime="00:02:00")
    cluster, client, job_name, logs = await asyncio.to_thread(cm.__enter__)
    try:
        cluster.scale(running)
        await asyncio.to_thread(client.wait_for_workers, running, timeout=90)
        expected = {name: job.job_id for name, job in cluster.workers.items()}
        src = SlurmSource(name=job_name, log_dir=logs)
        app = AttachApp(cluster.scheduler_address, poll_interval=0.5, call_timeout=5.0, no_ai=True,
                        job_source=src, jobs_interval=2, slurm_log_dir=str(logs))
        async with app.run_test(size=(170, 40)) as pilot:
            await wait_for(pilot, lambda: app.job_map is not None and app.job_map.worker_to_job == expected,
                           40, "both workers mapped to their jobs")
            await pilot.press("7")
            text = await wait_text(pilot, f"Slurm: {running} job{'s' if running > 1 else ''} ({running} RUNNING)", 10)
            for name, jid in expected.items():
                assert name in text and jid in text
            assert "localhost" in text and "00:02:00" in text and " !" in text  # < 10 min left: warned
            assert not app.job_map.jobs_without_worker and not app.job_map.workers_without_job

            cluster.scale(cpus + 1)  # 2 CPUs: scale(3), the third one-CPU job waits
            app.refresh_jobs()
            text = await wait_text(pilot, "1 job PENDING: Resources", 60)
            assert "PENDING" in text and "Resources" in text
            (pend,) = app.jobs.pending()
            assert pend.job_id in text and pend.job_id not in app.job_map.worker_to_job.values()
    finally:
        await asyncio.to_thread(cm.__exit__, None, None, None)
    left = subprocess.run(["squeue", "-h", f"--name={job_name}"], capture_output=True, text=True).stdout.strip()
    assert not left, left

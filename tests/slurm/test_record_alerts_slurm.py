"""``record --notify/--on-finding`` on a real LocalCluster with recorded squeue output: a worker killed at its
walltime alerts, as it shows in attach's Findings (test_attach_jobs).  Before, record's alerts diagnosed
without the jobs it polled, so no Slurm finding ever alerted."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from scalable_tui.session.live_alerts import LiveAlerts
from scalable_tui.session.notify import Delivery
from scalable_tui.session.record import record
from scalable_tui.sources.jobs.slurm import SlurmSource

from .test_parsers import read
from .test_source import dask_fake, jobqueue_named_cluster


def test_record_alerts_a_walltime_kill(tmp_path: Path) -> None:
    with jobqueue_named_cluster() as (cluster, client):
        fake, workers = dask_fake()
        jid = workers["SLURMCluster-1"]
        for j in list(fake.scripts):  # the recorded jobs run this scheduler's workers
            fake.scripts[j] = fake.scripts[j].replace("tcp://127.0.0.1:32771", cluster.scheduler_address)
        fake.squeue = [read("squeue_22.05_dask_p1.txt")]
        src = SlurmSource(user="root", runner=fake, cluster=cluster.scheduler_address)
        got: list[Delivery] = []
        alerts = LiveAlerts([got.append], diagnose=True)
        seen_worker: list[bool] = []

        def on_frame(snap, seq):  # type: ignore[no-untyped-def]
            alerts.frame(snap, seq)
            if any(w.name == "SLURMCluster-1" for w in snap.alive_workers):
                seen_worker.append(True)

        def walltime() -> list[str]:
            return [a.title for d in alerts.delivered for a in d.alerts if a.category == "walltime"]

        async def main() -> None:
            stop = asyncio.Event()
            task = asyncio.create_task(record(cluster.scheduler_address, tmp_path / "slurm.rec", interval=0.3,
                                              handle_signals=False, call_timeout=5.0, stop=stop, on_frame=on_frame,
                                              job_source=src, jobs_interval=0.3, on_jobs=alerts.jobs))
            deadline = time.monotonic() + 30
            while not seen_worker and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert seen_worker, "the worker was never polled"
            # Slurm kills the job at its time limit: the worker disappears, squeue says TIMEOUT
            fake.squeue = ["\n".join(l.replace("|RUNNING|None|", "|TIMEOUT|TimeLimit|") if l.startswith(f"{jid}|")
                                     else l for l in read("squeue_22.05_dask_p1.txt").splitlines()) + "\n"]
            await asyncio.to_thread(cluster.scale, 0)
            while not walltime() and time.monotonic() < deadline + 30:
                alerts.flush()
                await asyncio.sleep(0.1)
            stop.set()
            await task

        asyncio.run(main())
        alerts.close()
        titles = walltime()
        assert len(titles) == 1 and jid in titles[0], ("no walltime alert from record", [d.title for d in got])


def test_record_attributes_jobs_by_their_workers_as_attach_does(tmp_path: Path) -> None:
    """Batch scripts that name no scheduler address (``--scheduler-file``): the only evidence that a job is this
    cluster's is its worker (name, host, time).  attach used it; record did not, so the recording held none of
    the cluster's jobs and ``diagnose night.rec`` had no Slurm findings."""
    from datetime import datetime, timezone

    from scalable_tui.sources.recording.reader import Recording

    with jobqueue_named_cluster() as (cluster, client):
        fake, workers = dask_fake()
        jid = workers["SLURMCluster-1"]
        for j in list(fake.scripts):  # a scheduler file instead of the address on the worker's command line
            fake.scripts[j] = fake.scripts[j].replace("tcp://127.0.0.1:32771", "--scheduler-file /shared/sched.json")
        now = time.time()

        def stamp(t: float) -> str:
            return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")

        text = read("squeue_22.05_dask_p1.txt").replace("localhost", "127.0.0.1")
        text = text.replace("2026-11-25T12:07:58", stamp(now - 120)).replace("2026-11-25T12:07:59", stamp(now - 60))
        fake.squeue = [text.replace("2026-11-25T12:12:59", stamp(now + 3600))]
        src = SlurmSource(user="root", runner=fake, cluster=cluster.scheduler_address)
        path = tmp_path / "sched-file.rec"

        async def main() -> None:
            stop = asyncio.Event()
            frames: list[int] = []
            task = asyncio.create_task(record(cluster.scheduler_address, path, interval=0.3, handle_signals=False,
                                              call_timeout=5.0, stop=stop, job_source=src, jobs_interval=0.3,
                                              on_frame=lambda snap, seq: frames.append(seq)))
            deadline = time.monotonic() + 30
            while len(frames) < 8 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            stop.set()
            await task

        asyncio.run(main())
        with Recording(path) as rec:
            jobs = rec.jobs_at(float("inf"))
        assert jobs is not None and jid in {j.job_id for j in jobs.jobs}, jobs
        assert all(j.job_id == jid for j in jobs.jobs)  # the other two have no worker here: not this cluster's

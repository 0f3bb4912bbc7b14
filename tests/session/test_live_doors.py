"""Every door tells the same truth on real schedulers (127.0.0.1): task totals of a recording equal the
scheduler's own prefix counts; a worker killed while running a task is one failure in json and on every
screen; a job stuck PENDING becomes a finding in a long attach once its threshold passes, with no new data."""

from __future__ import annotations

import asyncio
import json
import re
import signal
from pathlib import Path

import psutil
import pytest

from scalable_tui.tui.attach import AttachApp
from scalable_tui.sources.recording.reader import Recording
from scalable_tui.sources.jobs.slurm import SlurmSource
from tests.app.helpers import screen_text, wait_for, wait_text
from tests.conftest import run_cli
from tests.live import workload
from tests.live.conftest import PY, Procs, real_cluster
from tests.record.conftest import wait_recording
from tests.slurm.test_source import dask_fake

pytestmark = [pytest.mark.slow]


def _scheduler_counts(dask_scheduler) -> dict[str, int]:  # runs on the scheduler
    out: dict[str, int] = {}
    for tp in dask_scheduler.task_prefixes.values():
        for state, n in tp.states.items():
            out[state] = out.get(state, 0) + n
    return out


def test_recorded_night_totals_equal_the_schedulers(procs: Procs, tmp_path: Path) -> None:
    """Before: ``diagnose night.rec`` said ``N total · N failed`` (only the failed tasks were counted)."""
    from distributed import wait

    with real_cluster(dashboard=None) as (cluster, client):
        out = tmp_path / "night.rec"
        rec = procs.spawn([PY, "-m", "scalable_tui", "record", cluster.scheduler_address, "--out", str(out),
                           "--interval", "0.3"], "recorder")
        wait_recording(out, lambda r: len(r.state_at(r.end).alive_workers) == 2, what="recording has workers")
        good = client.map(workload.ok, range(300), pure=False)
        bad = client.map(workload.bad, range(12), pure=False)
        with client.as_current():
            wait(good + bad, timeout=60)
        truth = client.run_on_scheduler(_scheduler_counts)
        assert truth.get("memory") == 300 and truth.get("erred") == 12, truth
        wait_recording(out, lambda r: sum(p.memory for p in r.state_at(r.end).prefixes.values()) == 300
                       and r.n_failures == 12, what="recording caught up")
        rec.send_signal(signal.SIGTERM)
        assert rec.wait(30) == 0
        with Recording(out) as r:
            last = r.state_at(r.end)
        recorded = {k: sum(p.as_dict()[k] for p in last.prefixes.values()) for k in next(iter(last.prefixes.values())).as_dict()}
        proc = run_cli("diagnose", str(out), "--format", "json", "--no-ai")
        assert proc.returncode == 0, proc.stderr
        d = json.loads(proc.stdout)
        assert d["tasks"] == recorded  # what the recorder stored, state by state
        assert {k: v for k, v in d["tasks"].items() if v} == {k: v for k, v in truth.items() if v}  # the scheduler's
        assert d["tasks_total"] == 312 and d["task_failures"] == 12 and d["failures_total"] == 12
        text = run_cli("diagnose", str(out), "--no-ai").stdout
        assert "Tasks: 312 total · 300 memory · 12 erred" in text, text[:400]
        del good, bad


def _victim(client, key: str) -> str | None:
    for addr, keys in client.processing().items():
        if key in keys:
            return addr
    return None


@pytest.mark.anyio
async def test_killed_worker_is_one_failure_in_json_and_on_every_screen() -> None:
    """Before: the death was a ``WorkerDied`` failure and again the ``KilledWorker``: counts disagreed."""
    with real_cluster({"distributed.scheduler.allowed-failures": 0}, dashboard=None) as (cluster, client):
        app = AttachApp(cluster.scheduler_address, poll_interval=0.3, call_timeout=5.0, no_ai=True)
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_for(pilot, lambda: app.live is not None and len(app.live.alive_workers) == 2, 30, "2 workers")
            fut = client.submit(workload.hold, 120, key="hold-victim", pure=False)
            addr = None
            for _ in range(400):
                addr = await asyncio.to_thread(_victim, client, "hold-victim")
                if addr:
                    break
                await pilot.pause(0.05)
            assert addr, "the task never started"
            pid = next(w.pid for w in app.live.alive_workers if w.address == addr)
            psutil.Process(pid).kill()
            await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.diagnosis.task_failures == 1
                           and app.snapshot.diagnosis.worker_deaths == 1, 60, "KilledWorker diagnosed")
            diag = app.snapshot.diagnosis
            assert diag.failures_total == 1, [(f.title, f.count) for f in diag.findings]
            (group,) = [f for f in diag.findings if f.count]
            assert "KilledWorker" in group.exception_types and group.count == 1
            want = "1 failure (1 task failure · 1 worker death)"
            await pilot.press("1")
            overview = await wait_text(pilot, want)
            # "Failures by category" adds up to the same one failure
            assert re.search(rf"\b1  {group.category}\b", overview) and "Failures by category" in overview
            await pilot.press("3")
            assert want in await wait_text(pilot, "in 1 groups")
            assert "1 failures" in screen_text(app)  # the status line
            # --format json of the same state says the same
            from assistant.render import to_json
            from scalable_tui.session import diagnose_live

            d = json.loads(to_json(diagnose_live(app.live)[1]))
            assert (d["failures_total"], d["task_failures"], d["worker_deaths"]) == (1, 1, 1)
            del fut


@pytest.mark.anyio
async def test_stuck_pending_finding_appears_when_the_clock_passes_its_threshold(procs: Procs) -> None:
    """Before: findings were recomputed only on new data, so a PENDING job never became a finding."""
    address, _ = procs.scheduler()
    fake, _ = dask_fake()  # recorded squeue output: job 23 PENDING (Resources)
    src = SlurmSource(user="root", name="dask-worker", runner=fake)
    submitted = next(j for j in src.poll().jobs if j.is_pending).submit_time
    clock = [submitted + 60]  # pending for a minute: not a finding yet
    app = AttachApp(address, poll_interval=0.3, call_timeout=2.0, no_ai=True, job_source=src, jobs_interval=3600,
                    now=lambda: clock[0], rediagnose_every=0.1)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.jobs is not None and app.live is not None and app.live.connected, 30,
                       "jobs and scheduler")
        v = app.session.diag_version
        app.session.diagnose_soon(app.live)  # one diagnosis with the jobs at +1 min, whatever the tick does
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.version > v, 10, "diagnosed")
        assert not [f for f in app.snapshot.diagnosis.findings if f.category == "cluster_startup"]
        polls = fake.count("squeue", "-h")
        clock[0] = submitted + 2 * 3600  # only the clock moves: no new scheduler data, no new squeue poll
        await wait_for(pilot, lambda: any(f.category == "cluster_startup" for f in app.snapshot.diagnosis.findings),
                       10, "the PENDING finding")
        assert fake.count("squeue", "-h") == polls
        await pilot.press("4")
        await wait_text(pilot, "PENDING")

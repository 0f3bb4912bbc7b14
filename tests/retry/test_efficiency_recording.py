"""efficiency on a recording: the workers' memory limit and threads vs their sampled RSS and CPU.

A real LocalCluster (127.0.0.1), polled by the real LiveSource, frames written by the real RecordingWriter.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from distributed import LocalCluster

from assistant.efficiency import efficiency_from_workers, worker_group
from scalable_tui.sources.recording.writer import RecordingWriter
from scalable_tui.sources.live.source import LiveSource
from tests.conftest import run_cli


def _record(path: Path) -> list[tuple[str, int | None, int | None, float | None, int]]:
    """Record 4 polls of a 2-worker cluster; returns what each poll said about each worker."""
    seen: list[tuple[str, int | None, int | None, float | None, int]] = []

    async def go() -> None:
        async with LocalCluster(n_workers=2, threads_per_worker=2, processes=False, protocol="tcp",
                                host="127.0.0.1", memory_limit="4GB", dashboard_address="127.0.0.1:0",
                                asynchronous=True) as cluster:
            src = LiveSource(cluster.scheduler_address, poll_interval=0.2, call_timeout=5.0)
            w = RecordingWriter.create(path, address=cluster.scheduler_address, interval=0.2)
            try:
                snap = await src.start()
                polls = 0
                while polls < 4:
                    snap = await src.poll(force=True)
                    if len(snap.alive_workers) == 2 and all(x.memory for x in snap.alive_workers):
                        w.write(snap.copy(), t=snap.last_poll_ok)
                        seen.extend((x.name, x.memory_limit, x.memory, x.cpu, x.nthreads) for x in snap.alive_workers)
                        polls += 1
                    await asyncio.sleep(0.2)
            finally:
                w.close("test done")
                await src.close()

    asyncio.run(go())
    return seen


def test_recording_efficiency_matches_what_the_workers_reported(tmp_path: Path) -> None:
    rec = tmp_path / "night.rec"
    seen = _record(rec)
    r = run_cli("efficiency", str(rec), "--format", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    (row,) = doc["rows"]  # workers 0 and 1 started alike: one row
    assert (row["kind"], row["tasks"], row["requested_cpus"]) == ("dask_worker", 2, 2.0)
    assert row["requested_memory_gb"] == 4.0  # memory_limit="4GB" (10**9 bytes)
    assert row["peak_memory_gb"] == pytest.approx(max(s[2] for s in seen) / 1e9, abs=1e-3)
    mean_cpu = sum(sum(c for n, _, _, c, _ in seen if n == name) / sum(1 for s in seen if s[0] == name) / 100
                   for name in {s[0] for s in seen}) / 2
    assert row["mean_cpu"] == pytest.approx(mean_cpu, abs=1e-3)
    text = run_cli("efficiency", str(rec)).stdout
    assert "(numbered)" in text and "4G" in text


def test_worker_rows_and_findings_from_samples() -> None:
    samples = [("SLURMCluster-1-0", 16 * 10**9, 2 * 10**9, 100.0, 4), ("SLURMCluster-2-0", 16 * 10**9, 1 * 10**9, 90.0, 4),
               ("SLURMCluster-1-0", 16 * 10**9, 3 * 10**9, 95.0, 4)]
    rep = efficiency_from_workers(samples)
    (row,) = rep.rows
    assert (row.key, row.tasks, row.peak_memory_gb, row.requested_cpus) == ("SLURMCluster", 2, 3.0, 4.0)
    assert [f.title for f in rep.findings] == ["workers SLURMCluster: tasks use 1 of 4 threads",
                                               "workers SLURMCluster requests 16G, peaks at 3.0G: request 5G"]
    assert worker_group("dask-worker-1f2e") == "dask-worker" and worker_group("7") == "(numbered)"

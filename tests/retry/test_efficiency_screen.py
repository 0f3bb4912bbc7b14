"""The Efficiency screen (key 9 / u): the same report as ``scalable-tui efficiency``, on every session.

A run written by the real Scalable library with observed use (``retry_run``),
a recording (the replay fixture), and a live scheduler's worker metrics
(``WorkerUsage``, fed the snapshots a monitor gets).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scalable_tui.model.live import LiveSnapshot, WorkerInfo
from scalable_tui.session.efficiency import WorkerUsage, run_efficiency
from scalable_tui.sources.rundir.reader import RunDirReader, load_run
from scalable_tui.tui.app import ReviewApp
from scalable_tui.tui.replay import ReplayApp
from tests.app.helpers import screen_text, wait_for
from tests.conftest import run_cli
from tests.replay.conftest import write_recording


async def open_efficiency(app: Any, pilot: Any) -> Any:
    """The run loaded, then ``9``: the Efficiency screen once its report is in."""
    await wait_for(pilot, lambda: app.view.run is not None and app.view.run.loading is None, 20, "run loaded")
    await pilot.press("9")
    screen = app.screen
    await wait_for(pilot, lambda: getattr(screen, "report", None) is not None, 20, "efficiency report")
    return screen


@pytest.mark.anyio
async def test_review_efficiency_screen_shows_the_cli_table_and_findings(retry_run: Path) -> None:
    cli = run_cli("efficiency", str(retry_run), "--format", "json")
    assert cli.returncode == 0, cli.stderr
    app = ReviewApp(RunDirReader(retry_run), no_ai=True)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_efficiency(app, pilot)
        text = screen_text(app)
        assert "run_model" in text and "16G" in text and "13%" in text
        assert "run_model requests 16G, peaks at 2.1G: request 4G" in text
        assert "tasks use 1 of 4 requested cores" in text
        import json

        want = json.loads(cli.stdout)
        assert [r.key for r in screen.report.rows] == [r["key"] for r in want["rows"]]
        assert [f.id for f in screen.report.findings] == [f["id"] for f in want["findings"]]


def test_the_report_of_the_shown_snapshot_equals_the_cli_one(retry_run: Path) -> None:
    """The app computes from the published snapshot (never the reader's moving state): same answer."""
    from scalable_tui.session.efficiency import snapshot_state
    from scalable_tui.session.pipeline import diagnose
    from scalable_tui.session.snapshot import build_snapshot

    state = load_run(retry_run)
    snap = build_snapshot(state, diagnose(state), 1, stale_after_s=None, now=0.0)
    a = run_efficiency(snapshot_state(snap), retry_run, diagnosis=snap.diagnosis).to_dict()
    b = run_efficiency(state, retry_run).to_dict()
    assert a == b and a["rows"]


@pytest.mark.anyio
async def test_replay_efficiency_screen_reads_the_recorded_worker_metrics(tmp_path: Path) -> None:
    rec = write_recording(tmp_path / "night.rec")
    app = ReplayApp(rec.path, no_ai=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.live is not None, 10, "first frame")
        await pilot.press("u")
        screen = app.screen
        await wait_for(pilot, lambda: getattr(screen, "report", None) is not None, 20, "efficiency report")
        rows = {r.key: r for r in screen.report.rows}
        assert set(rows) == {"w"}  # w-0, w-1, w-2: one worker group
        assert rows["w"].requested_memory_gb == pytest.approx(2**30 / 1e9) and rows["w"].tasks == 3
        assert rows["w"].peak_memory_gb == pytest.approx(2**28 / 1e9)
        assert "heartbeat samples" in screen_text(app)


def _live(t: float, mem: int, cpu: float) -> LiveSnapshot:
    s = LiveSnapshot(address="tcp://127.0.0.1:8786", scheduler_id="Scheduler-eff", last_poll_ok=t)
    s.workers["SLURMCluster-0-1"] = WorkerInfo(key="SLURMCluster-0-1", name="SLURMCluster-0-1",
                                               address="tcp://127.0.0.1:40001", host="n1", status="running",
                                               nthreads=4, memory_limit=16 * 10**9, memory=mem, cpu=cpu,
                                               first_seen=0.0, last_seen=t)
    return s


def test_live_worker_usage_keeps_the_peak_and_the_mean_cpu_per_heartbeat() -> None:
    usage = WorkerUsage()
    usage.add(_live(1.0, 2 * 10**9, 100.0))
    usage.add(_live(1.0, 9 * 10**9, 900.0))  # the same heartbeat polled again: not a new sample
    usage.add(_live(2.0, 3 * 10**9, 80.0))
    report = usage.report("Scheduler-eff")
    (row,) = report.rows
    assert row.key == "SLURMCluster" and row.peak_memory_gb == pytest.approx(3.0)
    assert row.mean_cpu == pytest.approx(0.9) and row.requested_cpus == 4.0
    assert {f.id for f in report.findings} >= {"efficiency:memory:dask_worker:SLURMCluster",
                                              "efficiency:cpu:dask_worker:SLURMCluster"}
    assert any("since attach" in n for n in report.notes)


@pytest.mark.anyio
async def test_a_report_longer_than_the_table_shows_the_first_rows_and_says_how_many_more(
        retry_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One row per task function: a run whose tasks each name their own function has 300k rows; the table
    holds the first ``MAX_ROWS`` and says where the rest are (adding 300k rows held the UI thread for seconds)."""
    from scalable_tui.tui.screens import efficiency

    monkeypatch.setattr(efficiency, "MAX_ROWS", 1)
    app = ReviewApp(RunDirReader(retry_run), no_ai=True)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_efficiency(app, pilot)
        rows = len(screen.report.rows)
        assert rows > 1
        from textual.widgets import DataTable

        assert screen.query_one(DataTable).row_count == 1
        await wait_for(pilot, lambda: f"showing the first 1 of {rows} rows" in screen_text(app), 10, "the note")

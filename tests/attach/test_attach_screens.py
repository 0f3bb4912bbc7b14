"""What users saw on the live screens (issue 12), read from the rendered text of AttachApp on a real LocalCluster.

The cluster's workers have no memory limit (``memory_limit=0``, as a
LocalCluster or ``dask worker`` started without one): the Overview used to
say "46 GiB of 0 MiB".  Failing tasks have Dask keys (``name-<hash>``) that
the Failures screens used to cut to an indistinguishable ``name-c8``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scalable_tui.tui.attach import AttachApp
from scalable_tui.tui.screens.failure_group import FailureGroupScreen
from scalable_tui.sources.recording.writer import RecordingWriter
from tests.app.helpers import screen_text, wait_for, wait_text

pytestmark = [pytest.mark.slow, pytest.mark.anyio]
SIZES = [(160, 48), (80, 24)]


def downscale(i: int) -> int:
    raise ValueError(f"scenario {i} has no downscaling table")


@pytest.fixture(scope="module")
def unlimited_cluster():
    """A real LocalCluster (in-process workers, no memory limit) and a Client with failed futures on it."""
    from distributed import Client, LocalCluster, wait

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, host="127.0.0.1", protocol="tcp://",
                      dashboard_address=None, memory_limit=0) as cluster, \
            Client(cluster, set_as_default=False) as client:
        futures = client.map(downscale, range(6), pure=False)
        with client.as_current():
            wait(futures, timeout=60)
        assert all(f.status == "error" for f in futures)
        yield cluster, futures


async def _connected(pilot, app: AttachApp) -> None:
    await wait_for(pilot, lambda: app.live is not None and app.live.connected and app.live.alive_workers, 30,
                   "connected, workers seen")
    await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.diagnosis.failures_total >= 6, 30,
                   "the failures diagnosed")


@pytest.mark.parametrize("size", SIZES)
async def test_memory_without_a_limit_says_no_limit(unlimited_cluster, size) -> None:
    cluster, _ = unlimited_cluster
    app = AttachApp(cluster.scheduler_address, poll_interval=0.3, call_timeout=5.0, no_ai=True)
    async with app.run_test(size=size) as pilot:
        await _connected(pilot, app)
        assert all(not w.memory_limit for w in app.live.alive_workers)
        text = await wait_text(pilot, "(no limit)")
        assert "of 0 MiB" not in text
        await pilot.press("5")
        await wait_text(pilot, "(no limit)")


@pytest.mark.parametrize("size", SIZES)
async def test_dask_keys_are_told_apart_on_the_failures_screen(unlimited_cluster, size) -> None:
    cluster, futures = unlimited_cluster
    app = AttachApp(cluster.scheduler_address, poll_interval=0.3, call_timeout=5.0, no_ai=True)
    async with app.run_test(size=size) as pilot:
        await _connected(pilot, app)
        await pilot.press("3")
        await wait_text(pilot, "ValueError")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FailureGroupScreen) and len(app.screen.records) == 6, 10,
                       "the group's 6 failures")
        await pilot.pause()
        table = app.screen.query_one("DataTable")
        col = table.get_column_index("task id")
        shown = [table.get_cell_at((i, col)).plain for i in range(table.row_count)]
        keys = [app.screen.records[i].task_id for i in range(table.row_count)]
        assert len(set(shown)) == 6, shown  # was "downscale-8" six times
        text = screen_text(app)
        for s, k in zip(shown, keys):
            assert s in text and s.endswith(str(k)[-6:]), (s, k)
        await wait_text(pilot, f"task id {keys[table.cursor_row]}")  # the detail line: in full


@pytest.mark.parametrize("size", SIZES)
async def test_recording_is_shown_on_screen(unlimited_cluster, tmp_path: Path, size) -> None:
    cluster, _ = unlimited_cluster
    path = tmp_path / "night.rec"
    writer = RecordingWriter.create(path, address=cluster.scheduler_address, interval=0.3)
    app = AttachApp(cluster.scheduler_address, poll_interval=0.3, call_timeout=5.0, no_ai=True, recorder=writer)
    async with app.run_test(size=size) as pilot:
        await _connected(pilot, app)
        text = await wait_text(pilot, "● recording to")
        if size[0] >= 160:
            assert f"● recording to {path}" in text
        await pilot.press("3")
        await wait_text(pilot, "● recording to")


async def test_demo_jobs_screen_says_the_cluster_is_not_slurm(unlimited_cluster) -> None:
    from scalable_tui.cli import build_parser, demo_app

    cluster, _ = unlimited_cluster
    args = build_parser().parse_args(["demo", "--no-ai", "--poll-interval", "0.3"])
    app = demo_app(cluster.scheduler_address, args)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.live is not None and app.live.connected, 30, "connected")
        await pilot.press("7")
        text = await wait_text(pilot, "not a Slurm cluster (LocalCluster)")
        assert "squeue" not in text


async def test_the_footer_counts_the_tasks_the_overview_counts_as_tasks_come_and_go(unlimited_cluster) -> None:
    """The footer kept the diagnosis's task total, redone only when failures change: 97 beside the Overview's 99."""
    from distributed import Client, wait

    from scalable_tui.tui.widgets.status import StatusLine

    cluster, _ = unlimited_cluster
    app = AttachApp(cluster.scheduler_address, poll_interval=0.3, call_timeout=5.0, no_ai=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await _connected(pilot, app)
        before = sum(app.live.task_totals().values())
        with Client(cluster.scheduler_address, set_as_default=False) as client:  # new tasks, no new failure
            more = client.map(abs, range(-7, 0), pure=False)
            with client.as_current():
                wait(more, timeout=60)
            await wait_for(pilot, lambda: sum(app.live.task_totals().values()) >= before + 7, 30, "7 more tasks")
            n = sum(app.live.task_totals().values())
            await wait_for(pilot, lambda: f"  ·  {n} tasks" in str(app.screen.query_one(StatusLine).render()), 10,
                           f"the footer at {n} tasks")
            assert app.snapshot.diagnosis.tasks_total < n  # the diagnosis was not redone: the footer must not use it

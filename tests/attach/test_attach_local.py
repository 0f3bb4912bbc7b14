"""Pilot tests of AttachApp against a real LocalCluster with worker processes."""

from __future__ import annotations

import pytest

from scalable_tui.tui.attach import AttachApp
from scalable_tui.tui.screens.failure_detail import FailureDetailScreen
from scalable_tui.tui.screens.failure_group import FailureGroupScreen
from scalable_tui.demo import workload
from tests.app.helpers import screen_text, wait_for, wait_text

pytestmark = [pytest.mark.slow, pytest.mark.anyio]


def _submit(client):
    from distributed import wait

    inputs = client.map(workload.load_inputs, range(40), pure=False)
    gcam = client.map(workload.run_gcam, inputs, pure=False)
    with client.as_current():
        wait(gcam, timeout=90)
    return inputs + gcam


async def test_failures_grouped_with_tracebacks_and_workers_match(demo_cluster) -> None:
    import asyncio

    cluster, client = demo_cluster
    app = AttachApp(cluster.scheduler_address, poll_interval=0.3, call_timeout=5.0, no_ai=True)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.live is not None and app.live.connected, 20, "connected")
        futures = await asyncio.to_thread(_submit, client)
        inputs, gcam = futures[:40], futures[40:]
        # the tasks that raised (a run_gcam whose input failed only erred because of it)
        roots = {f.key: type(f.exception()).__name__ for f in inputs if f.status == "error"}
        roots.update({g.key: type(g.exception()).__name__ for f, g in zip(inputs, gcam)
                      if g.status == "error" and f.status != "error"})
        assert {"FileNotFoundError", "KeyError", "ValueError"} <= set(roots.values())
        await wait_for(pilot, lambda: {f.key for f in app.live.failures} == set(roots)
                       and app.snapshot is not None and app.snapshot.diagnosis.failures_total == len(roots),
                       30, "failures")
        assert {f.key: f.exception_type for f in app.live.failures} == roots

        # Failures: grouped by the assistant's signature
        await pilot.press("3")
        text = await wait_text(pilot, "KeyError")
        assert "FileNotFoundError" in text and "missing_file" in text and "invalid_input" in text
        groups = app.snapshot.failure_findings()
        assert len(groups) >= 3 and sum(g.count for g in groups) == len(app.live.failures)
        # drill down: group -> failure -> traceback
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FailureGroupScreen), 5, "group screen")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FailureDetailScreen), 5, "detail screen")
        text = await wait_text(pilot, "Traceback")
        assert "File " in text and "workload.py" in text
        await pilot.press("escape", "escape")

        # Workers: the table matches scheduler_info()
        await pilot.press("5")
        info = client.scheduler_info(n_workers=-1)["workers"]
        await wait_for(pilot, lambda: {w.address for w in app.live.alive_workers} == set(info), 10, "workers")
        text = await wait_text(pilot, "2 workers alive")
        ours = {(w.name, w.address, w.nthreads, w.memory_limit, w.host, w.status) for w in app.live.alive_workers}
        theirs = {(str(w["name"]), a, w["nthreads"], w["memory_limit"], w["host"], w["status"]) for a, w in info.items()}
        assert ours == theirs
        for a, w in info.items():
            assert a.split("://")[-1] in text
        assert "/1.0 GiB" in text  # the memory bar's limit

        # Tasks: per prefix counts, Events, Overview; / filter on Tasks
        await pilot.press("2")
        text = await wait_text(pilot, "run_gcam")
        assert "load_inputs" in text and "erred" in text
        await pilot.press("slash")
        await pilot.press(*"gcam")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "load_inputs" not in screen_text(app), 5, "filtered")
        await pilot.press("escape")
        await pilot.press("1")
        text = await wait_text(pilot, "Failures by category")
        assert "missing_file" in text and "read-only" in text and "connected" in text
        client.cancel(futures)


async def test_debug_locally_replays_the_task_and_says_why_not(demo_cluster) -> None:
    import asyncio

    from distributed import wait

    from scalable_tui.session.debug import DebugUnavailable, fetch_task, replay
    from scalable_tui.tui.screens.live_debug import ConfirmDebugScreen

    cluster, client = demo_cluster
    inp = client.submit(workload.load_inputs, 3, pure=False)
    fut = client.submit(workload.run_gcam, inp, pure=False)  # scenario 3: KeyError
    with client.as_current():
        await asyncio.to_thread(wait, [fut], 60)
    assert fut.status == "error"

    seen = []
    job = await asyncio.to_thread(fetch_task, cluster.scheduler_address, fut.key)
    msg = await asyncio.to_thread(replay, job, lambda tb: seen.append(tb))
    assert seen and "KeyError" in msg and fut.key in msg
    frames = []
    tb = seen[0]
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    assert "_solve" in frames  # the debugger opens in the task's own code

    try:
        await asyncio.to_thread(fetch_task, cluster.scheduler_address, "no-such-task-123")
    except DebugUnavailable as e:
        assert "no longer holds" in str(e)
    else:
        raise AssertionError("a forgotten task cannot be replayed")

    # in the app: D on a failure asks first (n cancels; nothing fetched)
    app = AttachApp(cluster.scheduler_address, poll_interval=0.3, call_timeout=5.0, no_ai=True)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and any(
            f.key == fut.key for f in app.live.failures), 20, "the failure")
        await pilot.press("3")
        await wait_text(pilot, "KeyError")
        await pilot.press("D")
        await wait_for(pilot, lambda: any("open a failed task first" in n.message for n in app._notifications),
                       5, "the hint")
        await pilot.press("enter", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FailureDetailScreen), 5, "detail")
        await pilot.press("D")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDebugScreen), 5, "confirmation")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, FailureDetailScreen), 5, "back on the failure")
    client.cancel([fut, inp])

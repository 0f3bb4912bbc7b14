"""Attach to a real scheduler whose client released some failed futures: the Overview says why its
"N task failures" and the scheduler's "M erred" differ (real plugin count, real AttachApp)."""

from __future__ import annotations

import pytest

from scalable_tui.tui.attach import AttachApp
from tests.app.helpers import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.anyio]


def downscale(i: int) -> int:
    raise ValueError(f"scenario {i} has no downscaling table")


def stitch(x: int) -> int:
    return x


async def test_overview_says_released_failures_and_failed_inputs_in_words() -> None:
    import asyncio

    from distributed import Client, LocalCluster, wait

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, host="127.0.0.1", protocol="tcp://",
                      dashboard_address=None) as cluster, Client(cluster, set_as_default=False) as client:
        futures = client.map(downscale, range(6), pure=False)
        dependent = client.submit(stitch, futures[5], pure=False)  # errs because its input did
        with client.as_current():
            await asyncio.to_thread(wait, [*futures, dependent], timeout=60)
        app = AttachApp(cluster.scheduler_address, poll_interval=0.3, call_timeout=5.0, no_ai=True)
        async with app.run_test(size=(160, 48)) as pilot:
            def tasks_block() -> str:
                return str(app.screen.query_one("#lv-tasks").content)

            await wait_for(pilot, lambda: app.live is not None and app.live.failures_total == 6, 30, "6 failures")
            await wait_for(pilot, lambda: "1 of the scheduler's 7 erred is a task whose input failed" in tasks_block(),
                           30, "the dependent explained")
            assert "6 task failures seen since attach (6 still erred on the scheduler)" in tasks_block()
            # the client lets go of two failed tasks: the scheduler forgets them, the monitor does not
            futures[0].release()
            futures[1].release()
            await wait_for(pilot, lambda: "2 released or retried" in tasks_block(), 30, "released said")
            assert ("6 task failures seen since attach (4 still erred on the scheduler; 2 released or retried); "
                    "1 of the scheduler's 5 erred is a task whose input failed") in tasks_block()
            assert "5 erred" in tasks_block()
            # the dependent is let go too: the scheduler holds no task whose input failed now, but one erred
            # since attach; the two counts are said as what they are, not side by side as one number
            dependent.release()
            await wait_for(pilot, lambda: "whose input failed" not in tasks_block(), 30, "the dependent forgotten")
            assert "1 dependent erred since attach" in tasks_block()
            assert "6 task failures seen since attach (4 still erred on the scheduler; 2 released or retried)" \
                in tasks_block()

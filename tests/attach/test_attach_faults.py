"""Fault injection with the scheduler in its own process (``dask scheduler`` / ``dask worker`` on 127.0.0.1).

SIGKILL a worker -> its departure and reason show (Workers, Events); SIGSTOP the
scheduler -> the UI keeps answering keys and says disconnected; SIGCONT -> it
resumes; SIGKILL the scheduler -> the final state stays, with a clean message.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from scalable_tui.tui.attach import AttachApp
from scalable_tui.tui.fmt import clock
from tests.app.helpers import screen_text, wait_for, wait_text
from tests.attach.conftest import Procs

pytestmark = [pytest.mark.slow, pytest.mark.anyio]


async def _switch_quickly(pilot, key: str, needle: str, limit: float = 1.5) -> None:
    """A screen switch shows ``needle`` within ``limit`` seconds (the UI is not blocked)."""
    t = time.monotonic()
    await pilot.press(key)
    await wait_for(pilot, lambda: needle in screen_text(pilot.app), limit, f"{needle!r} after pressing {key}")
    assert time.monotonic() - t < limit


async def test_worker_kill_and_scheduler_stop_cont_kill(procs: Procs) -> None:
    address, sched = procs.scheduler()
    procs.workers("--nworkers", "2", "--name", "w", name="w")
    procs.workers("--no-nanny", "--name", "solo", name="solo")
    app = AttachApp(address, poll_interval=0.5, call_timeout=1.0, no_ai=True)
    async with app.run_test(size=(150, 40)) as pilot:
        await wait_for(pilot, lambda: app.live is not None and {"w-0", "w-1", "solo"} <= {
            w.key for w in app.live.alive_workers}, 40, "3 workers")
        await pilot.press("5")
        await wait_text(pilot, "3 workers alive, 0 departed")

        # SIGKILL a nanny-managed worker: it leaves (reason shown in Events) and comes back
        w0 = app.live.workers["w-0"]
        old_addr = w0.address
        os.kill(w0.pid, signal.SIGKILL)
        await wait_for(pilot, lambda: app.live.workers["w-0"].restarts >= 1 and app.live.workers["w-0"].alive,
                       30, "w-0 restarted")
        await pilot.press("6")
        text = await wait_text(pilot, f"({old_addr}) left")
        assert "exited or the connection to it was lost" in text

        # SIGKILL a worker without a nanny: it stays in the Workers table, dimmed, with when and why
        os.kill(app.live.workers["solo"].pid, signal.SIGKILL)
        await wait_for(pilot, lambda: not app.live.workers["solo"].alive, 30, "solo departed")
        await pilot.press("5")
        text = await wait_text(pilot, "2 workers alive, 1 departed")
        row = next(line for line in text.splitlines() if line.strip().startswith("solo"))
        assert "left" in row and "the worker process exited" in row
        # the highlighted worker in full under the table (the column is cut at narrow widths)
        screen = app.screen
        solo_row = next(i for i, w in enumerate(screen.items) if w.key == "solo")
        screen.query_one("#live-table").move_cursor(row=solo_row)
        solo = app.live.workers["solo"]
        detail = await wait_text(pilot, "left at ")
        assert solo.address in detail and f"left at {clock(solo.left_at)}: {solo.left_reason}" in detail
        n_failures, n_workers = len(app.live.failures), len(app.live.workers)

        # SIGSTOP the scheduler: disconnected shown, screens still switch at once, last data kept
        os.kill(sched.pid, signal.SIGSTOP)
        try:
            await wait_text(pilot, "disconnected since", timeout=15)
            await _switch_quickly(pilot, "1", "Failures by category")
            await _switch_quickly(pilot, "6", "newest first")
            await _switch_quickly(pilot, "5", "2 workers alive, 1 departed")
            assert len(app.live.workers) == n_workers and len(app.live.failures) == n_failures
            assert "last data kept" in screen_text(app)
        finally:
            os.kill(sched.pid, signal.SIGCONT)
        # SIGCONT: connected again, nothing duplicated
        app.action_reconnect()
        await wait_text(pilot, "connected to", timeout=20)
        assert len(app.live.workers) == n_workers
        assert app.live.event_counts.get("reconnected", 0) >= 1

        # SIGKILL the scheduler: a clean message, the final state stays on screen
        os.kill(sched.pid, signal.SIGKILL)
        sched.wait(10)
        text = await wait_text(pilot, "disconnected since", timeout=20)
        await wait_for(pilot, lambda: app.live.link == "down", 20, "link down")
        assert "2 workers alive, 1 departed" in screen_text(app)
        await _switch_quickly(pilot, "1", "Failures by category")
        text = screen_text(app)
        assert "down" in text and "last data kept" in text and "Traceback" not in text
        await _switch_quickly(pilot, "6", "scheduler")

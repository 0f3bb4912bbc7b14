"""The adaptive call timeout against a real ``dask scheduler`` process that stops answering for a while.

Deterministic: the scheduler is SIGSTOPped for exactly one poll (SIGCONT is sent
when that poll has returned), which is what a scheduler busy for a few seconds
looks like from outside.  With the old rule (fixed 3 s, one miss = disconnected)
this raised a "disconnected" alarm; now it is "slow" and the next poll, which
waits longer, finds the scheduler again without any alarm.
"""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from scalable_tui.sources.live.source import LiveSource
from tests.live.conftest import Procs, until

pytestmark = pytest.mark.slow


def test_one_stalled_poll_is_slow_not_disconnected(procs: Procs) -> None:
    address, sched = procs.scheduler()
    procs.workers("--name", "w", name="w")

    async def scenario() -> None:
        src = LiveSource(address, poll_interval=0.5, call_timeout=None)  # auto: at least 3 s
        try:
            await src.start()
            snap = await until(src, lambda s: s.connected and "w" in s.workers, what="worker w")
            assert src.timeout_policy.adaptive and src.call_timeout == 3.0  # a quick scheduler: the floor
            os.kill(sched.pid, signal.SIGSTOP)
            try:
                stalled = await src.poll(force=True)
            finally:
                os.kill(sched.pid, signal.SIGCONT)
            assert stalled.connected and stalled.link == "slow"
            assert stalled.workers["w"].alive  # last known data kept
            assert src.call_timeout == 6.0  # the next call waits longer
            back = await src.poll(force=True)
            assert back.connected and back.link == "ok", back.disconnect_reason
            assert not back.event_counts.get("disconnected") and not back.event_counts.get("reconnected")
            assert src.call_timeout == 3.0

            # stalled for two polls in a row: that is the alarm, once
            os.kill(sched.pid, signal.SIGSTOP)
            try:
                first = await src.poll(force=True)
                second = await src.poll(force=True)
            finally:
                os.kill(sched.pid, signal.SIGCONT)
            assert first.connected and first.link == "slow"
            assert not second.connected and second.link == "unresponsive"
            assert second.event_counts["disconnected"] == 1
            snap = await until(src, lambda s: s.connected, what="resume")
            assert snap.event_counts["reconnected"] == 1 and snap.event_counts["disconnected"] == 1
        finally:
            await src.close()

    asyncio.run(scenario())

"""Fault injection against a scheduler in its own process (``dask scheduler``/``dask worker``).

The scheduler cannot import ``scalable_tui`` (see ``conftest.BLOCK``): the
monitor plugin gets there by value.  Work is submitted by a separate process
(``workload.py``), never by the monitor.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time

import pytest

from assistant.diagnose import diagnose_state
from scalable_tui.sources.live.source import LiveSource
from tests.live.conftest import PY, WORKLOAD, Procs, until

pytestmark = pytest.mark.slow


def test_worker_kill_scheduler_stop_and_kill(procs: Procs) -> None:
    address, sched = procs.scheduler()
    procs.workers("--nworkers", "2", "--name", "w", name="w")
    procs.workers("--no-nanny", "--name", "solo", name="solo")

    async def scenario() -> None:
        src = LiveSource(address, poll_interval=0.5, call_timeout=1.0, max_backoff=1.0)
        try:
            snap = await src.start()
            assert snap.mode == "plugin", snap.notices  # installed by value: the scheduler has no scalable_tui
            snap = await until(src, lambda s: {"w-0", "w-1", "solo"} <= {w.key for w in s.alive_workers},
                               what="3 workers")

            # failures submitted by someone else, with tracebacks
            sub, info = await asyncio.to_thread(procs.workload, address, "fail", "10")
            keys = info["keys"]
            snap = await until(src, lambda s: keys.keys() <= {f.key for f in s.failures}, what="failures")
            assert all(f.traceback and "in bad" in f.traceback for f in snap.failures)

            # SIGKILL a worker process that is running a task: departure + reason, nanny brings it back
            await asyncio.to_thread(procs.workload, address, "hold", "w-0")
            snap = await until(src, lambda s: s.workers["w-0"].processing == 1, what="task on w-0")
            old_addr, pid = snap.workers["w-0"].address, snap.workers["w-0"].pid
            os.kill(pid, signal.SIGKILL)
            snap = await until(src, lambda s: s.workers["w-0"].restarts >= 1 and s.workers["w-0"].alive,
                               what="w-0 restarted")
            w0 = snap.workers["w-0"]
            assert old_addr in w0.previous_addresses and w0.address != old_addr and w0.pid != pid
            gone = [e for e in snap.events if e.kind == "worker-removed" and e.address == old_addr]
            assert gone and "exited or the connection to it was lost" in gone[0].text
            assert gone[0].details["unexpected"] and gone[0].details["processing"] == 1

            # SIGKILL a worker without a nanny: it stays listed as departed, with when and why
            os.kill(snap.workers["solo"].pid, signal.SIGKILL)
            snap = await until(src, lambda s: not s.workers["solo"].alive, what="solo departed")
            solo = snap.workers["solo"]
            assert solo.status == "left" and solo.left_at and "connection to it was lost" in solo.left_reason
            n_fail, n_workers = len(snap.failures), len(snap.workers)

            # SIGSTOP the scheduler: every poll returns in bounded time, last data kept;
            # one late reply is "slow" (no alarm), the second in a row is "disconnected"
            os.kill(sched.pid, signal.SIGSTOP)
            t = time.monotonic()
            t_first = time.time()
            stopped = await src.poll(force=True)
            assert time.monotonic() - t < 2.5
            assert stopped.connected and stopped.link == "slow" and not stopped.event_counts.get("disconnected")
            t = time.monotonic()
            stopped = await src.poll(force=True)
            assert time.monotonic() - t < 2.5
            assert not stopped.connected and stopped.link == "unresponsive" and stopped.disconnect_reason
            assert t_first <= stopped.disconnected_since < t_first + 2.5  # since the first missed reply
            since = stopped.disconnected_since
            stopped = await src.poll(force=True)
            assert stopped.link == "unresponsive" and stopped.disconnected_since == since
            assert "disconnected since" in stopped.status_line()
            assert len(stopped.failures) == n_fail and len(stopped.workers) == n_workers
            assert stopped.workers["w-0"].alive  # last known data, not wiped

            # SIGCONT: resumes, nothing duplicated; new failures still arrive once
            os.kill(sched.pid, signal.SIGCONT)
            snap = await until(src, lambda s: s.connected, what="resume")
            assert snap.events[-1].kind == "reconnected" and snap.link == "ok"
            sub2, info2 = await asyncio.to_thread(procs.workload, address, "fail", "5")
            snap = await until(src, lambda s: info2["keys"].keys() <= {f.key for f in s.failures}, what="more")
            snap = await src.poll(force=True)
            ks = [f.key for f in snap.failures]
            assert len(ks) == len(set(ks)) == n_fail + 5 and snap.failures_total == n_fail + 5

            # SIGKILL the scheduler: a clean disconnected state, the final data stays
            os.kill(sched.pid, signal.SIGKILL)
            for _ in range(2):
                t = time.monotonic()
                final = await src.poll(force=True)
                assert time.monotonic() - t < 2.5
            assert not final.connected and final.link == "down" and "refused" in final.disconnect_reason
            assert len(final.failures) == n_fail + 5 and final.workers["solo"].left_reason
            state = final.to_run_state()
            assert state.meta.status == "finished"
            diag = diagnose_state(state)
            assert diag.failures_total >= n_fail + 5
            assert "worker_lost" in {f.category for f in diag.findings}  # the SIGKILLed workers

            # a new scheduler on the same address: history kept, cursors reset, plugin installed again
            old_id = final.scheduler_id
            port = int(address.rsplit(":", 1)[1])
            new_address, _ = await asyncio.to_thread(procs.scheduler, port=port)
            assert new_address == address
            procs.workers("--name", "z", name="z")
            snap = await until(src, lambda s: s.connected and s.scheduler_id != old_id, what="new scheduler")
            assert snap.mode == "plugin" and any(e.kind == "scheduler-restarted" for e in snap.events)
            assert not snap.workers["solo"].alive and snap.workers["w-1"].left_reason
            sub3, info3 = await asyncio.to_thread(procs.workload, address, "fail", "3")
            snap = await until(src, lambda s: info3["keys"].keys() <= {f.key for f in s.failures}, what="new run")
            ks = [f.key for f in snap.failures]
            assert len(ks) == len(set(ks)) == n_fail + 8
            assert {f.scheduler_id for f in snap.failures} == {old_id, snap.scheduler_id}
        finally:
            await src.close()

    asyncio.run(scenario())


def test_memory_kill_gives_worker_memory_finding(procs: Procs) -> None:
    address, _ = procs.scheduler()
    procs.workers("--name", "mem", "--memory-limit", "300MB", "--resources", "MEM=1", name="mem")

    async def scenario() -> None:
        # the other payload: the plugin as source text (works across Python versions)
        src = LiveSource(address, poll_interval=0.5, call_timeout=2.0, payload="source")
        try:
            snap = await src.start()
            assert snap.mode == "plugin", snap.notices
            await until(src, lambda s: "mem" in s.workers and s.workers["mem"].alive, what="mem worker")
            # not procs.workload(): its READY line only comes after the task failed
            sub = procs.spawn([PY, str(WORKLOAD), address, "hog", "1000"], "workload-hog", stdin=subprocess.PIPE)
            snap = await until(src, lambda s: any(f.exception_type == "KilledWorker" for f in s.failures),
                               timeout=60, what="KilledWorker")
            sub.stdin.close()
            kinds = [e.kind for e in snap.events]
            assert kinds.count("worker-restart-memory") >= 1 and "killed-worker" in kinds
            mem = snap.workers["mem"]
            assert mem.memory_kills >= 1 and mem.restarts >= 1
            kw = next(f for f in snap.failures if f.exception_type == "KilledWorker")
            assert kw.key == "hog-1" and kw.suspicious == 4 and kw.killed_workers == ["mem"] * 4
            diag = diagnose_state(snap.to_run_state())
            finding = next(f for f in diag.findings if "KilledWorker" in f.exception_types)
            assert finding.category == "worker_memory", (finding.category, finding.matched)
            assert finding.task_ids == ["hog-1"] and finding.workers == ["mem"]
            assert "memory budget" in finding.example_message
        finally:
            await src.close()

    asyncio.run(scenario())

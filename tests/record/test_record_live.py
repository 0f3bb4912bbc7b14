"""``scalable-tui record`` (a real process) on real schedulers, then replay and diagnosis of the file."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path

import psutil
import pytest

from assistant.diagnose import diagnose_state
from scalable_tui.sources.live.source import LiveSource
from scalable_tui.sources.recording.reader import Recording
from tests.conftest import run_cli
from tests.live import workload
from tests.record.conftest import PY, Procs, until, wait_recording

pytestmark = pytest.mark.slow


def _recorder(procs: Procs, address: str, out: Path, *args: str):
    return procs.spawn([PY, "-m", "scalable_tui", "record", address, "--out", str(out), *args], "recorder")


def _findings(diag) -> set[tuple]:
    return {(f.category, f.severity, f.count, tuple(f.exception_types), tuple(sorted(f.task_ids)),
             tuple(sorted(f.workers))) for f in diag.findings}


def test_record_failures_and_a_killed_worker_then_replay(local_cluster, procs: Procs, tmp_path: Path) -> None:
    cluster, client = local_cluster
    from distributed import wait

    out = tmp_path / "night.rec"
    rec_proc = _recorder(procs, cluster.scheduler_address, out, "--interval", "0.3")
    futures: list = []

    def submit(tag: str, n: int) -> None:
        bads = client.map(workload.bad, range(n), pure=False, key=[f"{tag}-{i}" for i in range(n)])
        futures.extend(bads)
        with client.as_current():
            wait(bads, timeout=60)

    async def scenario():
        src = LiveSource(cluster.scheduler_address, poll_interval=0.3, call_timeout=5.0)  # what `attach` shows
        try:
            await src.start()
            snap = await until(src, lambda s: len(s.alive_workers) == 2, what="2 workers")
            wait_recording(out, lambda r: len(r.state_at(r.end).alive_workers) == 2, what="recording has workers")
            t_submit = time.time()
            await asyncio.to_thread(submit, "early", 5)
            await until(src, lambda s: sum(f.prefix == "early" for f in s.failures) == 5, what="5 failures")
            wait_recording(out, lambda r: r.n_failures == 5, what="recording has the 5 failures")
            # SIGKILL one worker process midway (its nanny brings it back)
            victim = sorted(snap.workers)[0]
            old_addr, pid = snap.workers[victim].address, snap.workers[victim].pid
            t_kill = time.time()
            psutil.Process(pid).kill()
            await until(src, lambda s: s.workers[victim].restarts >= 1 and s.workers[victim].alive,
                        what="worker back", timeout=60)
            await asyncio.to_thread(submit, "late", 5)
            await until(src, lambda s: sum(f.prefix == "late" for f in s.failures) == 5, what="late failures")
            live = await src.poll(force=True)
            # the recording caught up with everything the live view has
            wait_recording(out, lambda r: r.n_failures == len(live.failures)
                           and len(r.worker_deaths()) == 1 and r.state_at(r.end).workers[victim].alive,
                           what="recording caught up")
            return live, victim, old_addr, t_submit, t_kill
        finally:
            await src.close()

    live, victim, old_addr, t_submit, t_kill = asyncio.run(scenario())
    live_diag = diagnose_state(live.to_run_state())
    rec_proc.send_signal(signal.SIGTERM)
    assert rec_proc.wait(30) == 0
    log = (tmp_path / "recorder.log").read_text().strip().splitlines()
    assert log and "recorded" in log[-1] and "stopped by SIGTERM" in log[-1] and "5 failure" not in log[-1], log
    assert "10 failure(s), 1 worker death(s)" in log[-1], log

    with Recording(out) as rec:
        assert rec.status == "stopped" and rec.meta["scheduler_ids"] == [live.scheduler_id]
        # failures: none before the submit, all of them after; each at its moment
        assert not rec.state_at(t_submit).failures
        first = rec.next_failure_after(t_submit)
        assert first is not None and first.item.prefix == "early" and first.t >= t_submit
        assert first.item.first_seen >= t_submit - 1 and first.item.traceback and "in bad" in first.item.traceback
        at_kill = rec.state_at(t_kill)
        assert {f.prefix for f in at_kill.failures} == {"early"} and len(at_kill.failures) == 5
        # the worker death: alive at its old address before, departed or back at a new one after
        w = at_kill.workers[victim]
        assert w.alive and w.address == old_addr and w.restarts == 0
        death = rec.next_worker_death_after(t_kill)
        assert death is not None and death.item.worker == victim and death.item.address == old_addr
        assert t_kill - 1 <= death.item.ts <= death.t and death.item.details["unexpected"]
        after = rec.state_at(death.t).workers[victim]
        assert (not after.alive and after.left_reason) or (after.restarts >= 1 and old_addr in after.previous_addresses)
        before = rec.state_at(rec.times()[rec.times().index(death.t) - 1]).workers[victim]
        assert before.alive and before.address == old_addr
        assert rec.next_worker_death_after(death.t) is None
        late = rec.next_failure_after(death.t)
        assert late is not None and late.item.prefix == "late" and late.t > death.t
        end = rec.state_at(rec.end)
        assert len(end.failures) == 10 and end.workers[victim].restarts >= 1
        assert {k: v for k, v in end.prefixes["late"].as_dict().items() if v} == \
               {k: v for k, v in live.prefixes["late"].as_dict().items() if v}
        # the assistant on the whole recording == the assistant on the live snapshot
        rec_diag = diagnose_state(rec.whole_run_state())
        assert _findings(rec_diag) == _findings(live_diag)
        assert "worker_lost" in {f.category for f in rec_diag.findings}
        assert rec_diag.failures_total == live_diag.failures_total == 11

    # diagnose FILE.rec in the three formats
    js = run_cli("diagnose", str(out), "--format", "json", "--no-ai")
    assert js.returncode == 0, js.stderr
    doc = json.loads(js.stdout)
    assert doc["failures_total"] == 11 and {f["category"] for f in doc["findings"]} == \
           {f.category for f in live_diag.findings}
    md = run_cli("diagnose", str(out), "--format", "markdown", "--no-ai")
    assert md.returncode == 0 and "worker_lost" in md.stdout and "FileNotFoundError" in md.stdout
    txt = run_cli("diagnose", str(out), "--no-ai")
    assert txt.returncode == 0 and "11 failures" in txt.stdout, txt.stdout
    client.cancel(futures)


def test_sigkill_mid_write_then_scheduler_gone(procs: Procs, tmp_path: Path) -> None:
    address, sched = procs.scheduler()
    procs.workers("--nworkers", "2", "--name", "w", name="w")
    out = tmp_path / "killed.rec"
    rec_proc = _recorder(procs, address, out, "--interval", "0.05")
    seen = wait_recording(out, lambda r: len(r) >= 40 and len(r.state_at(r.end).alive_workers) == 2,
                          what="40 frames with 2 workers")
    os.kill(rec_proc.pid, signal.SIGKILL)
    rec_proc.wait(10)
    with Recording(out) as rec:
        assert len(rec) >= seen["frames"] and rec.status == "incomplete"
        snap = rec.state_at(rec.end)
        assert {"w-0", "w-1"} <= {w.key for w in snap.alive_workers} and snap.connected
        assert rec.whole_run_state().meta.status == "incomplete"
        n = len(rec)

    # --append continues it; the scheduler goes away and the recorder ends on its own (exit 0)
    rec2 = _recorder(procs, address, out, "--interval", "0.1", "--append", "--give-up-after", "0")
    wait_recording(out, lambda r: len(r) > n + 5, what="appended frames")
    os.kill(sched.pid, signal.SIGKILL)
    assert rec2.wait(30) == 0
    log = (tmp_path / "recorder.log").read_text().strip().splitlines()
    assert "scheduler gone" in log[-1], log
    # said when it happened, not only in the closing line (it used to say nothing until the give-up)
    assert any(x.startswith(f"scalable-tui: lost the scheduler at {address} (") for x in log), log
    with Recording(out) as rec:
        assert rec.status == "finished" and len(rec.meta["sessions"]) == 2
        assert not rec.state_at(rec.end).connected
        assert rec.n_events == len({(e.kind, e.address, e.text) for e in rec.events_between(0, 2e9)})

"""A long night: worker deaths stay failures after thousands of later events.

The snapshot keeps a display window of the newest 5,000 events.  Deaths used
to be counted from that window only, so on a night of adaptive scaling (every
worker joining and leaving is an event) an early death slid out of it and the
failure count went *down*.  Deaths and graph errors now live in their own
list (``LiveSnapshot.incidents``), live and in recordings.
"""

from __future__ import annotations

import time
from pathlib import Path

from scalable_tui.session.pipeline import diagnose_live
from scalable_tui.sources.live.ingest import SnapshotFolder
from scalable_tui.sources.recording.reader import Recording
from scalable_tui.sources.recording.writer import RecordingWriter

DEAD = "tcp://127.0.0.1:4999"
CHURN = 6000  # more than the 5,000-event display window


def _night(folder: SnapshotFolder, t0: float) -> None:
    """One worker dies unexpectedly, then thousands of workers come and go cleanly."""
    folder._ingest_plugin_event({"kind": "worker-added", "worker": DEAD, "name": "w-dead", "t": t0})
    folder._ingest_plugin_event({"kind": "worker-removed", "worker": DEAD, "name": "w-dead", "t": t0 + 1,
                                 "expected": False, "prev_status": "running", "stimulus": "worker-close"})
    for i in range(CHURN // 2):
        addr = f"tcp://127.0.0.1:{20000 + i}"
        folder._ingest_plugin_event({"kind": "worker-added", "worker": addr, "name": f"w-{i}", "t": t0 + 2 + i})
        folder._ingest_plugin_event({"kind": "worker-removed", "worker": addr, "name": f"w-{i}", "t": t0 + 3 + i,
                                     "expected": True, "prev_status": "closing_gracefully"})


def test_an_early_death_is_still_a_failure_after_the_event_window_slid_past_it() -> None:
    folder = SnapshotFolder("tcp://127.0.0.1:8786")
    folder._sched_id = "Scheduler-1"
    _night(folder, time.time() - 10_000)
    snap = folder._snap.copy()
    assert len(snap.events) == 5000 and snap.events_dropped > 0
    assert not any(e.kind == "worker-removed" and e.details.get("unexpected") for e in snap.events)

    state, diag = diagnose_live(snap)

    assert [f.failure_class for f in state.failures] == ["WorkerDied"]
    assert (diag.failures_total, diag.worker_deaths) == (1, 1)
    assert "w-dead" in state.failures[0].message or "w-dead" in (state.failures[0].worker or "")


def test_a_recording_keeps_the_early_death_in_replay_and_in_the_whole_night(tmp_path: Path) -> None:
    folder = SnapshotFolder("tcp://127.0.0.1:8786")
    folder._sched_id = "Scheduler-1"
    t0 = time.time() - 10_000
    snap = folder._snap
    snap.scheduler_id, snap.connected, snap.link = "Scheduler-1", True, "ok"
    path = tmp_path / "night.rec"
    w = RecordingWriter.create(path, address=snap.address, interval=1.0, keyframe_every=16)
    folder._ingest_plugin_event({"kind": "worker-added", "worker": DEAD, "name": "w-dead", "t": t0})
    folder._ingest_plugin_event({"kind": "worker-removed", "worker": DEAD, "name": "w-dead", "t": t0 + 1,
                                 "expected": False, "prev_status": "running", "stimulus": "worker-close"})
    snap.last_poll_ok = t0 + 1
    w.write(snap.copy(), t=t0 + 1)
    for step in range(3):  # the churn over three frames, 2,000 events each
        for i in range(step * 1000, (step + 1) * 1000):
            addr = f"tcp://127.0.0.1:{20000 + i}"
            folder._ingest_plugin_event({"kind": "worker-added", "worker": addr, "name": f"w-{i}", "t": t0 + 2 + i})
            folder._ingest_plugin_event({"kind": "worker-removed", "worker": addr, "name": f"w-{i}",
                                         "t": t0 + 3 + i, "expected": True, "prev_status": "closing_gracefully"})
        snap.last_poll_ok = t0 + 2000 * (step + 1)
        w.write(snap.copy(), t=t0 + 2000 * (step + 1))
    w.close("scheduler closed")

    rec = Recording(path)
    try:
        last = rec.state_at(rec.end)
        assert len(last.events) == 5000  # the replay's display window, without the death
        _, diag = diagnose_live(last)
        assert diag.worker_deaths == 1 and diag.failures_total == 1
        whole = rec.whole_run_state()
        assert [f.failure_class for f in whole.failures] == ["WorkerDied"]
    finally:
        rec.close()


def test_a_restarted_scheduler_does_not_make_the_night_forget_the_first_ones_tasks() -> None:
    """Attach across a scheduler restart: totals are both schedulers' (before: only the new one's),
    and what the old one left unfinished is counted as lost, not as still waiting."""
    from scalable_tui.model.live import PrefixCounts

    folder = SnapshotFolder("tcp://127.0.0.1:8786")
    folder._sched_id = "Scheduler-old"
    snap = folder._snap
    snap.prefixes = {"run_gcam": PrefixCounts(name="run_gcam", memory=500, erred=25, processing=4, waiting=6)}
    folder._new_scheduler("Scheduler-new")
    snap.prefixes = {"run_gcam": PrefixCounts(name="run_gcam", memory=40, erred=2, waiting=8)}

    _, diag = diagnose_live(snap.copy())

    assert {k: v for k, v in diag.tasks.items() if v} == {"memory": 540, "erred": 27, "waiting": 8, "lost": 10}
    assert diag.tasks_total == 585 and diag.unfinished == 8
    from assistant.render import render_text

    assert "Tasks: 585 total · 540 memory · 27 erred · 8 waiting · 10 lost with an earlier scheduler" in render_text(diag)


def test_the_overview_counts_what_the_diagnosis_counts_across_a_restart(tmp_path: Path) -> None:
    """Recorded across a restart, replayed: the Overview says 585 tasks with the lost ones named, as
    ``diagnose`` does (before: only the new scheduler's 50, and states like no-worker left out of the parts)."""
    import asyncio

    from scalable_tui.model.live import PrefixCounts
    from scalable_tui.tui.replay import ReplayApp
    from tests.app.helpers import wait_text

    folder = SnapshotFolder("tcp://127.0.0.1:8786")
    folder._sched_id = "Scheduler-old"
    snap = folder._snap
    snap.scheduler_id, snap.connected, snap.link = "Scheduler-old", True, "ok"
    t0 = time.time() - 100
    path = tmp_path / "restart.rec"
    w = RecordingWriter.create(path, address=snap.address, interval=1.0)
    snap.prefixes = {"run_gcam": PrefixCounts(name="run_gcam", memory=500, erred=25, processing=4, waiting=6)}
    snap.last_poll_ok = t0
    w.write(snap.copy(), t=t0)
    folder._new_scheduler("Scheduler-new")
    snap.scheduler_id = "Scheduler-new"
    snap.prefixes = {"run_gcam": PrefixCounts(name="run_gcam", memory=40, erred=2, waiting=8),
                     "stitch": PrefixCounts(name="stitch", no_worker=3)}
    snap.last_poll_ok = t0 + 10
    w.write(snap.copy(), t=t0 + 10)
    w.close("scheduler closed")
    assert sum(snap.task_totals().values()) == 588

    async def scenario() -> str:
        app = ReplayApp(path, no_ai=True)
        async with app.run_test(size=(160, 48)) as pilot:
            app.seek(1)
            return await wait_text(pilot, "588 tasks")

    text = asyncio.run(scenario())
    text = text.replace("\u00a0", " ")
    assert "3 no-worker" in text and "10 lost" in text, text
    assert "10 lost: unfinished when an earlier scheduler went away" in text

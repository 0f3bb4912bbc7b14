"""Replay of a recording with gaps: a restarted recorder (``--append``) and a stalled one are marked, the
first session's workers stay (as departed), and the event count covers every stored event."""

from __future__ import annotations

from collections import deque
from pathlib import Path

import pytest

from scalable_tui.tui.replay import ReplayApp
from scalable_tui.model.live import LiveEvent, LiveSnapshot, PrefixCounts, WorkerInfo
from scalable_tui.sources.recording.writer import RecordingWriter
from scalable_tui.sources.recording.reader import Recording
from tests.app.helpers import screen_text, wait_for, wait_text

T0 = 1_800_000_000.0


def _monitor(workers: list[str], port0: int) -> LiveSnapshot:
    s = LiveSnapshot(address="tcp://127.0.0.1:8786", scheduler_id="Scheduler-gap", events=deque(maxlen=100),
                     attached_at=T0)
    s.connected, s.link = True, "ok"
    for i, name in enumerate(workers):
        s.workers[name] = WorkerInfo(key=name, name=name, address=f"tcp://127.0.0.1:{port0 + i}", host="node1",
                                     status="running", nthreads=1, first_seen=T0)
    s.prefixes = {"run": PrefixCounts("run", memory=10)}
    return s


def _write(w: RecordingWriter, s: LiveSnapshot, times: list[float]) -> None:
    for t in times:
        s.polls += 1
        s.last_poll_ok = t
        for wk in s.workers.values():
            wk.last_seen = t
        w.write(s.copy(), t=t)


def write_gappy(path: Path) -> None:
    s = _monitor(["w-0", "w-1"], 40000)
    for i in range(3):
        s.events.append(LiveEvent(ts=T0 + i, kind="log-warning", worker=None, text=f"warning {i}"))
        s.events_total += 1
    w = RecordingWriter.create(path, address=s.address, interval=5.0)
    _write(w, s, [T0, T0 + 5, T0 + 10, T0 + 60, T0 + 65])  # 50 s without a snapshot: the recorder stalled
    w.close("stopped")
    # a new recorder (--append) five minutes later: a new monitor that never saw w-0 / w-1, events from 0
    s2 = _monitor(["w-2"], 41000)
    w = RecordingWriter.create(path, mode="append", address=s2.address, interval=5.0)
    _write(w, s2, [T0 + 365, T0 + 370])
    w.close("stopped")


def test_gaps_are_found_and_the_old_workers_stay(tmp_path: Path) -> None:
    path = tmp_path / "gappy.rec"
    write_gappy(path)
    with Recording(path) as rec:
        gaps = rec.gaps()
        assert [(g.before, g.after) for g in gaps] == [(T0 + 10, T0 + 60), (T0 + 65, T0 + 365)]
        assert "no snapshot for 50s" in gaps[0].reason and "recorder was restarted" in gaps[1].reason
        late = rec.state_at(T0 + 370)
        assert late.workers["w-2"].alive
        for name in ("w-0", "w-1"):  # before: they vanished from the Workers screen
            w = late.workers[name]
            assert not w.alive and w.status == "left" and w.left_at == T0 + 65 and "gap" in w.left_reason
        assert late.events_total >= len(late.events) == 3  # before: "3 of 0 events"
        early = rec.state_at(T0 + 5)
        assert set(early.workers) == {"w-0", "w-1"} and all(w.alive for w in early.workers.values())


@pytest.mark.anyio
async def test_replay_marks_the_gap_and_keeps_the_workers(tmp_path: Path) -> None:
    path = tmp_path / "gappy.rec"
    write_gappy(path)
    app = ReplayApp(path, no_ai=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.live is not None, 10, "first frame")
        assert "GAP" not in app.replay_status()
        app.seek(3)  # T0 + 60, after the stall
        assert "GAP before this moment: no snapshot for 50s" in app.replay_status()
        app.seek(5)  # the first frame of the second recorder
        await pilot.press("5")
        # all three rows (the first may be drawn before the table has the others), and the status line's
        # gap mark (drawn by its own refresh, which may come after the table's)
        await wait_for(pilot, lambda: all(w in screen_text(app) for w in ("w-0", "w-1", "w-2", "GAP")), 10,
                       "three workers and the gap")
        assert "recorder was restarted" in app.replay_status()
        await pilot.press("6")
        text = await wait_text(pilot, "3 of 3 events")  # the count may be drawn after the word "events"
        assert "3 of 0" not in text


def test_the_timeline_draws_the_gaps_where_the_recording_was_blind() -> None:
    """Before, a gap was said only in the status line of the frame after it: the bar looked seamless."""
    from scalable_tui.tui.widgets.timeline import column, render_bar, render_labels

    times = [T0, T0 + 5, T0 + 10, T0 + 60, T0 + 65, T0 + 365, T0 + 370]
    gaps = [(T0 + 10, T0 + 60), (T0 + 65, T0 + 365)]
    width = 75
    bar = render_bar(times, 0, [], [], width, gaps).plain
    lo, hi = column(T0 + 65, T0, T0 + 370, width), column(T0 + 365, T0, T0 + 370, width)
    assert set(bar[lo + 1:hi]) == {"┄"} and bar[lo] != "┄" and bar[hi] != "┄"
    assert bar.count("┄") == (column(T0 + 60, T0, T0 + 370, width) - column(T0 + 10, T0, T0 + 370, width) - 1) + (hi - lo - 1)
    assert "┄" not in render_bar(times, 0, [], [], width).plain
    assert "not recorded" in render_labels(times, 0, 160, True).plain
    assert "not recorded" not in render_labels(times, 0, 160, False).plain


@pytest.mark.anyio
async def test_replay_bar_shows_the_gaps(tmp_path: Path) -> None:
    path = tmp_path / "gappy.rec"
    write_gappy(path)
    app = ReplayApp(path, no_ai=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.live is not None, 10, "first frame")
        assert app.view.timeline is not None and len(app.view.timeline.gaps) == 2
        text = screen_text(app)
        assert "┄┄┄" in text and "not recorded" in text


def test_totals_of_a_recording_across_a_scheduler_restart_add_both_schedulers(tmp_path: Path) -> None:
    """A restarted scheduler counts its tasks from zero: the whole recording counts both schedulers' tasks."""
    path = tmp_path / "restart.rec"
    s = _monitor(["w-0"], 40000)
    s.scheduler_id = "Scheduler-A"
    s.prefixes = {"run": PrefixCounts("run", memory=100, erred=4)}
    w = RecordingWriter.create(path, address=s.address, interval=5.0)
    _write(w, s, [T0, T0 + 5])
    s.scheduler_id = "Scheduler-B"  # what LiveSource does: an event, prefixes reset, history kept
    s.events.append(LiveEvent(ts=T0 + 8, kind="scheduler-restarted", worker=None, text="a new scheduler answers"))
    s.events_total += 1
    s.prefixes = {"run": PrefixCounts("run", memory=30, processing=2)}
    _write(w, s, [T0 + 10, T0 + 15])
    w.close("scheduler closed")
    with Recording(path) as rec:
        assert [g.reason for g in rec.gaps()] == ["the scheduler restarted (new scheduler id)"]
        state = rec.whole_run_state()
        totals = state.totals()
        assert (totals.by_state["memory"], totals.by_state["erred"], totals.by_state["processing"]) == (130, 4, 2)
        assert totals.total == 136
        assert rec.state_at(T0 + 15).prefixes["run"].memory == 30  # the moment itself shows its scheduler

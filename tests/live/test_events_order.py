"""The live Events screen's "newest first" is by time, not by arrival alone.

A KilledWorker event is stamped when its failure was first seen, which can be
before the worker departures that arrived in the same poll: the demo's list
went 15:47:20, 15:47:19, 15:47:20 under "newest first".
"""

from __future__ import annotations

from scalable_tui.model.live import LiveEvent
from scalable_tui.tui.screens.live_events import LiveEventsScreen


def test_newest_first_by_time_and_equal_times_by_arrival() -> None:
    arrived = [
        LiveEvent(19.0, "paused", "0", "a"),
        LiveEvent(20.0, "worker-removed", "0", "b"),
        LiveEvent(20.0, "worker-added", "0", "c"),
        LiveEvent(19.5, "killed-worker", "0", "d"),  # its failure was seen before the departures above
        LiveEvent(float("nan"), "log", None, "e"),
        LiveEvent(21.0, "worker-added", "1", "f"),
    ]
    shown = LiveEventsScreen.default_order(None, arrived)  # type: ignore[arg-type]
    assert [e.text for e in shown] == ["f", "c", "b", "d", "a", "e"]
    times = [e.ts for e in shown if e.ts == e.ts]
    assert times == sorted(times, reverse=True)

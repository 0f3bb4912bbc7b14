"""The call-timeout policy and the slow/disconnected rule, without a socket.

A busy scheduler (100 workers, waves of 50k tasks) made the fixed 3 s timeout
raise false "disconnected" alarms; the timeout now follows observed latency
and one late reply is "slow", not "disconnected".
"""

from __future__ import annotations

import asyncio

import pytest

from scalable_tui.cli import build_parser
from scalable_tui.sources.live.source import LiveSource
from scalable_tui.sources.live.timeout import CallTimeout, parse_call_timeout


def test_auto_timeout_follows_the_p95_of_recent_replies() -> None:
    p = CallTimeout(floor=3.0, k=4.0, cap=60.0, window=20)
    assert p.current == 3.0 and p.adaptive  # nothing learned yet: the floor
    for _ in range(20):
        p.observe(0.01)
    assert p.current == 3.0  # a fast scheduler: the floor
    for _ in range(19):
        p.observe(2.0)  # a busy one: replies take 2 s (fits in the window of 20 with one fast reply)
    assert p.p95() == 2.0 and p.current == 8.0
    for _ in range(20):
        p.observe(30.0)
    assert p.current == 60.0  # capped
    for _ in range(20):
        p.observe(0.05)
    assert p.current == 3.0  # the window forgets: fast again


def test_a_miss_doubles_the_next_wait_and_two_misses_are_the_alarm() -> None:
    p = CallTimeout(floor=3.0, cap=20.0)
    assert p.miss() is False and p.current == 6.0  # one late reply: wait longer next time, no alarm
    assert p.miss() is True and p.current == 12.0
    p.miss()
    p.miss()
    assert p.current == 20.0  # capped
    p.observe(0.5)
    assert p.misses == 0 and p.current == 3.0
    p.miss()
    p.reset()  # a connection error is not a timeout: start over
    assert p.misses == 0 and p.current == 3.0


def test_fixed_timeout_does_not_move() -> None:
    p = CallTimeout(5.0)
    for _ in range(10):
        p.observe(4.0)
    assert p.current == 5.0 and not p.adaptive
    p.miss()
    assert p.current == 5.0 and p.describe() == "5 s (fixed)"


def test_parse_and_cli_option() -> None:
    assert parse_call_timeout("auto") is None and parse_call_timeout("10") == 10.0 and parse_call_timeout("2.5s") == 2.5
    for bad in ("0", "-1", "soon", "nan", "inf"):
        with pytest.raises(ValueError):
            parse_call_timeout(bad)
    parser = build_parser()
    assert parser.parse_args(["attach", "x:1"]).call_timeout is None  # default: auto
    assert parser.parse_args(["record", "x:1", "-o", "f", "--call-timeout", "12"]).call_timeout == 12.0
    with pytest.raises(SystemExit):
        parser.parse_args(["attach", "x:1", "--call-timeout", "never"])


def _connected_source(call_timeout: float | None) -> LiveSource:
    src = LiveSource("tcp://127.0.0.1:9", call_timeout=call_timeout)
    src._on_success(5.0)  # as after a good poll (no socket: the rule is what is tested)
    return src


def test_one_late_reply_is_slow_and_two_are_disconnected() -> None:
    src = _connected_source(None)
    src._on_failure(asyncio.TimeoutError())
    s = src.snapshot
    assert s.connected and s.link == "slow" and s.disconnected_since is None
    assert s.event_counts.get("disconnected", 0) == 0  # no alarm for one late reply
    assert src.call_timeout == 6.0  # the next call waits longer
    src._on_success(4000.0)  # the longer wait was enough: nothing was ever "lost"
    s = src.snapshot
    assert s.connected and s.link == "ok" and s.event_counts.get("disconnected", 0) == 0
    assert s.event_counts.get("reconnected", 0) == 0

    src._on_failure(asyncio.TimeoutError())
    first = src.snapshot
    src._on_failure(asyncio.TimeoutError())
    s = src.snapshot
    assert not s.connected and s.link == "unresponsive" and s.event_counts["disconnected"] == 1
    assert "2 calls without reply" in s.disconnect_reason
    assert first.connected and s.disconnected_since is not None


def test_a_connection_error_is_disconnected_at_once() -> None:
    src = _connected_source(None)
    src._on_failure(ConnectionRefusedError("refused"))
    s = src.snapshot
    assert not s.connected and s.link == "down" and s.event_counts["disconnected"] == 1
    assert s.disconnect_reason == "down: connection refused (is the scheduler running?)"


def test_never_connected_timeout_is_reported_at_once() -> None:
    """Before the first answer there is nothing to keep: a timeout is shown straight away."""
    src = LiveSource("tcp://127.0.0.1:9", call_timeout=2.0)
    src._on_failure(asyncio.TimeoutError())
    s = src.snapshot
    assert not s.connected and s.link == "slow" and s.disconnect_reason == "slow: no reply within 2 s"


def test_the_attach_footer_says_slow_while_still_connected() -> None:
    from scalable_tui.tui.attach import live_status

    src = _connected_source(None)
    src._on_failure(asyncio.TimeoutError())
    text, kind = live_status(src.snapshot, src.snapshot.last_poll_ok or 0.0)
    assert kind == "live" and text.startswith("connected to") and "slow: the last poll got no reply" in text

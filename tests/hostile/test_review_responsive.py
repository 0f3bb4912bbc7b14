"""``review`` stays responsive on a run with huge lines: q quits promptly.

The diagnosis runs in the reader's thread worker; before the per-field bound
and the linear regexes, one regex call on a 10 MB word held the GIL for
minutes and the UI thread never got to handle q (or Ctrl+C).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from scalable_tui.tui.app import ReviewApp
from scalable_tui.tui.screens.failures import FailuresScreen
from scalable_tui.tui.screens.findings import FindingsScreen
from scalable_tui.sources.rundir.reader import RunDirReader
from tests.app.helpers import screen_text, wait_for, wait_loaded
from tests.hostile.rundirs import append, copy_fixture, hostile_failure, task_events

pytestmark = pytest.mark.anyio
SIZE = 10_000_000


def _huge_run(tmp_path: Path) -> Path:
    run = copy_fixture(tmp_path)
    word = "a." * (SIZE // 2)
    append(run / "tasks.jsonl", *task_events("huge0001", name="a-" * 1000, component="gcam", error_type="HostileError",
                                              error_message=word, timestamp="2026-11-25T11:47:20Z", worker="w1"))
    append(run / "failures.jsonl", hostile_failure("huge0001", failure_class="HostileError", message=word,
                                                   timestamp="2026-11-25T11:47:20Z",
                                                   traceback='Traceback (most recent call last):\n' + 'File "x\n' * 200_000
                                                   + "HostileError: boom\n"))
    return run


async def test_q_quits_promptly_on_a_run_with_a_10mb_line(tmp_path: Path) -> None:
    run = _huge_run(tmp_path)
    app = ReviewApp(RunDirReader(run))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_loaded(pilot, timeout=60)
        assert "HostileError" in " ".join(f.title for f in app.snapshot.diagnosis.findings)
        for key, cls in (("3", FailuresScreen), ("4", FindingsScreen)):
            await pilot.press(key)
            await wait_for(pilot, lambda: isinstance(app.screen, cls), timeout=30, what=cls.__name__)
        assert "Hostile" in screen_text(app)
        t0 = time.monotonic()
        await pilot.press("q")
        await wait_for(pilot, lambda: app._exit, timeout=10, what="the app to exit")
    assert time.monotonic() - t0 < 10


async def test_q_quits_while_the_reader_is_still_working(tmp_path: Path) -> None:
    """q pressed right away, while the huge run is still being read and diagnosed."""
    run = _huge_run(tmp_path)
    app = ReviewApp(RunDirReader(run))
    t0 = time.monotonic()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("q")
        await wait_for(pilot, lambda: app._exit, timeout=10, what="the app to exit")
    assert time.monotonic() - t0 < 20

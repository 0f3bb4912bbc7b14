"""Snapshot (pytest-textual-snapshot) of the Overview at a fixed size, clock and data.

The fixture run is finished, so nothing on the Overview depends on the wall
clock; ``now`` is injected anyway.  Update with ``pytest --snapshot-update``.
"""

from __future__ import annotations

from pathlib import Path

from scalable_tui.tui.app import ReviewApp
from scalable_tui.sources.rundir.reader import RunDirReader
from tests.app.helpers import wait_loaded

FIXED_NOW = 1795425000.0  # 2026-11-23T09:10Z


def test_overview_snapshot(snap_compare, gcam_run: Path) -> None:
    app = ReviewApp(RunDirReader(gcam_run), now=lambda: FIXED_NOW)
    assert snap_compare(app, terminal_size=(120, 40), run_before=wait_loaded)


def test_failures_snapshot(snap_compare, gcam_run: Path) -> None:
    app = ReviewApp(RunDirReader(gcam_run), now=lambda: FIXED_NOW)

    async def go(pilot) -> None:
        await wait_loaded(pilot)
        await pilot.press("f")
        await wait_loaded(pilot)

    assert snap_compare(app, terminal_size=(120, 40), run_before=go)


def test_findings_snapshot_80x24(snap_compare) -> None:
    """80×24: the title column fits, two findings with one title say how they differ, no stray footer cell."""
    from tests.conftest import fixture_run

    app = ReviewApp(RunDirReader(fixture_run("mixed-failures")), now=lambda: FIXED_NOW)

    async def go(pilot) -> None:
        await wait_loaded(pilot)
        await pilot.press("i")
        await wait_loaded(pilot)
        await pilot.press("slash", *"MemoryError", "enter")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(80, 24), run_before=go)


def test_failure_detail_snapshot_80x24(snap_compare) -> None:
    """80×24: one failure, its facts above and its traceback in a pane of its own."""
    from tests.conftest import fixture_run

    app = ReviewApp(RunDirReader(fixture_run("tutorial-tracebacks")), now=lambda: FIXED_NOW)

    async def go(pilot) -> None:
        await wait_loaded(pilot)
        await pilot.press("f")
        await wait_loaded(pilot)
        await pilot.press("enter")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(80, 24), run_before=go)

"""Snapshot (pytest-textual-snapshot) of the Overview at a fixed size, clock and data.

The fixture run is finished, so nothing on the Overview depends on the wall
clock; ``now`` is injected anyway.  Update with ``pytest --snapshot-update``.
"""

from __future__ import annotations

from pathlib import Path

from scalable_tui.app.app import ReviewApp
from scalable_tui.sources.rundir import RunDirReader
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

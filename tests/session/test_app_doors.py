"""The apps over the one pipeline (Pilot, no cluster): replay shows the recorded Slurm findings and the
scheduler's task totals; screen-update errors and reader TypeErrors are shown, not swallowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from scalable_tui.tui.app import ReviewApp
from scalable_tui.tui.replay import ReplayApp
from scalable_tui.tui.screens.live_overview import LiveOverviewScreen
from scalable_tui.sources.rundir.reader import RunDirReader
from tests.app.helpers import screen_text, wait_for, wait_text
from tests.replay.conftest import write_recording
from tests.session.test_pipeline import write_slurm_night

pytestmark = pytest.mark.anyio


async def test_replay_shows_the_recorded_slurm_findings_and_true_totals(tmp_path: Path) -> None:
    """Before: replay diagnosed without the recorded jobs (attach had shown walltime and PENDING findings)."""
    path = tmp_path / "slurm.rec"
    write_slurm_night(path)
    app = ReplayApp(path, no_ai=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.whole_snapshot is not None, 10, "whole-recording diagnosis")
        whole = {f.category for f in app.whole_snapshot.diagnosis.findings}
        assert {"walltime", "cluster_startup"} <= whole, whole
        await pilot.press("end")
        await wait_for(pilot, lambda: app.snapshot is not None and app.pos == len(app.times) - 1
                       and any(f.category == "walltime" for f in app.snapshot.diagnosis.findings), 10,
                       "the moment's diagnosis with the jobs stored for it")
        d = app.snapshot.diagnosis
        assert d.tasks_total == 131 and d.tasks["memory"] == 120  # the scheduler's counts, not 3 failed rows
        await pilot.press("4")
        await wait_text(pilot, "4242")
        assert "131 tasks" in screen_text(app)  # the status line: the same totals
        await pilot.press("1")
        await wait_text(pilot, "131 tasks")  # the Overview says the same
    # a moment before any jobs poll: no job findings (nothing was known then)
    app = ReplayApp(path, no_ai=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and app.pos == 0, 10, "first moment")
        assert not {f.category for f in app.snapshot.diagnosis.findings} & {"walltime", "cluster_startup"}


async def test_a_screen_that_fails_to_update_is_reported_not_swallowed(tmp_path: Path, monkeypatch) -> None:
    """Before: ``except Exception: pass`` around ``screen.sync()`` hid it."""
    rec = write_recording(tmp_path / "night.rec")

    def broken(self, live) -> None:
        raise RuntimeError("overview render broke")

    monkeypatch.setattr(LiveOverviewScreen, "render_live", broken)
    app = ReplayApp(rec.path, no_ai=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: any("RuntimeError: overview render broke" in n.message
                                          for n in app._notifications), 10, "the notice")
        await wait_for(pilot, lambda: app.snapshot is not None, 10, "diagnosed")
        await pilot.pause()
        n = len(app._notifications)
        await pilot.press("right")
        await pilot.press("right")
        await pilot.pause()
        assert len(app._notifications) == n  # shown once, not on every step


class SliceBug(RunDirReader):
    """A reader whose sliced refresh has a bug raising TypeError inside."""

    def refresh(self, max_bytes: int | None = None):
        if max_bytes is not None:
            raise TypeError("unsupported operand inside the reader")
        return super().refresh()


async def test_a_typeerror_inside_the_reader_is_shown(gcam_run: Path) -> None:
    """Before: any TypeError from ``refresh(max_bytes=…)`` was taken as "no slicing support" and dropped."""
    app = ReviewApp(SliceBug(gcam_run), no_ai=True)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.load_error is not None, 10, "the error")
        assert "TypeError: unsupported operand inside the reader" in app.load_error
        await wait_for(pilot, lambda: any("unsupported operand inside the reader" in n.message
                                          for n in app._notifications), 5, "the notice")
        await wait_text(pilot, "error: TypeError")  # the status line


async def test_a_source_without_slicing_still_loads(gcam_run: Path) -> None:
    class Plain(RunDirReader):
        def refresh(self):  # type: ignore[override]
            return super().refresh()

    app = ReviewApp(Plain(gcam_run), no_ai=True)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None, 10, "loaded")
        assert app.load_error is None


async def test_a_quiet_running_run_becomes_abandoned_without_new_data(run_copy) -> None:
    """Before: the review app re-diagnosed on new data only, so ``run_abandoned`` never appeared in a long tail."""
    from tests.app.helpers import set_status

    run = run_copy("gcam-stitches")
    set_status(run, "running")
    (run / "summary.json").unlink()
    last = 1795421494.0  # the newest event in the fixture
    clock = {"now": last + 5}
    app = ReviewApp(RunDirReader(run), poll_interval=0.05, now=lambda: clock["now"], no_ai=True)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.loading is None, 10, "loaded")
        assert not app.snapshot.diagnosis.abandoned
        version = app.snapshot.version
        clock["now"] = last + 5 * 3600  # only the clock moves: no file changes
        await wait_for(pilot, lambda: any(f.id == "run_abandoned" for f in app.snapshot.diagnosis.findings), 10,
                       "the run_abandoned finding")
        assert app.snapshot.version == version + 1  # one re-diagnosis, not one per poll
        await pilot.pause(0.3)
        assert app.snapshot.version == version + 1

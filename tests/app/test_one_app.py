"""One app class over any session: screens and keys follow the capability flags, screens render the model.

Before, ``ReplayApp(AttachApp(ReviewApp))`` each restated their modes, keys and palette, and the
screens duck-typed the app (``getattr(app, "job_map", None)``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable

from scalable_tui.session.review import ReviewSession
from scalable_tui.session.view import Capabilities
from scalable_tui.sources.rundir.reader import RunDirReader
from scalable_tui.tui.app import ScalableApp
from scalable_tui.tui.attach import AttachApp
from scalable_tui.tui.keys import bindings_for, modes_for, screens_for
from scalable_tui.tui.messages import StateUpdated
from scalable_tui.tui.replay import ReplayApp
from scalable_tui.tui.screens.failures import FailuresScreen
from scalable_tui.tui.screens.replay import TimelineMixin
from tests.app.helpers import wait_for
from tests.replay.conftest import write_recording

pytestmark = pytest.mark.anyio


def _screen_keys(app: ScalableApp) -> list[str]:
    return list(dict.fromkeys(b.action for _k, b in app._bindings if b.action.startswith("switch_mode")))


def test_capabilities_choose_the_screens_and_keys(gcam_run: Path, tmp_path: Path) -> None:
    review = ScalableApp(ReviewSession(RunDirReader(gcam_run)))
    attach = AttachApp("tcp://127.0.0.1:1", no_ai=True)  # not started: only its table is looked at
    replay = ReplayApp(write_recording(tmp_path / "night.rec").path, no_ai=True)
    # a run directory has no scheduler events and no batch jobs: no Events/Jobs screens, no 6/7 keys
    # … and a scheduler has no runs directory: no History screen, no 8 key
    assert list(review.MODES) == ["overview", "tasks", "failures", "findings", "workers", "history", "efficiency"]
    assert "switch_mode('jobs')" not in _screen_keys(review) and "switch_mode('events')" not in _screen_keys(review)
    assert list(attach.MODES) == [*list(review.MODES)[:-2], "events", "jobs", "efficiency"]
    assert "switch_mode('history')" not in _screen_keys(attach)
    assert _screen_keys(attach)[-3:] == ["switch_mode('events')", "switch_mode('jobs')", "switch_mode('efficiency')"]
    # the timeline keys exist only where there is a timeline
    assert not any(b.action == "play" for _k, b in attach._bindings)
    assert any(b.action == "play" for _k, b in replay._bindings)
    assert all(issubclass(e.screen(replay.view.caps), TimelineMixin) for e in screens_for(replay.view.caps))
    assert not any(issubclass(e.screen(attach.view.caps), TimelineMixin) for e in screens_for(attach.view.caps))
    # the titles come from the same flags
    assert (review.title, attach.title, replay.title) == (
        "scalable-tui review", "scalable-tui attach", "scalable-tui review (replay)")
    # and a session without workers to list gets no Workers screen nor its key
    no_workers = Capabilities(has_workers=False)
    assert "workers" not in modes_for(no_workers)
    assert not any(getattr(b, "action", "") == "switch_mode('workers')" for b in bindings_for(no_workers))


async def test_palette_offers_what_the_keys_offer(gcam_run: Path) -> None:
    app = ScalableApp(ReviewSession(RunDirReader(gcam_run)), no_ai=True)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None, 15, "loaded")
        titles = [c.title for c in app.get_system_commands(app.screen)]
    assert [t for t in titles if t.startswith("Go to ")] == [f"Go to {m}" for m in (
        "Overview", "Tasks", "Failures", "Findings", "Workers", "History", "Efficiency")]
    assert not {"Ask Slurm now", "Reconnect now", "Debug a failure locally", "Play / pause"} & set(titles)


async def test_the_same_view_model_renders_the_same_in_a_review_and_a_replay(gcam_run: Path, tmp_path: Path) -> None:
    """Screens render the model, not the app: a review's run shown in a replay's Failures screen reads the same."""

    def rows(app: ScalableApp) -> list[str]:
        table = app.screen.query_one(DataTable)
        return [" ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]

    review = ScalableApp(ReviewSession(RunDirReader(gcam_run)), no_ai=True)
    async with review.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: review.snapshot is not None, 15, "loaded")
        await pilot.press("3")
        await wait_for(pilot, lambda: isinstance(review.screen, FailuresScreen) and review.screen.query_one(
            DataTable).row_count > 0, 10, "failures listed")
        run, expected = review.view.run, rows(review)
    replay = ReplayApp(write_recording(tmp_path / "night.rec").path, no_ai=True)
    async with replay.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: replay.snapshot is not None and replay.view.whole is not None, 15, "replay ready")
        await pilot.press("3")
        await wait_for(pilot, lambda: isinstance(replay.screen, FailuresScreen), 10, "failures")
        replay.post_message(StateUpdated(replay.view.with_(run=run)))
        await wait_for(pilot, lambda: rows(replay) == expected, 10, "the review's failures in the replay's screen")
        assert expected and replay.view.run is run and replay.view.caps.has_timeline


async def test_a_burst_of_view_models_renders_only_the_latest(gcam_run: Path, monkeypatch) -> None:
    """As Toolong does: updates queued while the UI was busy are merged (``StateUpdated.can_replace``)."""
    app = ScalableApp(ReviewSession(RunDirReader(gcam_run)), no_ai=True)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None, 15, "loaded")
        rendered = []
        orig = ScalableApp.render_view
        monkeypatch.setattr(ScalableApp, "render_view", lambda self, old, new: (rendered.append(new), orig(self, old, new)))
        burst = [app.view.with_(subtitle=f"burst {i}") for i in range(5)]
        for view in burst:  # posted back to back, before the app's loop gets to them
            app.post_message(StateUpdated(view))
        await wait_for(pilot, lambda: app.view is burst[-1], 5, "the last one")
        await pilot.pause()
        assert rendered == [burst[-1]], [v.subtitle for v in rendered]

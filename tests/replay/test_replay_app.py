"""Pilot tests of ``ReplayApp`` (``scalable-tui review FILE.rec``) over a small deterministic recording."""

from __future__ import annotations

import pytest

from scalable_tui.tui.replay import SPEEDS, ReplayApp, ReplayFindingsScreen
from scalable_tui.tui.widgets.timeline import Timeline
from tests.app.helpers import screen_text, wait_for, wait_text
from scalable_tui.tui.fmt import ago
from tests.replay.conftest import DEAD, DEATH_AT, FRAMES, INTERVAL

pytestmark = pytest.mark.anyio


def _tasks(app: ReplayApp) -> list:
    """The failed tasks of the moment's diagnosis (worker deaths are failure records too)."""
    return [f for f in app.snapshot.failures if f.failure_class != "WorkerDied"] if app.snapshot else []


def _keys(app: ReplayApp) -> list[str]:
    return [f.task_id for f in _tasks(app)]


async def _diagnosed(pilot, app: ReplayApp, n_failures: int) -> None:
    """Wait until the moment's diagnosis (thread worker) caught up with the position."""
    await wait_for(pilot, lambda: app.snapshot is not None and app.live is not None
                   and len(app.live.failures) == n_failures
                   and len(_tasks(app)) == n_failures, 10, f"{n_failures} failures diagnosed")


async def test_step_and_jump_to_failures(recording) -> None:
    app = ReplayApp(recording.path, no_ai=True)
    async with app.run_test(size=(150, 40)) as pilot:
        await wait_for(pilot, lambda: app.live is not None and app.snapshot is not None, 10, "first snapshot")
        assert app.pos == 0 and len(app.times) == FRAMES
        assert app.failure_times == [recording.times[i] for i in (10, 30, 45)]
        assert app.death_times == [recording.times[DEATH_AT]]
        await wait_text(pilot, "replay · ")
        assert f"(1/{FRAMES})" in screen_text(app) and "speed 10×" in screen_text(app)
        # step: one, ten, back one (arrows, shift+arrows, comma/full stop)
        await pilot.press("right")
        assert app.pos == 1
        await pilot.press("shift+right")
        assert app.pos == 11
        await pilot.press("comma")
        assert app.pos == 10
        await pilot.press("home")
        assert app.pos == 0
        await pilot.press("full_stop")
        assert app.pos == 1
        # the first failure: Failures shows it, not the later ones
        await pilot.press("3")
        await pilot.press("n")
        assert app.pos == 10
        await _diagnosed(pilot, app, 1)
        text = await wait_text(pilot, "KeyError")
        assert "FileNotFoundError" not in text
        assert _keys(app) == ["load_inputs-0010"]
        assert f"(11/{FRAMES})" in text
        # the next one (skipping the worker death)
        await pilot.press("n")
        assert app.pos == 30
        await _diagnosed(pilot, app, 2)
        text = await wait_text(pilot, "FileNotFoundError")
        assert "load_inputs-0045" not in _keys(app)
        # back: N
        await pilot.press("N")
        assert app.pos == 10
        await _diagnosed(pilot, app, 1)
        # end / past the last failure: a notice, no move
        await pilot.press("end")
        assert app.pos == FRAMES - 1
        await pilot.press("n")
        assert app.pos == FRAMES - 1
        await wait_for(pilot, lambda: any("no later failure" in n.message for n in app._notifications), 5, "notice")


async def test_worker_death_shows_departed(recording) -> None:
    app = ReplayApp(recording.path, no_ai=True)
    async with app.run_test(size=(150, 40)) as pilot:
        await wait_for(pilot, lambda: app.live is not None, 10, "first snapshot")
        await pilot.press("5")
        await wait_text(pilot, "3 workers alive, 0 departed")
        await pilot.press("k")
        assert app.pos == DEATH_AT
        assert not app.live.workers[DEAD].alive
        text = await wait_text(pilot, "2 workers alive, 1 departed")
        row = next(line for line in text.splitlines() if line.strip().startswith(DEAD))
        assert " left " in row and "the worker process exited" in row
        # ages are those of the replayed moment (workers were first seen at the first frame)
        alive = next(line for line in text.splitlines() if line.strip().startswith("w-0"))
        assert f" {ago(DEATH_AT * INTERVAL)} " in alive, alive
        await pilot.press("K")  # no earlier death
        assert app.pos == DEATH_AT
        await pilot.press("left")
        await wait_text(pilot, "3 workers alive, 0 departed")
        # the arrows belong to the filter input while it has the focus
        await pilot.press("slash", "w", "left", "right", "left")
        assert app.pos == DEATH_AT - 1
        await pilot.press("escape", "escape")
        # the Events screen of that moment has the departure only from the death on
        await pilot.press("6")
        await wait_for(pilot, lambda: "worker-removed" not in screen_text(app), 5, "no departure yet")
        await pilot.press("k", "6")
        await wait_text(pilot, "worker-removed")


async def test_play_advances_and_speed_changes(recording) -> None:
    app = ReplayApp(recording.path, no_ai=True, play_tick=0.02)
    async with app.run_test(size=(150, 40)) as pilot:
        await wait_for(pilot, lambda: app.live is not None, 10, "first snapshot")
        await pilot.press("plus")
        assert SPEEDS[app.speed_i] == 60
        await pilot.press("plus", "plus")
        assert SPEEDS[app.speed_i] == 600
        await pilot.press("minus", "minus")
        assert SPEEDS[app.speed_i] == 10
        await pilot.press("p")
        assert app.playing
        await wait_text(pilot, "playing")
        # 10×: a 5 s frame every 0.5 s
        await wait_for(pilot, lambda: app.pos >= 2, 10, "playback advanced")
        await pilot.press("p")
        assert not app.playing
        assert app._play_timer is None and "playing" not in screen_text(app)
        # 600×: to the end, then it stops by itself
        await pilot.press("plus", "plus", "p")
        await wait_for(pilot, lambda: app.pos == FRAMES - 1 and not app.playing, 10, "played to the end")


async def test_click_on_timeline_seeks(recording) -> None:
    app = ReplayApp(recording.path, no_ai=True)
    async with app.run_test(size=(150, 40)) as pilot:
        await wait_for(pilot, lambda: app.live is not None, 10, "first snapshot")
        tl = app.screen.query_one(Timeline)
        width = tl.content_size.width
        await pilot.click(Timeline, offset=(1 + width // 2, 0))  # padding: 1
        assert abs(app.pos - (FRAMES - 1) / 2) <= 1.5, app.pos
        await pilot.click(Timeline, offset=(1 + width - 1, 0))
        assert app.pos == FRAMES - 1
        await pilot.click(Timeline, offset=(1, 0))
        assert app.pos == 0
        bar = screen_text(app)
        assert "✗" in bar and "†" in bar and "●" in bar


async def test_findings_cover_the_whole_recording(recording) -> None:
    app = ReplayApp(recording.path, no_ai=True)
    async with app.run_test(size=(150, 40)) as pilot:
        await wait_for(pilot, lambda: app.whole_snapshot is not None, 15, "whole-recording diagnosis")
        await _diagnosed(pilot, app, 0)
        assert app.pos == 0 and not app.snapshot.failures
        await pilot.press("4")
        assert isinstance(app.screen, ReplayFindingsScreen)
        text = await wait_text(pilot, "WHOLE recording")
        whole = app.whole_snapshot.diagnosis
        assert whole.failures_total == 4  # three failed tasks and the worker death
        await wait_for(pilot, lambda: app.screen.shown_ids == [f.id for f in whole.findings]
                       or set(app.screen.shown_ids) == {f.id for f in whole.findings}, 10, "findings listed")
        cats = {f.category for f in whole.findings}
        assert {"missing_file", "invalid_input", "worker_lost"} <= cats, cats
        text = screen_text(app)
        assert any(f.title[:20] in text for f in whole.findings)
        # moving in time does not change the findings
        await pilot.press("n")
        assert app.pos == 10
        await _diagnosed(pilot, app, 1)
        assert app.screen.shown_snapshot() is app.whole_snapshot
        assert "WHOLE recording" in screen_text(app)


async def test_footer_fits_120_columns_with_the_screen_keys_grouped(recording) -> None:
    """Eight screens, copy/export/keys/quit and the screen's own keys all fit in one 120-column footer."""
    app = ReplayApp(recording.path, no_ai=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.live is not None and app.snapshot is not None, 10, "first snapshot")
        await pilot.press("5")
        footer = (await wait_text(pilot, "1 2 3 4 5 6 7 9 Screens")).splitlines()[-1]
        for item in ("/ Filter", "1 2 3 4 5 6 7 9 Screens", "c Copy", "e Export", "? Keys", "q Quit"):
            assert item in footer, footer
        # the Keys panel (``?``) still names every screen key: their bindings keep their descriptions
        described = {b.description for _n, b, _e, _t in app.screen.active_bindings.values()}
        assert {"Overview", "Tasks", "Failures", "Findings", "Workers", "Events", "Jobs", "Efficiency"} <= described

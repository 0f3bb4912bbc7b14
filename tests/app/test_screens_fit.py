"""What users saw on the review screens at 160×48 and 80×24 (issue 12), read from the rendered text.

Each test drives the real app with Pilot over a fixture run (or a copy grown
with records the way Scalable writes them) and asserts on the characters on
screen: a cut column, a stray dot, ids cut to an indistinguishable prefix, two
findings that read the same, a traceback squeezed to 3 lines, a stray footer
cell, keys that did nothing without a word, and the run picker.
"""

from __future__ import annotations

import re
import traceback
from pathlib import Path

import orjson
import pytest
from textual.widgets import DataTable

from scalable_tui.tui.app import ReviewApp
from scalable_tui.tui.screens.failures import FailuresScreen
from scalable_tui.tui.screens.failure_detail import FailureDetailScreen
from scalable_tui.tui.screens.failure_group import FailureGroupScreen
from scalable_tui.tui.screens.findings import FindingsScreen
from scalable_tui.tui.screens.overview import OverviewScreen
from scalable_tui.tui.screens.picker import PickerScreen
from scalable_tui.sources.rundir.locate import list_runs
from scalable_tui.sources.rundir.reader import RunDirReader
from tests.app.helpers import append_jsonl, screen_text, wait_for, wait_loaded, wait_text
from tests.conftest import fixture_run

pytestmark = pytest.mark.anyio
SIZES = [(160, 48), (80, 24)]
STRAY_DOT = re.compile(r"\d\d:\d\d:\d\d\.(?!\d)")


def _first_failure(run: Path, failure_class: str | None = None) -> dict:
    recs = [orjson.loads(b) for b in (run / "failures.jsonl").read_bytes().splitlines()]
    return next(r for r in recs if failure_class in (None, r["failure_class"]))


def _visible_rows(app: ReviewApp, table: DataTable, n: int = 3) -> list[tuple[str, ...]]:
    return [tuple(c.plain if hasattr(c, "plain") else str(c) for c in table.get_row_at(i))
            for i in range(min(n, table.row_count))]


def _assert_last_column_whole(app: ReviewApp, table: DataTable) -> None:
    """Every cell of the first rows, the last column included, is on screen in full."""
    text = screen_text(app)
    lines = text.splitlines()
    for row in _visible_rows(app, table):
        line = next((ln for ln in lines if row[0].strip() and all(c.strip() in ln for c in row[:2])), None)
        assert line is not None, f"row {row} not on screen:\n{text}"
        for cell in row:
            assert cell.rstrip() in line, f"cell {cell!r} cut on screen: {line!r}"


async def _goto_failures(pilot, app: ReviewApp) -> FailuresScreen:
    await wait_loaded(pilot)
    await pilot.press("3")
    await wait_for(pilot, lambda: isinstance(app.screen, FailuresScreen) and app.screen.shown_version > 0, what="Failures")
    await pilot.pause()
    return app.screen  # type: ignore[return-value]


async def _open_first_group(pilot, app: ReviewApp) -> FailureGroupScreen:
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, FailureGroupScreen) and app.screen.records, what="group")
    await pilot.pause()
    return app.screen  # type: ignore[return-value]


@pytest.mark.parametrize("size", SIZES)
async def test_failure_tables_show_their_last_column_and_times_without_a_stray_dot(run_copy, size) -> None:
    run = run_copy("gcam-stitches")
    rec = _first_failure(run, "OSError")  # disk_full: the first group (critical)
    rec.update(task_id="f" * 32, timestamp="2026-11-23T08:11:35.481516Z")  # fractions, as live stamps have
    append_jsonl(run / "failures.jsonl", rec)
    app = ReviewApp(RunDirReader(run))
    async with app.run_test(size=size) as pilot:
        screen = await _goto_failures(pilot, app)
        _assert_last_column_whole(app, screen.query_one(DataTable))
        assert not STRAY_DOT.search(screen_text(app)), screen_text(app)
        group = await _open_first_group(pilot, app)
        _assert_last_column_whole(app, group.query_one(DataTable))
        text = screen_text(app)
        assert not STRAY_DOT.search(text), text
        assert "08:11:35" in text


@pytest.mark.parametrize("size", SIZES)
async def test_dask_task_ids_keep_their_unique_end_and_the_detail_shows_them_whole(run_copy, size) -> None:
    run = run_copy("gcam-stitches")
    rec = _first_failure(run, "OSError")  # disk_full: the first group (critical)
    # Two Dask keys that share their first 12 characters ("downscale-c8"): the old cut showed both the same.
    keys = ["downscale-c8a3f0e1d2c3b4a5968778695a4b3c2d", "downscale-c8a3f0e1d2c3b4a59687786955e49dae"]
    for k in keys:
        append_jsonl(run / "failures.jsonl", {**rec, "task_id": k})
    app = ReviewApp(RunDirReader(run))
    async with app.run_test(size=size) as pilot:
        await _goto_failures(pilot, app)
        group = await _open_first_group(pilot, app)
        table = group.query_one(DataTable)
        col = table.get_column_index("task id")
        shown = {group.records[i].task_id: table.get_cell_at((i, col)).plain for i in range(table.row_count)}
        assert len(set(shown.values())) == len(shown), shown  # every id reads differently
        text = screen_text(app)
        for k in keys:
            assert shown[k].endswith(k[-8:]) and shown[k] in text, (shown[k], text)
        # The highlighted failure's id, in full, on the detail line; and on the one-failure screen.
        row = next(i for i, r in enumerate(group.records) if r.task_id == keys[0])
        table.move_cursor(row=row)
        await wait_text(pilot, f"task id {keys[0]}")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FailureDetailScreen), what="detail")
        await wait_text(pilot, keys[0])


@pytest.mark.parametrize("size", SIZES)
async def test_findings_with_the_same_title_say_how_they_differ(size) -> None:
    app = ReviewApp(RunDirReader(fixture_run("mixed-failures")))
    title = "Out of memory: MemoryError in run_gcam"
    async with app.run_test(size=size) as pilot:
        await wait_loaded(pilot)
        await pilot.press("4")
        await wait_for(pilot, lambda: isinstance(app.screen, FindingsScreen) and app.screen.shown_ids, what="Findings")
        await pilot.press("slash", *"MemoryError", "enter")
        screen = app.screen
        await wait_for(pilot, lambda: len(screen.shown_ids) == 2, what="the two MemoryError findings")
        await pilot.pause()
        region = screen.query_one(DataTable).region
        lines = screen_text(app).splitlines()[region.y : region.y + region.height]
        rows = [ln.strip() for ln in lines if "MemoryError" in ln]
        assert len(rows) == 2 and rows[0] != rows[1], rows
        assert any(title in r and "task failed" in r for r in rows), rows
        assert any("Unable to allocate" in r for r in rows), rows
        assert "another finding has this title" in screen.detail_text.plain


async def _long_traceback_run(run_copy) -> tuple[Path, str]:
    run = run_copy("tutorial-tracebacks")

    def deep(n: int) -> None:
        if n == 0:
            raise LookupError("bottom of a deep stack")
        deep(n - 1)

    try:
        deep(30)
    except LookupError:
        tb = traceback.format_exc()
    rec = _first_failure(run)
    rec.update(task_id="d" * 32, failure_class="LookupError", message="bottom of a deep stack")
    rec["details"] = {**rec.get("details", {}), "traceback": tb, "task_id": "d" * 32}
    append_jsonl(run / "failures.jsonl", rec)
    return run, tb


async def test_traceback_pane_is_usable_and_scrolls_at_80x24(run_copy) -> None:
    run, tb = await _long_traceback_run(run_copy)
    app = ReviewApp(RunDirReader(run))
    async with app.run_test(size=(80, 24)) as pilot:
        await _goto_failures(pilot, app)
        await pilot.press("slash", *"deep stack", "enter")
        screen = app.screen
        await wait_for(pilot, lambda: len(screen.shown_ids) == 1, what="the deep-stack group")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FailureGroupScreen) and app.screen.records, what="group")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FailureDetailScreen), what="detail")
        await wait_text(pilot, "Traceback (most recent call last)")

        def pane() -> list[str]:  # the screen lines from the traceback's first line down
            lines = screen_text(app).splitlines()
            start = next(i for i, ln in enumerate(lines) if "Traceback (most recent call last)" in ln)
            return lines[start:]

        frames = [ln for ln in pane() if 'File "' in ln or ln.strip().startswith("deep(")]
        assert len(frames) >= 6, screen_text(app)  # was 3 lines at 80×24
        assert not any("LookupError: bottom of a deep stack" in ln for ln in pane())
        await pilot.press("end")  # no Tab first: the traceback pane has the focus
        await wait_for(pilot, lambda: any("LookupError: bottom of a deep stack" in ln for ln in
                                          screen_text(app).splitlines()[-12:]), what="the traceback's end")


@pytest.mark.parametrize("keys", [["3", "enter"], ["4"]])
async def test_no_stray_cell_at_the_right_of_the_80_column_footer(keys) -> None:
    app = ReviewApp(RunDirReader(fixture_run("mixed-failures")))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_loaded(pilot)
        await pilot.press(*keys)
        await pilot.pause(0.2)
        await wait_loaded(pilot)
        footer = screen_text(app).splitlines()[-1]
        assert footer.rstrip().endswith("^p palette"), repr(footer)


async def test_x_and_D_say_why_they_do_nothing_here(gcam_run: Path) -> None:
    app = ReviewApp(RunDirReader(gcam_run))
    async with app.run_test(size=(160, 48), notifications=True) as pilot:
        await wait_loaded(pilot)
        await pilot.press("x")  # Overview: nothing to explain here
        await wait_text(pilot, "x explains a finding")
        await _goto_failures(pilot, app)
        await _open_first_group(pilot, app)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FailureDetailScreen), what="detail")
        app.clear_notifications()
        await pilot.press("x")
        await wait_text(pilot, "x explains a finding group")
        await pilot.press("D")
        await wait_text(pilot, "D needs a live scheduler")


async def test_c_says_the_text_was_sent_and_how_to_enable_the_clipboard(gcam_run: Path) -> None:
    app = ReviewApp(RunDirReader(gcam_run))
    async with app.run_test(size=(160, 48), notifications=True) as pilot:
        await _goto_failures(pilot, app)
        await pilot.press("c")
        text = await wait_text(pilot, "OSC 52")
        assert "to the clipboard (OSC 52)" in text and not re.search(r"copied \d+ lines?", text)
        await wait_text(pilot, "set-clipboard on")


async def test_picker_keys_before_a_run_and_p_back_to_the_picker(tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    for name in ("gcam-stitches", "mixed-failures"):
        run = fixture_run(name)
        (runs_dir / run.name).symlink_to(run)
    app = ReviewApp(None, runs=list_runs(runs_dir))
    async with app.run_test(size=(160, 48), notifications=True) as pilot:
        await wait_text(pilot, "gcam-ensemble")
        await pilot.press("3")  # used to open an empty Failures screen stuck on "loading…"
        await wait_text(pilot, "pick a run first")
        assert isinstance(app.screen, PickerScreen) and "loading…" not in screen_text(app)
        await pilot.press("enter")  # newest first: gcam-ensemble (mixed-failures)
        await wait_loaded(pilot)
        first = app.snapshot.run_id
        await pilot.press("3")
        await wait_text(pilot, "21 failures in 15 groups")
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, PickerScreen), what="the picker again")
        await wait_text(pilot, f"Esc: back to {first}")
        await pilot.press("escape")
        await wait_text(pilot, "21 failures in 15 groups")  # the same run, as it was
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, PickerScreen), what="the picker again")
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.run_id != first, what="the other run")
        await wait_for(pilot, lambda: isinstance(app.screen, OverviewScreen), what="its Overview")
        await pilot.press("3")
        await wait_text(pilot, "41 failures in 5 groups")


@pytest.mark.parametrize("key", ["J", "shift+down"])
async def test_findings_detail_scrolls_from_the_list_at_80x24(key) -> None:
    app = ReviewApp(RunDirReader(fixture_run("killed-worker")))  # a long finding: suggestion + 3 evidence lines
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_loaded(pilot)
        await pilot.press("4")
        await wait_for(pilot, lambda: isinstance(app.screen, FindingsScreen) and app.screen.shown_ids, what="Findings")
        await pilot.pause()
        screen = app.screen
        assert isinstance(app.focused, DataTable)  # the list has the focus
        pane = screen.query_one("#finding-detail")
        assert pane.region.height >= 8, pane.region  # a usable detail pane on 24 lines
        head = "category worker_lost"
        assert head in screen_text(app)
        await pilot.press(key, key, key)
        await wait_for(pilot, lambda: head not in screen_text(app), what="the detail pane scrolled")
        assert isinstance(app.focused, DataTable) and screen.query_one(DataTable).cursor_row == 0  # the list stayed put


async def test_failures_table_refits_when_the_terminal_shrinks(gcam_run: Path) -> None:
    app = ReviewApp(RunDirReader(gcam_run))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await _goto_failures(pilot, app)
        table = screen.query_one(DataTable)
        assert "category" in table.columns
        await pilot.resize_terminal(80, 24)
        await wait_for(pilot, lambda: "category" not in table.columns and screen.laid_out_width <= 80, what="refit")
        await pilot.pause()
        _assert_last_column_whole(app, table)

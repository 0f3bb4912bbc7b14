"""Pilot tests: `/` filter and `f` faults only on Failures (groups and one group's
failures) and Findings, Esc closing the filter first, digits while the filter is
(not) focused, mouse clicks on rows and headers, the light/dark theme toggle,
the Overview's per task-name bars and the Tasks screen's dask key column."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich.text import Text
from textual.widgets import DataTable, Input, Static

from scalable_tui.tui.app import ReviewApp
from scalable_tui.tui.screens.failures import FailuresScreen
from scalable_tui.tui.screens.failure_group import FailureGroupScreen
from scalable_tui.tui.screens.findings import FindingsScreen
from scalable_tui.tui.screens.overview import OverviewScreen
from scalable_tui.tui.screens.tasks import TasksScreen
from scalable_tui.model.run import looks_like_dask_key
from scalable_tui.sources.rundir.reader import RunDirReader
from tests.app.helpers import append_jsonl, screen_text, wait_for, wait_loaded, wait_text
from tests.conftest import fixture_run

pytestmark = pytest.mark.anyio
SIZE = (120, 40)


def app_for(run_dir: Path, **kw) -> ReviewApp:
    return ReviewApp(RunDirReader(run_dir), **kw)


def reversed_spans(cell: Text) -> list[str]:
    """The highlighted (reverse video) parts of a cell."""
    return [cell.plain[s.start : s.end] for s in cell.spans if "reverse" in str(s.style)]


def column(table: DataTable, key: str) -> list[Text]:
    return [table.get_cell_at((r, table.get_column_index(key))) for r in range(table.row_count)]


def column_values(table: DataTable, key: str) -> list[str]:
    return [c.plain for c in column(table, key)]


async def goto_failures(pilot, app: ReviewApp) -> FailuresScreen:
    await wait_loaded(pilot)
    await pilot.press("3")
    await wait_for(pilot, lambda: isinstance(app.screen, FailuresScreen) and app.screen.shown_version > 0, what="Failures")
    return app.screen  # type: ignore[return-value]


async def test_failures_filter_regex_highlight_esc_and_digits() -> None:
    app = app_for(fixture_run("mixed-failures"))
    async with app.run_test(size=SIZE) as pilot:
        screen = await goto_failures(pilot, app)
        table = screen.query_one(DataTable)
        assert len(screen.shown_ids) == 15 and table.row_count == 15
        assert "21 failures in 15 groups" in screen_text(app)

        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"route_xanthos")  # a task name: only in the failures' task names
        await wait_for(pilot, lambda: screen.query_text == "route_xanthos" and table.row_count == 2, what="task-name filter")
        assert [c.plain for c in column(table, "category")] == ["network", "network"]
        assert reversed_spans(column(table, "task")[0]) == ["route_xanthos"]
        text = await wait_text(pilot, "showing 2 groups (3 failures)")
        assert "filter: route_xanthos" in text
        # While the input has focus a digit is typed into it, not a screen switch.
        await pilot.press("3")
        assert isinstance(app.screen, FailuresScreen) and screen.query_one(Input).value == "route_xanthos3"
        await wait_for(pilot, lambda: table.row_count == 0, what="no group matches route_xanthos3")
        await pilot.press("backspace")
        await wait_for(pilot, lambda: table.row_count == 2)

        screen.query_one(Input).value = "/pickl(e|ing)/"  # regex: serialization groups, on the exception or pattern
        await wait_for(pilot, lambda: table.row_count == 3, what="regex filter")
        assert {c.plain for c in column(table, "category")} == {"serialization"}
        assert reversed_spans(column(table, "exception")[column_values(table, "exception").index("PicklingError")]) == ["Pickling"]

        screen.query_one(Input).value = "/[unclosed/"
        text = await wait_text(pilot, "bad regex")
        assert table.row_count == 3  # the last good filter stays applied, and the info line says so
        assert "bad regex (not applied)" in text

        screen.query_one(Input).value = "KeyError"
        await wait_for(pilot, lambda: table.row_count == 1)
        await pilot.press("enter")  # apply; focus back on the table
        assert app.focused is table
        # The input is not focused: digits switch screens again, and the filter survives.
        await pilot.press("2")
        await wait_for(pilot, lambda: isinstance(app.screen, TasksScreen), what="2 -> Tasks")
        await pilot.press("3")
        await wait_for(pilot, lambda: app.screen is screen, what="3 -> Failures")
        assert table.row_count == 1 and screen.query_text == "KeyError"

        # Esc: the filter first (input focused: close it; on the table: clear it), then back.
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press("escape")
        assert app.focused is table and app.screen is screen and table.row_count == 1
        await pilot.press("escape")
        await wait_for(pilot, lambda: table.row_count == 15 and screen.query_text == "", what="Esc clears the filter")
        assert app.screen is screen and screen.query_one(Input).value == ""
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, OverviewScreen), what="Esc back to the Overview")


async def test_failures_faults_only_hides_warning_groups() -> None:
    app = app_for(fixture_run("mixed-failures"))
    async with app.run_test(size=SIZE) as pilot:
        screen = await goto_failures(pilot, app)
        table = screen.query_one(DataTable)
        assert "warning" in column_values(table, "severity")
        await pilot.press("f")
        await wait_for(pilot, lambda: table.row_count == 13, what="faults only")
        assert isinstance(app.screen, FailuresScreen)  # f is "faults only" here, not a screen switch
        assert set(column_values(table, "severity")) == {"critical", "error"}
        text = await wait_text(pilot, "faults only: error/critical")
        assert "showing 13 groups (18 failures)" in text
        assert "f Only error/critical" in text  # the footer says what f keeps
        await pilot.press("f")
        await wait_for(pilot, lambda: table.row_count == 15, what="faults only off")


async def test_group_failures_filter_and_faults_only(run_copy) -> None:
    run = run_copy("gcam-stitches")
    app = app_for(run)
    async with app.run_test(size=SIZE) as pilot:
        screen = await goto_failures(pilot, app)
        table = screen.query_one(DataTable)
        fid = next(f.id for f in app.snapshot.failure_findings() if "KeyError" in f.exception_types)
        table.move_cursor(row=table.get_row_index(fid))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FailureGroupScreen), what="group screen")
        group = app.screen
        gtable = group.query_one(DataTable)
        await wait_for(pilot, lambda: gtable.row_count == 14)
        snap_ids = {r.message: r.task_id for r in group.records}

        await pilot.press("slash")
        await pilot.press(*"/'region_\\d\\d'/")
        await wait_for(pilot, lambda: gtable.row_count == 10, what="regex on the message")
        msgs = column_values(gtable, "message")
        assert all(re.fullmatch(r"'region_\d\d'", m) for m in msgs), msgs
        assert all(reversed_spans(c) == [c.plain] for c in column(gtable, "message"))
        await wait_text(pilot, "showing 10 of 14")
        group.query_one(Input).value = "region_1"  # substring: region_18, region_117 and region_108
        await wait_for(pilot, lambda: gtable.row_count == 3)
        assert sorted(msgs := column_values(gtable, "message")) == ["'region_108'", "'region_117'", "'region_18'"], msgs
        await pilot.press("enter")
        await pilot.press("enter")  # opens the highlighted (filtered) failure
        await wait_for(pilot, lambda: type(app.screen).__name__ == "FailureDetailScreen", what="detail")
        assert app.screen.record.message == column_values(gtable, "message")[gtable.cursor_row]
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is group)
        await pilot.press("escape")  # clears the filter before going back
        await wait_for(pilot, lambda: gtable.row_count == 14)
        assert app.screen is group

        # A retry of the region_0 task succeeded: f hides that failure.
        append_jsonl(
            run / "tasks.jsonl",
            {"event_type": "task", "schema_version": 1, "task_id": snap_ids["'region_0'"], "state": "succeeded",
             "task_name": "run_gcam", "component": "gcam", "timestamp": "2026-11-23T08:11:36Z", "duration_s": 1.0},
        )
        app.start_reading(RunDirReader(run))  # re-read (the fixture run is finished, so no tailing)
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.counts.get("succeeded") == 80, what="re-read")
        await pilot.press("f")
        await wait_for(pilot, lambda: group.faults_only and gtable.row_count == 13, what="faults only in the group")
        assert "'region_0'" not in column_values(gtable, "message")
        await wait_text(pilot, "faults only: task still failed")


async def test_findings_filter_and_faults_only() -> None:
    app = app_for(fixture_run("mixed-failures"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.press("4")
        await wait_for(pilot, lambda: isinstance(app.screen, FindingsScreen) and app.screen.shown_version > 0)
        screen = app.screen
        table = screen.query_one(DataTable)
        total = len(app.snapshot.diagnosis.findings)
        assert table.row_count == total == 15
        await pilot.press("slash", *"serializ")
        await wait_for(pilot, lambda: table.row_count == 3, what="findings filter")
        assert set(column_values(table, "category")) == {"serialization"}
        assert reversed_spans(column(table, "category")[0]) == ["serializ"]
        detail = screen.query_one("#finding-text", Static)
        shown = detail.content
        assert isinstance(shown, Text) and "serializ" in [x.lower() for x in reversed_spans(shown)]
        await pilot.press("enter")
        await pilot.press("f")  # serialization findings are errors: all stay
        await wait_for(pilot, lambda: screen.faults_only)
        assert table.row_count == 3
        await pilot.press("escape")  # clears the filter; faults only stays
        await wait_for(pilot, lambda: screen.query_text == "" and table.row_count == 13, what="filter cleared")
        assert "warning" not in column_values(table, "severity")
        await wait_text(pilot, "showing 13 of 15 findings  ·  faults only: error/critical")
        await pilot.press("f")
        await wait_for(pilot, lambda: table.row_count == 15)


async def test_mouse_click_opens_a_failure_group_and_header_sorts(gcam_run: Path) -> None:
    app = app_for(gcam_run)
    async with app.run_test(size=SIZE) as pilot:
        screen = await goto_failures(pilot, app)
        table = screen.query_one(DataTable)
        second = screen.shown_ids[1]
        # Header row is y=0; the second group is y=2.  First click highlights, the second opens.
        await pilot.click("#fail-groups", offset=(3, 2))
        await wait_for(pilot, lambda: table.cursor_row == 1, what="click highlights the row")
        assert isinstance(app.screen, FailuresScreen)
        await pilot.click("#fail-groups", offset=(3, 2))
        await wait_for(pilot, lambda: isinstance(app.screen, FailureGroupScreen), what="click opens the group")
        assert app.screen.finding_id == second
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)

        # Clicking the "category" header sorts by it; again reverses.
        x = sum(c.get_render_width(table) for c in table.ordered_columns[:1]) + 2
        await pilot.click("#fail-groups", offset=(x, 0))
        await wait_for(pilot, lambda: screen.table_sort == ("category", False), what="header click")
        cats = column_values(table, "category")
        assert cats == sorted(cats) and cats[0] == "disk_full"
        await pilot.click("#fail-groups", offset=(x, 0))
        await wait_for(pilot, lambda: screen.table_sort == ("category", True))
        assert column_values(table, "category") == sorted(cats, reverse=True)

        await pilot.press("2")
        await wait_for(pilot, lambda: isinstance(app.screen, TasksScreen) and app.screen.shown_key is not None)
        tasks = app.screen
        ttable = tasks.query_one(DataTable)
        x = sum(c.get_render_width(ttable) for c in ttable.ordered_columns[:4]) + 2  # "duration"
        await pilot.click("#task-table", offset=(x, 0))
        await wait_for(pilot, lambda: tasks.shown_key[3] == 4, what="tasks sorted by a header click")
        durations = [float(str(ttable.get_row_at(i)[4]).rstrip("s")) for i in range(ttable.row_count)]
        assert durations == sorted(durations)


async def test_theme_toggles_between_dark_and_light(gcam_run: Path) -> None:
    app = app_for(gcam_run)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        assert app.theme == "textual-dark" and app.current_theme.dark
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: app.theme == "textual-light", what="light theme")
        assert not app.current_theme.dark
        await pilot.press("T")
        await wait_for(pilot, lambda: app.theme == "textual-dark", what="dark theme again")
        titles = {c.title: c for c in app.get_system_commands(app.screen)}
        assert "Toggle light/dark theme" in titles
        titles["Toggle light/dark theme"].callback()
        await wait_for(pilot, lambda: app.theme == "textual-light", what="light via the palette command")
        await pilot.press("question_mark")
        await wait_text(pilot, "Light/dark theme")


async def test_overview_bars_show_the_failed_share_and_fold_mapped_tasks(run_copy) -> None:
    run = run_copy("gcam-stitches")
    base = {"event_type": "task", "schema_version": 1, "component": "post", "timestamp": "2026-11-23T08:11:36Z", "duration_s": 0.1}
    events = [
        {**base, "task_id": f"map{i:029d}", "task_name": f"postprocess[{i}]", "state": "failed" if i % 100 == 7 else "succeeded"}
        for i in range(300)
    ]
    events += [{**base, "task_id": f"one{i:029d}", "task_name": f"step_{i:02d}", "state": "succeeded"} for i in range(14)]
    append_jsonl(run / "tasks.jsonl", *events)
    app = app_for(run)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        text = await wait_text(pilot, "postprocess[…]")
        lines = text.splitlines()
        gcam = next(ln for ln in lines if ln.strip().startswith("run_gcam "))
        assert "79 ok · 41 failed" in gcam
        bar = re.search(r"[█▓]+", gcam).group(0)  # noqa: RUF001
        ok, failed = bar.count("█"), bar.count("▓")
        assert ok and failed and abs(failed / (ok + failed) - 41 / 120) < 0.1, bar
        mapped = next(ln for ln in lines if "postprocess[…]" in ln)
        assert "297 ok · 3 failed" in mapped
        assert "postprocess[0]" not in text and "postprocess[299]" not in text
        rows = [ln for ln in lines if re.search(r"\d+ ok", ln)]
        assert len(rows) == 12  # capped
        assert "… 4 more task names" in text  # 16 names: run_gcam, postprocess[…], step_00..13
        assert "100%" not in text


async def test_tasks_never_show_a_dask_key_as_worker(run_copy) -> None:
    run = run_copy("gcam-stitches")
    append_jsonl(
        run / "tasks.jsonl",
        {"event_type": "task", "schema_version": 1, "task_id": "w" * 32, "task_name": "real_worker", "state": "succeeded",
         "timestamp": "2026-11-23T08:11:36Z", "worker": "tcp://10.0.0.7:4242"},
    )
    app = app_for(run)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.press("2")
        await wait_for(pilot, lambda: isinstance(app.screen, TasksScreen) and app.screen.matched == 121)
        table = app.screen.query_one(DataTable)
        workers = column_values(table, "worker")
        keys = column_values(table, "dask key")
        assert not any(looks_like_dask_key(w) for w in workers)
        assert sum(looks_like_dask_key(k) for k in keys) == 120  # every fixture task had its key in "worker"
        assert workers.count("tcp://10.0.0.7:4242") == 1 and workers.count("-") == 120
        assert all(c.style == "dim" for c in column(table, "dask key"))
        # The filter still finds a task by its key.
        key = next(k for k in keys if looks_like_dask_key(k))
        app.screen.query_one(Input).value = key
        await wait_for(pilot, lambda: app.screen.matched == 1, what="filter on a dask key")

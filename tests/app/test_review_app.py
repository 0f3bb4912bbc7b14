"""Pilot tests driving the real ReviewApp over fixture runs (and tmp copies of them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input

from scalable_tui.tui.app import ReviewApp
from scalable_tui.tui.screens.failures import FailuresScreen
from scalable_tui.tui.screens.failure_detail import FailureDetailScreen
from scalable_tui.tui.screens.failure_group import FailureGroupScreen
from scalable_tui.tui.screens.findings import FindingsScreen
from scalable_tui.tui.screens.overview import OverviewScreen
from scalable_tui.tui.screens.tasks import TasksScreen
from scalable_tui.tui.screens.workers import WorkersScreen
from scalable_tui.sources.rundir.reader import RunDirReader
from tests.app.helpers import append_jsonl, screen_text, set_status, wait_for, wait_loaded, wait_text
from tests.conftest import tree_fingerprint

pytestmark = pytest.mark.anyio
SIZE = (120, 40)
UNTRUSTED_MSG = "bad [bold red]x[/] and [link=https://evil.example]click[/link] \x1b[31mred\x1b[0m"
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/work/model/run.py", line 12, in run_gcam\n'
    "    solve(region)\n"
    '  File "/work/model/solver.py", line 40, in solve\n'
    "    raise ValueError(msg)\n"
    f"ValueError: {UNTRUSTED_MSG}\n"
)


def app_for(run_dir: Path, **kw) -> ReviewApp:
    return ReviewApp(RunDirReader(run_dir), **kw)


async def test_screens_switch_with_digits_letters_and_escape(gcam_run: Path) -> None:
    app = app_for(gcam_run)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        assert isinstance(app.screen, OverviewScreen)
        text = await wait_text(pilot, "120 tasks")
        assert "79 succeeded" in text and "41 failed" in text
        assert "finished (completed)" in text
        for key, cls, needle in (
            ("2", TasksScreen, "120 of 120 tasks"),
            ("3", FailuresScreen, "41 failures in 5 groups"),
            ("4", FindingsScreen, "KeyError in run_gcam"),
            ("5", WorkersScreen, "cluster_created"),
            ("t", TasksScreen, "120 of 120 tasks"),
            ("i", FindingsScreen, "critical"),  # (f on the tasks screen means "faults only")
            ("w", WorkersScreen, "3 worker/cluster events"),
            ("o", OverviewScreen, "Failures by category"),
            ("f", FailuresScreen, "41 failures in 5 groups"),
        ):
            await pilot.press(key)
            await wait_for(pilot, lambda: isinstance(app.screen, cls), what=cls.__name__)
            await wait_text(pilot, needle)
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, WorkersScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, OverviewScreen), what="Esc back to the overview")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: bool(app.screen.query("HelpPanel")), what="the help panel")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: not app.screen.query("HelpPanel"), what="the help panel closed")


async def test_overview_shows_categories_findings_and_notices(run_copy) -> None:
    run = run_copy("gcam-stitches")
    with (run / "tasks.jsonl").open("ab") as fh:
        fh.write(b"{not json\n")
    app = app_for(run)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        text = screen_text(app)
        for needle in ("invalid_input", "gpu_oom", "Top findings", "KeyError in run_gcam (14×)", "gcam-stitches"):
            assert needle in text, needle
        assert "Notices:" in text and "tasks.jsonl: skipped 1 corrupt line" in text


async def test_tasks_filter_regex_faults_and_sort(gcam_run: Path) -> None:
    app = app_for(gcam_run)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, TasksScreen))
        screen = app.screen
        assert isinstance(screen, TasksScreen)
        await wait_for(pilot, lambda: screen.matched == 120 and screen.shown_key is not None)
        table = screen.query_one(DataTable)
        assert table.row_count == 120

        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"KeyError")
        await wait_for(pilot, lambda: screen.shown_key is not None and screen.shown_key[1] == "KeyError", what="filter")
        assert screen.matched == 14 and table.row_count == 14
        await pilot.press("enter")  # apply and return to the table
        assert app.focused is table

        screen.query_one(Input).value = "/zerodivision|permission/"
        await wait_for(pilot, lambda: screen.shown_key[1] == "/zerodivision|permission/", what="regex filter")
        assert screen.matched == 17 and table.row_count == 17

        screen.query_one(Input).value = ""
        await wait_for(pilot, lambda: screen.shown_key[1] == "", what="cleared filter")
        await pilot.press("f")  # faults only on the tasks screen
        await wait_for(pilot, lambda: screen.shown_key[2] is True, what="faults only")
        assert isinstance(app.screen, TasksScreen)
        assert screen.matched == 41 and table.row_count == 41
        assert "faults only" in screen_text(app)

        await pilot.press("s", "s", "s", "s", "s")  # sort by duration (column 4)
        await wait_for(pilot, lambda: screen.shown_key[3] == 4, what="sorted by duration")
        durations = [float(str(table.get_row_at(i)[4]).rstrip("s")) for i in range(table.row_count)]
        assert durations == sorted(durations)
        await pilot.press("r")
        await wait_for(pilot, lambda: screen.shown_key[4] is True, what="reversed")
        durations = [float(str(table.get_row_at(i)[4]).rstrip("s")) for i in range(table.row_count)]
        assert durations == sorted(durations, reverse=True)

        screen.query_one(Input).value = "/[unclosed/"
        await wait_text(pilot, "bad regex")


async def test_tasks_table_is_capped_with_a_more_line(gcam_run: Path, monkeypatch) -> None:
    import scalable_tui.tui.screens.tasks as tasks_mod

    monkeypatch.setattr(tasks_mod, "MAX_ROWS", 50)
    app = app_for(gcam_run)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, TasksScreen) and app.screen.shown_key is not None)
        assert app.screen.query_one(DataTable).row_count == 50
        await wait_text(pilot, "70 more — refine the filter")


async def _open_group(pilot, app: ReviewApp, exception: str) -> None:
    await pilot.press("f")
    await wait_for(pilot, lambda: isinstance(app.screen, FailuresScreen) and app.screen.shown_version > 0)
    table = app.screen.query_one(DataTable)
    snap = app.snapshot
    fid = next(f.id for f in snap.failure_findings() if exception in f.exception_types)
    table.move_cursor(row=table.get_row_index(fid))
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, FailureGroupScreen), what="group screen")


async def test_drill_into_a_failure_group_and_one_failure(gcam_run: Path) -> None:
    app = app_for(gcam_run)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await _open_group(pilot, app, "KeyError")
        text = await wait_text(pilot, "14× KeyError in run_gcam")
        assert app.screen.query_one(DataTable).row_count == 14
        assert text.count("KeyError   'region_") == 14 or "'region_" in text
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FailureDetailScreen), what="detail screen")
        text = await wait_text(pilot, "No traceback recorded")
        assert "KeyError: 'region_" in text
        assert "memory 2G" in text  # resources joined from resources.jsonl
        await pilot.press("c")
        assert app.clipboard.startswith("KeyError: 'region_")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, FailureGroupScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, FailuresScreen))


async def test_untrusted_text_is_shown_literally_and_traceback_highlighted(run_copy) -> None:
    run = run_copy("gcam-stitches")
    append_jsonl(
        run / "failures.jsonl",
        {
            "event_type": "failure",
            "failure_class": "ValueError",
            "message": UNTRUSTED_MSG,
            "provider": "local",
            "schema_version": 1,
            "task_id": "feedface00000000000000000000beef",
            "timestamp": "2026-11-23T08:11:35Z",
            "details": {"traceback": TRACEBACK, "worker_id": "tcp://10.0.0.7:4242"},
        },
    )
    app = app_for(run)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await _open_group(pilot, app, "ValueError")
        text = await wait_text(pilot, "[bold red]x[/]")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FailureDetailScreen), what="detail screen")
        text = await wait_text(pilot, "Traceback (most recent call last)")
        assert "bad [bold red]x[/] and [link=https://evil.example]click[/link] \\x1b[31mred\\x1b[0m" in text
        assert "\x1b" not in text
        assert 'File "/work/model/solver.py", line 40, in solve' in text
        assert "tcp://10.0.0.7:4242" in text
        svg = app.export_screenshot()
        assert "[bold&#160;red]x[/]" in svg or "[bold red]x[/]" in svg
        await pilot.press("c")
        assert app.clipboard.startswith("Traceback (most recent call last)")
        assert "\x1b" not in app.clipboard


async def test_copy_a_finding(gcam_run: Path) -> None:
    app = app_for(gcam_run)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, FindingsScreen) and app.screen.shown_version > 0)
        await pilot.press("down")  # the KeyError finding (second: critical disk_full first)
        await pilot.pause()
        await pilot.press("c")
        assert app.clipboard.startswith("[error] KeyError in run_gcam")
        assert "suggestion:" in app.clipboard and "count: 14" in app.clipboard


async def test_export_findings_markdown_and_json_never_into_the_run(run_copy, tmp_path: Path) -> None:
    run = run_copy("gcam-stitches")
    before = tree_fingerprint(run)
    app = app_for(run)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        for target, check in (
            (tmp_path / "out" / "findings.json", "json"),
            (tmp_path / "out" / "findings.md", "md"),
        ):
            target.parent.mkdir(exist_ok=True)
            await pilot.press("e")
            await wait_for(pilot, lambda: isinstance(app.focused, Input), what="export dialog")
            app.focused.value = str(target)
            await pilot.press("enter")
            await wait_for(pilot, target.exists, what=f"{target} written")
            if check == "json":
                data = json.loads(target.read_text())
                assert data["failures_total"] == 41
                assert len([f for f in data["findings"] if f["count"]]) == 5
            else:
                md = target.read_text()
                assert "KeyError" in md and "gpu_oom" in md
        # Refused inside the run directory; the dialog stays open with the reason.
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.focused, Input), what="export dialog")
        app.focused.value = str(run / "findings.md")
        await pilot.press("enter")
        await wait_text(pilot, "refusing to write inside the run directory")
        await pilot.press("escape")
    assert tree_fingerprint(run) == before


def _failed_task_lines(tid: str, ts: str, error_type: str, message: str) -> list[dict]:
    base = {
        "component": "gcam", "duration_s": None, "error_message": None, "error_type": None, "event_type": "task",
        "function_name": "run_gcam", "requested_workers": 1, "schema_version": 1, "tag": "gcam",
        "task_id": tid, "task_name": "run_gcam", "worker": None,
    }
    return [
        {**base, "state": "submitted", "timestamp": ts},
        {**base, "state": "failed", "timestamp": ts, "duration_s": 0.5, "error_type": error_type, "error_message": message},
    ]


async def test_tailing_a_running_run_shows_new_failures(run_copy) -> None:
    run = run_copy("gcam-stitches")
    set_status(run, "running")
    (run / "summary.json").unlink()
    last = 1795421494.0  # 2026-11-23T08:11:34Z, the newest event in the fixture
    clock = {"now": last + 5}
    app = app_for(run, poll_interval=0.05, now=lambda: clock["now"])
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await wait_text(pilot, "live: tailing")
        assert app.snapshot.counts["failed"] == 41
        for i in range(3):
            append_jsonl(run / "tasks.jsonl", *_failed_task_lines(f"tail{i:028d}", "2026-11-23T08:11:40Z", "MemoryError", "boom"))
        await wait_for(pilot, lambda: app.snapshot.counts.get("failed") == 44, what="three new failed tasks")
        await wait_text(pilot, "44 failed")
        await pilot.press("f")
        await wait_text(pilot, "44 failures in")
        # No events for hours: the footer says so (the clock is injected).
        clock["now"] = last + 6 + 4 * 3600  # 4h after the appended events (08:11:40Z)
        await wait_text(pilot, "abandoned? no events for 4h")
        set_status(run, "completed", "2026-11-23T08:12:00Z")
        await wait_text(pilot, "finished (completed)")


async def test_run_picker_opens_the_chosen_run(run_copy) -> None:
    run = run_copy("gcam-stitches")
    app = ReviewApp(None, runs=[run])
    async with app.run_test(size=SIZE) as pilot:
        await wait_text(pilot, "gcam-stitches")
        await wait_text(pilot, "completed")
        await pilot.press("enter")
        await wait_loaded(pilot)
        assert isinstance(app.screen, OverviewScreen)
        await wait_text(pilot, "79 succeeded")


async def test_load_error_is_shown_not_raised(tmp_path: Path) -> None:
    class Broken:
        state = None

        def load(self):
            raise OSError("disk on fire [bold]x[/]")

        def refresh(self):
            raise AssertionError("not reached")

    app = ReviewApp(Broken())
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.load_error is not None)
        await wait_text(pilot, "disk on fire [bold]x[/]")


async def test_command_palette_reaches_screens(gcam_run: Path) -> None:
    app = app_for(gcam_run)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for t in ("Go to Tasks", "Go to Failures", "Go to Findings", "Go to Workers", "Copy", "Export findings"):
            assert t in titles
        await pilot.press("ctrl+p")
        await pilot.press(*"Go to Workers")
        await wait_text(pilot, "Go to Workers")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, WorkersScreen), what="workers via the palette")


@pytest.fixture(scope="module")
def big_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated run in Scalable's on-disk format, several MB: read in many slices."""
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("big")
    gen = Path(__file__).resolve().parents[2] / "bench" / "gen_big_run.py"
    subprocess.run([sys.executable, str(gen), str(out), "--tasks", "8000"], check=True, stdout=subprocess.DEVNULL)
    return next(out.glob("run-*"))


async def test_large_run_first_screen_then_progress_then_everything(big_run: Path, monkeypatch) -> None:
    import scalable_tui.session.review as app_mod  # the slices are the review session's
    from scalable_tui.tui.widgets.status import PartialBanner, StatusLine

    monkeypatch.setattr(app_mod, "FIRST_SLICE", 64 << 10)
    monkeypatch.setattr(app_mod, "PROGRESS_EVERY", 0.0)  # the rest is one read: a report per chunk read
    app = app_for(big_run)
    seen: list[tuple[float, str]] = []
    banners: list[tuple[float, bool, str]] = []
    firsts: list[tuple[int, float | None]] = []
    from scalable_tui.tui.app import ScalableApp  # the one app class (ReviewApp builds it)

    orig_progress, orig_state = ScalableApp.on_load_progress, ScalableApp.on_state_updated

    def on_progress(self: ScalableApp, message) -> None:  # type: ignore[no-untyped-def]
        orig_progress(self, message)
        seen.append((message.fraction, str(self.screen.query_one(StatusLine).render())))
        banner = self.screen.query_one(PartialBanner)
        banners.append((message.fraction, banner.display, str(banner.render())))

    def on_state(self: ScalableApp, message) -> None:  # type: ignore[no-untyped-def]
        firsts.append((message.snapshot.tasks.n_tasks(), message.snapshot.loading))
        orig_state(self, message)

    monkeypatch.setattr(ScalableApp, "on_load_progress", on_progress)
    monkeypatch.setattr(ScalableApp, "on_state_updated", on_state)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.loading is None, 30, "indexed")
        # the first screen came from the first slice, before the whole run was read
        n_first, loading_first = firsts[0]
        assert loading_first is not None and loading_first < 0.2 and 0 < n_first < 8000
        # then the status line moved through the read, monotonically, to the end
        fractions = [f for f, _ in seen]
        assert len(fractions) >= 5 and fractions == sorted(fractions) and fractions[-1] == 1.0
        assert any("indexing…" in text and "% read" in text for _, text in seen[:-1])
        # and the last snapshot has everything
        assert app.snapshot.tasks.n_tasks() == 8000 and app.snapshot.loading is None
        assert "indexing" not in screen_text(app)
        # while reading, the screen itself said its counts were of the part read (not just the status line)
        partial = [(f, text) for f, shown, text in banners if shown and f < 1.0]
        assert partial and all("of the part read so far" in text and f"({f:.0%} of its files)" in text
                              for f, text in partial)
        await wait_for(pilot, lambda: "Still reading" not in screen_text(app), 10, "the banner gone (next paint)")


async def test_tasks_scalable_left_running_are_said_never_finished_in_an_abandoned_run() -> None:
    """The Tasks screen said "running" for tasks of a dead run while the Overview said "never finished"."""
    from tests.conftest import fixture_run

    app = ReviewApp(RunDirReader(fixture_run("crashed-partial")))
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_loaded(pilot)
        assert "7 never finished" in await wait_text(pilot, "never finished")
        await pilot.press("2")
        await wait_for(pilot, lambda: isinstance(app.screen, TasksScreen), what="Tasks")
        table = app.screen.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 30, what="30 task rows")
        states = [str(table.get_row_at(i)[3]) for i in range(table.row_count)]
        assert states.count("never finished") == 7 and "running" not in states


async def test_the_overview_says_what_the_diagnosis_left_uncounted(tmp_path: Path) -> None:
    """diagnose noted "not counted as failures: …" on stderr; the review app did not say it anywhere."""
    import shutil

    from tests.conftest import fixture_run

    run = tmp_path / "run"
    shutil.copytree(fixture_run("gcam-stitches"), run)
    first = (run / "failures.jsonl").read_text().splitlines()[0]
    with open(run / "failures.jsonl", "a") as f:  # the same task's failure once more: counted once
        f.write(first + "\n")
    app = ReviewApp(RunDirReader(run))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_loaded(pilot)
        text = await wait_text(pilot, "not counted as failures")
        assert "1 earlier failure record superseded by a later record of the same task" in " ".join(text.split())
        assert "41 failures" in text

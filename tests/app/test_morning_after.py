"""The review app's morning-after parts (issue #16): the History screen, the Findings "since" column, and
copying a failure group's task ids (y) or retry script (Y).

The runs are written by the real Scalable library: the fixture runs, and three successive "nights" of one
project (``tests/compare``'s ``nightly_runs``: KeyError on nights 1 and 3, ZeroDivisionError every night,
PermissionError night 1 only, FileNotFoundError night 2 only, ValueError night 3 only).
"""

from __future__ import annotations

import ast
import json
import time
from pathlib import Path

import pytest
from textual.widgets import DataTable

from scalable_tui.sources.rundir.reader import RunDirReader
from scalable_tui.tui.app import ReviewApp
from scalable_tui.tui.screens.failure_group import FailureGroupScreen
from scalable_tui.tui.screens.failures import FailuresScreen
from scalable_tui.tui.screens.findings import FindingsScreen
from scalable_tui.tui.screens.history import HistoryScreen
from tests.app.helpers import screen_text, wait_for, wait_loaded, wait_text
from tests.compare.conftest import nightly_runs  # noqa: F401 - the session fixture (three real Scalable runs)
from tests.conftest import fixture_run, run_cli, tree_fingerprint

pytestmark = pytest.mark.anyio
SIZE = (140, 40)


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test its own XDG_CACHE_HOME: the run summaries never leak between tests or into ~/.cache."""
    cache = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return cache


def app_for(run_dir: Path) -> ReviewApp:
    return ReviewApp(RunDirReader(run_dir), now=lambda: 1795425000.0)


def since_cells(app: ReviewApp) -> dict[str, str]:
    """Finding title -> its "since" cell, as the table shows it."""
    table = app.screen.query_one(DataTable)
    out = {}
    for row in range(table.row_count):
        key = table.coordinate_to_cell_key((row, 0)).row_key.value
        f = app.snapshot.finding(str(key))
        out[f.title] = table.get_cell(key, "since").plain
    return out


def by_exception(cells: dict[str, str], exc: str) -> str:
    (hit,) = [v for k, v in cells.items() if exc in k]
    return hit


async def open_findings(pilot, app: ReviewApp) -> FindingsScreen:
    await wait_loaded(pilot)
    await pilot.press("4")
    await wait_for(pilot, lambda: isinstance(app.screen, FindingsScreen) and app.screen.shown_version > 0)
    return app.screen


async def select_finding(pilot, app: ReviewApp, fid: str) -> None:
    table = app.screen.query_one(DataTable)
    table.move_cursor(row=table.get_row_index(fid))
    await pilot.pause()


def notices(app: ReviewApp) -> list[str]:
    return [n.message for n in app._notifications]


# -- without history --------------------------------------------------------------------------------------
async def test_since_says_no_history_for_a_run_alone() -> None:
    run = fixture_run("mixed-failures")  # alone in its directory
    app = app_for(run)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_findings(pilot, app)
        # Known at once (no other run beside it): no column of "—", never a guessed "new"; said in words.
        assert screen.no_history == "no history: no other run in this run's directory"
        assert "since" not in screen.query_one(DataTable).columns
        assert "since      — no history: no other run in this run's directory" in screen.detail_text.plain
        await wait_text(pilot, "21 failures in 15 groups")
        assert "no history: no other run in" in str(screen.query_one("#findings-info").render())


async def test_history_screen_of_a_run_alone_says_the_history_starts_here() -> None:
    run = fixture_run("gcam-stitches")
    app = app_for(run)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.press("8")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.table is not None)
        screen: HistoryScreen = app.screen
        assert screen.table.run_ids == (run.name,) and screen.table.position == 1
        assert any("the history starts with this run" in n for n in screen.table.notes)
        text = await wait_text(pilot, "the history starts with this run")
        assert "History of project gcam-stitches: 1 run in" in text
        # Each group of this run is a row, with its count here.
        here = {r.title: r.here for r in screen.table.rows}
        assert len(here) == len({f.signature or f.id for f in app.snapshot.diagnosis.findings})
        key = next(t for t in here if t.startswith("KeyError"))
        assert here[key] == 14


# -- copying a group --------------------------------------------------------------------------------------
async def test_y_copies_every_task_id_of_the_group(gcam_run: Path) -> None:
    doc = json.loads(run_cli("diagnose", str(gcam_run), "--format", "json", "--no-ai", "--slurm", "off").stdout)
    cli = next(f for f in doc["findings"] if f["title"].startswith("KeyError"))
    app = app_for(gcam_run)
    async with app.run_test(size=SIZE) as pilot:
        await open_findings(pilot, app)
        f = next(x for x in app.snapshot.diagnosis.findings if x.title.startswith("KeyError"))
        await select_finding(pilot, app, f.id)
        assert app.clipboard == ""
        await pilot.press("y")
        await wait_for(pilot, lambda: app.clipboard != "", what="the copy")
        ids = app.clipboard.splitlines()
        assert app.clipboard.endswith("\n") and len(ids) == len(set(ids))
        assert len(ids) == len(cli["task_ids"]) + cli["task_ids_more"] == 14
        assert set(cli["task_ids"]) <= set(ids)
        n = [i for i, x in enumerate(app.snapshot.diagnosis.findings, 1) if x.id == f.id][0]
        assert any(m.startswith(f'copied 14 task ids of group {n} "KeyError') for m in notices(app))


async def test_y_on_a_failure_group_screen(gcam_run: Path) -> None:
    app = app_for(gcam_run)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.press("3")
        await wait_for(pilot, lambda: isinstance(app.screen, FailuresScreen) and app.screen.shown_version > 0)
        fid = next(f.id for f in app.snapshot.failure_findings() if "ZeroDivisionError" in f.exception_types)
        await select_finding(pilot, app, fid)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FailureGroupScreen), what="group screen")
        await wait_text(pilot, "y/Y: copy task ids/retry script")
        await pilot.press("y")
        await wait_for(pilot, lambda: app.clipboard != "", what="the copy")
        expected = {r.task_id for r in app.snapshot.failures_of(app.snapshot.finding(fid))}
        assert set(app.clipboard.splitlines()) == expected and len(expected) == 11


def _tasks_literal(script: str) -> list[dict]:
    """The TASKS list of a retry script (parsed, not run)."""
    tree = ast.parse(script)
    (node,) = [n for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "TASKS"]
    return ast.literal_eval(node.value)


async def test_Y_copies_the_groups_retry_script_as_retry_plan_prints_it() -> None:  # noqa: N802
    run = fixture_run("mixed-failures")
    before = tree_fingerprint(run)
    cli = run_cli("retry-plan", str(run), "--format", "python", "--slurm", "off").stdout
    plan = json.loads(run_cli("retry-plan", str(run), "--format", "json", "--slurm", "off").stdout)
    group = next(g for g in plan["groups"] if g["action"] == "retry" and "TimeoutError" in g["title"])
    app = app_for(run)
    async with app.run_test(size=SIZE) as pilot:
        await open_findings(pilot, app)
        await select_finding(pilot, app, group["finding_id"])
        await pilot.press("Y")
        await wait_for(pilot, lambda: app.clipboard != "", what="the copy")
        script = app.clipboard
        compile(script, "retry.py", "exec")  # valid Python
        mine = _tasks_literal(script)
        assert mine == [t for t in _tasks_literal(cli) if t["group"] == group["id"]]
        assert [t["task_id"] for t in mine] == group["task_ids"] and len(mine) == 2
        # The rest of the script (manifest, target, changes) is the command's, line for line.
        for name in ("MANIFEST = ", "TARGET = "):
            assert next(ln for ln in script.splitlines() if ln.startswith(name)) == \
                next(ln for ln in cli.splitlines() if ln.startswith(name))
        assert "COMPONENT_CHANGES = {}" in script  # a plain retry changes nothing (the whole plan raises memory)

        # An out-of-memory group: its own memory change, its own tasks.
        oom = next(g for g in plan["groups"] if g["action"] == "retry_more_memory" and g["resubmittable"])
        await select_finding(pilot, app, oom["finding_id"])
        await pilot.press("Y")
        await wait_for(pilot, lambda: app.clipboard != script, what="the second copy")
        assert f"COMPONENT_CHANGES = {{'{oom['component']}': {{'memory': '{oom['change']['memory']}'}}}}" \
            in app.clipboard
        assert {t["task_id"] for t in _tasks_literal(app.clipboard)} == {
            t for g in plan["groups"] if g["finding_id"] == oom["finding_id"] for t in g["task_ids"]}
        script = app.clipboard
        assert any(m.startswith("copied the retry script of group ") and "resubmits 2 tasks (retry)" in m
                   for m in notices(app))

        # A group to fix first has no script: said, and the clipboard is left alone.
        fix = next(g for g in plan["groups"] if g["action"] == "fix_first" and g["finding_id"])
        await select_finding(pilot, app, fix["finding_id"])
        await pilot.press("Y")
        await wait_for(pilot, lambda: any("no retry script: its tasks are fix_first" in m for m in notices(app)))
        assert app.clipboard == script
    assert tree_fingerprint(run) == before  # nothing written into the run


async def test_y_is_offered_only_where_a_group_is_selected(gcam_run: Path) -> None:
    app = app_for(gcam_run)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        assert "Copy ids" not in screen_text(app)  # Overview: no group
        await pilot.press("y")
        await pilot.pause()
        assert app.clipboard == ""
        await open_findings(pilot, app)
        await wait_text(pilot, "Copy ids")


def test_no_retry_script_for_a_scheduler(gcam_run: Path) -> None:
    from scalable_tui.session.group_copy import group_retry_script
    from scalable_tui.session.pipeline import diagnose
    from scalable_tui.session.snapshot import build_snapshot
    from scalable_tui.sources.rundir.reader import load_run

    state = load_run(gcam_run)
    snap = build_snapshot(state, diagnose(state), 1, stale_after_s=None, now=time.time())
    f = next(x for x in snap.diagnosis.findings if x.title.startswith("KeyError"))
    copied = group_retry_script(snap, f, live=True)
    assert copied.text is None and "manifest.yaml" in copied.message and "y copies the task ids" in copied.message


# -- three nights of one project (real Scalable runs) -------------------------------------------------------
def _nights(nightly_runs: list[Path]) -> tuple[Path, Path, Path]:  # noqa: F811
    n1, n2, n3 = nightly_runs
    return n1, n2, n3


@pytest.mark.slow
async def test_history_screen_lists_the_groups_of_three_nights(nightly_runs: list[Path]) -> None:  # noqa: F811
    n1, n2, n3 = _nights(nightly_runs)
    before = tree_fingerprint(n1.parent)
    app = app_for(n3)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_loaded(pilot)
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.table is not None,
                       timeout=60, what="the history")
        table = app.screen.table
        assert table.run_ids == (n1.name, n2.name, n3.name) and table.position == 3 and table.notes == ()
        rows = {next(w for w in ("ZeroDivisionError", "KeyError", "ValueError", "PermissionError",
                                 "FileNotFoundError") if w in r.title): r for r in table.rows}
        got = {k: (r.status, r.runs_seen, r.total, r.spark, r.here) for k, r in rows.items()}
        assert got == {
            "ZeroDivisionError": ("persistent", 3, 9, "▆▄█", 4),
            "KeyError": ("flaky", 2, 3, "█·▄", 1),
            "ValueError": ("new", 1, 1, "··█", 1),
            "PermissionError": ("resolved", 1, 1, "█··", 0),
            "FileNotFoundError": ("resolved", 1, 1, "·█·", 0),
        }
        assert (rows["KeyError"].first_run, rows["KeyError"].last_run) == (n1.name, n3.name)
        assert rows["KeyError"].first_when == f"{n1.name[8:10]}-{n1.name[10:12]} {n1.name[13:15]}:{n1.name[15:17]}"
        text = await wait_text(pilot, "History of project nightly: 3 runs in")
        assert "(this run: 3 of 3)" in text
        kline = next(ln for ln in text.splitlines() if "KeyError" in ln and "flaky" in ln)
        assert kline.split()[:5] == ["flaky", "2/3", "3", "█·▄", "1"]
        # The same rows as the command prints.
        cli = json.loads(run_cli("history", "--runs-dir", str(n1.parent), "--format", "json").stdout)
        assert {(g["status"], g["total"]) for g in cli["projects"][0]["groups"]} == \
            {(r.status, r.total) for r in table.rows}
    assert tree_fingerprint(n1.parent) == before


@pytest.mark.slow
async def test_since_column_over_three_nights(nightly_runs: list[Path], private_cache: Path) -> None:  # noqa: F811
    n1, n2, n3 = _nights(nightly_runs)
    day = f"{n1.name[8:10]}-{n1.name[10:12]}"  # run-YYYYMMDDT…Z: the first night's UTC date
    app = app_for(n3)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_findings(pilot, app)
        await wait_for(pilot, lambda: screen.history is not None, timeout=60, what="the earlier runs")
        await wait_for(pilot, lambda: "…" not in since_cells(app).values())
        cells = since_cells(app)
        assert by_exception(cells, "ZeroDivisionError") == f"{day} ×3"
        assert by_exception(cells, "KeyError") == f"{day} regressed"
        assert by_exception(cells, "ValueError") == "new"
        f = next(x for x in app.snapshot.diagnosis.findings if x.title.startswith("KeyError"))
        await select_finding(pilot, app, f.id)
        assert f"regressed: first seen in {n1.name}; in 1 of the 2 earlier runs read, last in {n1.name}, not in the " \
               f"previous run {n2.name}" in screen.detail_text.plain
    # The two earlier runs were summarised once (cached, for the next time); the open one was not read again.
    assert len(list((private_cache / "scalable-tui" / "summaries").iterdir())) == 2
    app = app_for(n2)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_findings(pilot, app)
        await wait_for(pilot, lambda: screen.history is not None, timeout=60, what="the earlier runs")
        await wait_for(pilot, lambda: "…" not in since_cells(app).values())
        cells = since_cells(app)
        assert by_exception(cells, "ZeroDivisionError") == f"{day} ×2"
        assert by_exception(cells, "FileNotFoundError") == "new"
        assert not any("KeyError" in t for t in cells)
    app = app_for(n1)  # the first night: later runs exist, earlier ones do not
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_findings(pilot, app)
        await wait_for(pilot, lambda: screen.no_history is not None, timeout=60)
        assert "since" not in screen.query_one(DataTable).columns
        assert "no history: no earlier run of project nightly beside this one" in screen.detail_text.plain


async def test_untrusted_titles_are_shown_literally_in_the_copy_notice_and_history(run_copy) -> None:
    """Group titles come from task names and exception texts: Rich markup in them is shown, never applied."""
    run = run_copy("gcam-stitches")
    for name in ("failures.jsonl", "tasks.jsonl"):
        p = run / name
        p.write_text(p.read_text().replace("run_gcam", "run_[bold red]gcam[/]"))
    app = app_for(run)
    async with app.run_test(size=(200, 40), notifications=True) as pilot:
        await open_findings(pilot, app)
        f = next(x for x in app.snapshot.diagnosis.findings if x.title.startswith("KeyError"))
        assert f.title == "KeyError in run_[bold red]gcam[/]"
        await select_finding(pilot, app, f.id)
        await pilot.press("y")
        await wait_for(pilot, lambda: app.clipboard != "", what="the copy")
        # The toast on screen says the title as it is (with markup applied it would read "run_gcam").
        text = await wait_text(pilot, "copied 14 task ids")
        toast = " ".join(ln.split("▌ ", 1)[1].strip() for ln in text.splitlines() if "▌ " in ln)
        assert 'group 2 "KeyError in run_[bold red]gcam[/]", one per line' in toast, toast
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.table is not None)
        await wait_text(pilot, "KeyError in run_[bold red]gcam[/]")


async def test_runs_of_other_projects_are_not_history_and_never_diagnosed(run_copy, private_cache: Path) -> None:
    mine = run_copy("gcam-stitches")
    run_copy("mixed-failures")  # beside it, another project (gcam-ensemble)
    app = app_for(mine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_findings(pilot, app)
        # Another run is beside it, so the earlier runs are read (a worker), and none is of this project.
        await wait_for(pilot, lambda: screen.history is not None, what="the earlier runs")
        assert screen.no_history == "no history: no earlier run of project gcam-stitches beside this one"
        assert "since" not in screen.query_one(DataTable).columns
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.table is not None)
        assert app.screen.table.run_ids == (mine.name,)
    # The other project's run was told apart by its run.json alone, and the open run came from the screen:
    # no run was diagnosed for a summary.
    summaries = private_cache / "scalable-tui" / "summaries"
    assert not summaries.exists() or not list(summaries.iterdir())


async def test_history_is_read_off_the_ui_thread_with_a_loading_state(run_copy, monkeypatch: pytest.MonkeyPatch) -> None:
    """The earlier run is summarised in a worker (held here until the test has seen the loading state)."""
    import shutil
    import threading

    from scalable_tui.session import summary_cache

    mine = run_copy("gcam-stitches")
    earlier = mine.parent / "run-20261122T081131Z-gcam-stitches-0000aaaa"  # the night before, same project
    shutil.copytree(mine, earlier)
    meta = json.loads((earlier / "run.json").read_text())
    meta.update(run_id=earlier.name, started_at="2026-11-22T08:11:31Z", finished_at="2026-11-22T08:11:34Z")
    (earlier / "run.json").write_text(json.dumps(meta))

    gate = threading.Event()
    real = summary_cache.summary

    def held(run_dir: Path, **kw):  # the real summary, once the test lets it go
        assert threading.current_thread() is not threading.main_thread()
        gate.wait(30)
        return real(run_dir, **kw)

    monkeypatch.setattr(summary_cache, "summary", held)
    app = app_for(mine)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.press("h")
        await wait_text(pilot, "reading the other runs of gcam-stitches")
        assert app.screen.query_one(DataTable).loading and app.screen.table is None
        await pilot.press("4")  # the Findings screen works meanwhile; its column waits
        screen = await open_findings(pilot, app)
        assert set(since_cells(app).values()) == {"…"}
        assert "reading the earlier runs of this project" in screen.detail_text.plain
        gate.set()
        await wait_for(pilot, lambda: "…" not in since_cells(app).values(), what="the since column")
        assert set(since_cells(app).values()) == {"11-22 ×2"}  # every group: the night before and this one
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.table is not None)
        table = app.screen.table
        assert table.run_ids == (earlier.name, mine.name) and table.position == 2
        assert {(r.status, r.runs_seen, r.spark) for r in table.rows} == {("recurring", 2, "██")}
        await pilot.press("c")  # the history as text
        assert app.clipboard.startswith("History of project gcam-stitches: 2 runs in ")
        assert sum(ln.startswith("recurring ") for ln in app.clipboard.splitlines()) == len(table.rows) == 5


async def test_the_palette_offers_the_copies_where_the_keys_work(gcam_run: Path) -> None:
    app = app_for(gcam_run)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Go to History" in titles and "Copy ids" not in titles  # Overview: no group selected
        await open_findings(pilot, app)
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        assert {"Copy ids", "Copy retry script"} <= set(commands)
        assert commands["Copy ids"].help.endswith("(y)") and commands["Copy retry script"].help.endswith("(Y)")
        commands["Copy ids"].callback()
        await wait_for(pilot, lambda: app.clipboard != "", what="the copy")
        assert len(app.clipboard.splitlines()) == 5  # the first finding: Disk full, 5 tasks


def test_since_says_at_most_and_at_least_when_older_runs_were_not_read() -> None:
    """With the oldest runs left unread (the 200-run window), a first sighting or a streak at the window's edge
    is a bound, not a fact: ``≤`` and ``+``, never a wrong date or count."""
    import calendar

    from scalable_tui.model.diagnosis import Finding
    from scalable_tui.session.history_view import ProjectRuns, since_by_finding

    def run(i: int, groups: list[str]) -> dict:
        return {"run_id": f"run-2026060{i}T000000Z-p-{i}", "_epoch": float(calendar.timegm((2026, 6, i, 0, 0, 0))),
                "groups": {g: [1, g, "user_code", "error"] for g in groups}}

    def finding(sig: str) -> Finding:
        return Finding(id=sig, category="user_code", severity="error", title=sig, count=1, suggestion="", signature=sig)

    earlier = (run(1, ["always", "edge"]), run(2, ["always", "later"]), run(3, ["always", "later"]))
    current = run(4, ["always", "edge", "later", "fresh"])
    fs = [finding(s) for s in ("always", "edge", "later", "fresh")]
    capped = since_by_finding(ProjectRuns("/runs", "p", earlier, left_out=5), current, fs)
    assert {k: v.text for k, v in capped.items()} == {
        "always": "≤06-01 ×4+", "edge": "≤06-01 regressed", "later": "06-02 ×3", "fresh": "new"}
    assert "or earlier (older runs not read)" in capped["always"].words and "3 or more before it" in capped["always"].words
    whole = since_by_finding(ProjectRuns("/runs", "p", earlier), current, fs)
    assert {k: v.text for k, v in whole.items()} == {
        "always": "06-01 ×4", "edge": "06-01 regressed", "later": "06-02 ×3", "fresh": "new"}

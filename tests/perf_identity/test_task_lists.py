"""The Tasks list's cached sort and joined-text filter give exactly the plain per-row answer.

The reference is the plain implementation (``_reference_filter`` /
``_reference_sort``: one regex search per row field, ``sorted`` with the
column key), compared on real tables (fixtures, a run that grows while
queried) and on hypothesis-generated tables with repeated, empty, non-ASCII
and case-folding strings, ties and unknown durations.
"""

from __future__ import annotations

import json
import math
import random
import shutil
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalable_tui.model.run import TaskTable
from scalable_tui.session import lists, task_lists
from scalable_tui.session.lists import compile_query, filter_tasks, sort_tasks, split_worker
from scalable_tui.session.snapshot import FAULT_STATES
from scalable_tui.sources.rundir.reader import RunDirReader, load_run
from tests.conftest import FIXTURES, fixture_run

FIXTURE_NAMES = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())


# -- the reference: the per-row implementation these functions replaced --------------
def _reference_filter(t: TaskTable, query: str = "", faults_only: bool = False) -> list[int]:
    values = t.strings.values
    fault_ids = frozenset(i for i, v in enumerate(values) if v in FAULT_STATES)
    rows = [r for r in range(len(t.ids)) if t.state[r]]
    if faults_only:
        rows = [r for r in rows if t.state[r] in fault_ids or r in t.error]
    match = compile_query(query)
    if match is None:
        return rows
    out = []
    for r in rows:
        e = t.error.get(r)
        w = t.worker.get(r)
        if (any(values[s] and match(values[s]) for s in (t.name[r], t.component[r], t.state[r])) or match(t.ids[r])
                or (w is not None and match(w))
                or (e is not None and ((e[0] is not None and match(e[0])) or (e[1] is not None and match(e[1]))))):
            out.append(r)
    return out


def _reference_sort(t: TaskTable, rows: list[int], column: int, reverse: bool = False) -> list[int]:
    values = t.strings.values
    keys: dict[int, Callable[[int], Any]] = {
        0: lambda r: (values[t.name[r]] or "", t.ids[r]),
        1: lambda r: t.ids[r],
        2: lambda r: (values[t.component[r]] or "", t.ids[r]),
        3: lambda r: (values[t.state[r]] or "", t.ids[r]),
        4: lambda r: ((1, 0.0) if not reverse else (-1, 0.0)) if math.isnan(t.duration[r]) else (0, t.duration[r]),
        5: lambda r: (split_worker(t.worker.get(r))[0] or "", t.ids[r]),
        6: lambda r: ((t.error.get(r) or (None, None))[0] or "", t.ids[r]),
        7: lambda r: (split_worker(t.worker.get(r))[1] or "", t.ids[r]),
    }
    return sorted(rows, key=keys[column], reverse=reverse)


QUERIES = ("", "a", "A", "keyerror", "run_", "1", "12", "Failed", "/^run/", "/[0-9]{3}$/", "/^$/", "/^/", "é", "K", "s", "\u212a",
           "\u017f", "-", ".", "  gcam ", "zz-no-match", "/(?i)ERROR$/", "x\ny", "tagonly", "/tagonly-1/",
           # regexes searched over the joined texts (``_line_safe``) and ones that must not be
           "/^y/", "/y$/", "/x.y/", "/(?s)x.y/", "/\\s/", "/[^a]/", "/\\W/", "/\\D/", "/(?<=a)b/", "/\\Aa/",
           "/b\\Z/", "/x*/", "/\\bk/", "/^run_gcam\\[1\\]$/", "/(?-i:A)/", "/(r|R)un_\\w+/", "/\\S+-\\d/",
           "/(s)\\1/", "/^\\S/", "/[a-z]{2}$/", "/k/",
           # regexes with a required literal (``_required_literal``: searched first, then the regex on what it found)
           "/run_gcam/", "/^run_gcam/", "/un_g.a/", "/(?x) r u n _/", "/(?a)ke/", "/\u212ae/", "/\u017fs/", "/ss$/",
           "/ß/", "/SS/", "/x\\ny/", "/zz|a-b/", "/ab*c/", "/(run)_gcam\\[1/", "/a-b?/", "/tcp:\\/\\//",
           "/(?-i:Run)_gcam/", "/KeyErr(?:or)?/", "/\\[1\\]$/", "/de?me/", "/-0123/")


def _check(t: TaskTable, queries: tuple[str, ...] = QUERIES) -> None:
    for q in queries:
        for faults in (False, True):
            got = filter_tasks(t, q, faults)
            want = _reference_filter(t, q, faults)
            assert got == want, (q, faults)
            for column in range(len(lists.TASK_COLUMNS)):
                for rev in (False, True):
                    assert sort_tasks(t, got, column, rev) == _reference_sort(t, got, column, rev), (q, column, rev)


@pytest.fixture(autouse=True, params=["padded", "offsets"])
def _fast_paths(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Small tables take the cached-order path too (it is the one under test), with both joined-text layouts."""
    monkeypatch.setattr(task_lists, "SMALL_SORT", 0)
    monkeypatch.setattr(task_lists, "PAD_SLACK", 4096 if request.param == "padded" else -10**9)


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_tables_filter_and_sort_as_the_reference(name: str) -> None:
    _check(load_run(str(fixture_run(name))).tasks)


def test_a_growing_run_is_never_answered_from_a_stale_cache(tmp_path: Path) -> None:
    """Query, append task events (new rows, new names, changed states), refresh, query again: the same table object."""
    src = fixture_run("gcam-stitches")
    run = tmp_path / src.name
    shutil.copytree(src, run)
    reader = RunDirReader(run)
    reader.load()
    t = reader.state.tasks
    _check(t, ("gcam", "zz-new", "failed", ""))
    before_sorted = sort_tasks(t, filter_tasks(t), 0)
    before_match = filter_tasks(t, "zz-new")
    assert before_match == []
    lines = [json.loads(x) for x in (run / "tasks.jsonl").read_text().splitlines() if x.strip()]
    base = lines[-1]
    with (run / "tasks.jsonl").open("a") as fh:
        for i in range(30):
            ev = dict(base, task_id=f"zz-new-{i:03d}", task_name=f"aaa_zz-new[{i}]", state="failed",
                      error_type="KeyError", error_message=f"zz-new {i}", worker=f"w{i}", duration_s=float(i % 3))
            fh.write(json.dumps(ev, sort_keys=True) + "\n")
        first = lines[0]  # an existing task changes state and name
        fh.write(json.dumps(dict(first, state="failed", task_name="aaa_renamed", error_type="ZZ-NEWError"),
                            sort_keys=True) + "\n")
    assert reader.refresh().task_events == 31
    assert reader.state.tasks is t
    _check(t, ("gcam", "zz-new", "failed", "", "aaa"))
    after_sorted = sort_tasks(t, filter_tasks(t), 0)
    assert len(after_sorted) == len(before_sorted) + 30
    assert t.ids[after_sorted[0]] == first["task_id"]  # renamed to sort first
    assert len(filter_tasks(t, "zz-new")) == 31

    # Only existing rows change, to strings already interned: no new id, no new string.
    _check(t, ("w1", "zz-new", "KeyError"))
    old_workers = {r: t.worker.get(r) for r in range(len(t.ids))}
    order_by_duration = sort_tasks(t, filter_tasks(t), 4)
    with (run / "tasks.jsonl").open("a") as fh:
        for i, tid in enumerate(t.ids[:12]):
            ev = dict(base, task_id=tid, task_name="aaa_zz-new[3]", state="succeeded", worker="w1",
                      error_type="KeyError", error_message="zz-new 1", duration_s=1000.0 + i)
            fh.write(json.dumps(ev, sort_keys=True) + "\n")
    n_ids, n_strings = len(t.ids), len(t.strings.values)
    assert reader.refresh().task_events == 12
    assert (len(t.ids), len(t.strings.values)) == (n_ids, n_strings)
    assert any(t.worker.get(r) != w for r, w in old_workers.items())
    assert sort_tasks(t, filter_tasks(t), 4) != order_by_duration
    _check(t, ("w1", "zz-new", "KeyError", "succeeded", ""))


# -- generated tables -------------------------------------------------------------------
STRINGS = st.sampled_from(["", "a", "A", "run_gcam", "run_gcam[1]", "Run_Gcam", "é", "É", "K", "k", "\u212a", "s",
                           "\u017f", "ss", "ß", "x\ny", "a-b", "zz", "run_demeter-0123456789abcdef0123456789abcdef",
                           "tcp://10.0.0.1:1", "KeyError", "failed", "succeeded", "cancelled", "running"])
STATES = st.sampled_from([None, "failed", "succeeded", "cancelled", "running", "submitted", "weird"])


@st.composite
def tables(draw: st.DrawFn) -> TaskTable:
    t = TaskTable()
    n = draw(st.integers(1, 60))
    if draw(st.booleans()):  # ids of one length (the joined text's fixed-width layout) or of many
        ids = [f"T{i:05d}" for i in draw(st.permutations(range(n)))]
    else:
        ids = draw(st.lists(st.one_of(STRINGS, st.text(min_size=1, max_size=6)), min_size=n, max_size=n, unique=True))
    r = random.Random(draw(st.integers(0, 2**32)))
    pool = draw(st.lists(st.one_of(STRINGS, st.text(max_size=5)), min_size=1, max_size=8))
    for tid in ids:
        row = t.add_row(tid)
        st_ = draw(STATES)
        t.state[row] = t.strings.get(st_) if st_ is not None else 0
        if r.random() < 0.8:
            t.name[row] = t.strings.get(r.choice(pool))
        if r.random() < 0.5:
            t.component[row] = t.strings.get(r.choice(pool))
        if r.random() < 0.5:  # interned, never searched (the Tasks list shows no tag)
            t.tag[row] = t.strings.get(f"tagonly-{r.randrange(3)}")
        if r.random() < 0.7:
            t.duration[row] = r.choice([0.0, 1.5, 1.5, 2.0, 100.0, 1e9, float("nan")])
        if r.random() < 0.6:
            t.worker[row] = r.choice(pool + ["run_gcam-0123456789abcdef0123456789abcdef"])
        if r.random() < 0.4:
            t.error[row] = (r.choice(pool + [None]), r.choice(pool + [None]))
    return t


#: Pieces of regexes: safe ones (``_line_safe``) and ones that can match or look across a newline.
REGEX_PARTS = st.sampled_from(["a", "K", "s", "\\d", "\\w", "\\S", "\\s", "\\W", "\\D", ".", "[a-z]", "[^a]",
                               "\\b", "\\B", "^", "$", "\\n", "(?<=a)", "\\A", "\\Z", "*", "+", "?", "|", "(a|b)",
                               "(?s:.)", "(?-i:A)", "-", "_", "[0-9]", "\\[1\\]", "y", "ss", "ke", "run_", "Gc",
                               "\u212a", "(?a)"])
REGEXES = st.lists(REGEX_PARTS, min_size=1, max_size=5).map(lambda parts: "/" + "".join(parts) + "/")


@settings(max_examples=150, deadline=None)
@given(tables(), st.lists(st.one_of(st.sampled_from(QUERIES), STRINGS, st.text(max_size=4), REGEXES), min_size=1,
                          max_size=4))
def test_generated_tables_filter_and_sort_as_the_reference(t: TaskTable, queries: list[str]) -> None:
    good = []
    for q in queries:
        try:
            compile_query(q)
        except Exception:
            continue
        good.append(q)
    _check(t, tuple(good))


@settings(max_examples=80, deadline=None)
@given(tables(), st.lists(st.one_of(st.sampled_from(QUERIES), STRINGS), min_size=1, max_size=3))
def test_frozen_tables_answer_as_the_reference_and_keep_no_copies(t: TaskTable, queries: list[str]) -> None:
    """A finished run's table (``frozen``): the same answers, and the cache holds no copies of its columns."""
    t.frozen = True
    _check(t, tuple(queries))
    c = task_lists._CACHES.get(t)
    if c is None:  # no query needed one (no row has a task event)
        assert not filter_tasks(t)
        return
    assert c.frozen and c.base == ([], [])
    assert all(copy is None for copy, _ in c.orders.values()) and all(not d for d, _ in c.texts.values())
    assert c.values_text is None or c.values_text[0] == ()


def test_a_table_queried_then_changed_then_frozen_is_answered_afresh() -> None:
    """Entries made before the freeze were checked against copies; once frozen nothing is checked, so they go."""
    t = TaskTable()
    for i, name in enumerate(["b", "a", "c"] * 1000):
        r = t.add_row(f"t{i:05d}")
        t.name[r] = t.strings.get(name)
        t.state[r] = t.strings.get("succeeded")
    rows = filter_tasks(t)
    before = sort_tasks(t, rows, 0)
    t.name[before[0]] = t.strings.get("zzz")  # the first by name moves to the end
    t.frozen = True
    after = sort_tasks(t, filter_tasks(t), 0)
    assert after == _reference_sort(t, rows, 0) and after[-1] == before[0] != after[0]


@settings(max_examples=60, deadline=None)
@given(tables(), st.integers(0, 7), st.booleans(), st.integers(0, 2**32))
def test_sort_of_unsorted_or_repeated_rows_is_the_plain_sort(t: TaskTable, column: int, rev: bool, seed: int) -> None:
    rows = list(range(len(t.ids))) * 2
    random.Random(seed).shuffle(rows)
    assert sort_tasks(t, rows, column, rev) == _reference_sort(t, rows, column, rev)


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_warmed_tables_filter_and_sort_as_the_reference(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``warm`` fills the cache the queries use; what they answer from it is the reference's answer."""
    monkeypatch.setattr(task_lists, "WARM_ROWS", 0)
    t = load_run(str(fixture_run(name))).tasks
    t.frozen = True  # what the app warms: a finished run's table (build_snapshot(final=True))
    assert task_lists.warm(t) == len(task_lists.WARM_ORDERS)
    c = task_lists._CACHES[t]
    assert set(task_lists.WARM_ORDERS) <= set(c.orders)
    assert c.ids_text is None and not c.texts  # the filter texts are left cold (memory)
    _check(t)


def test_warm_stops_when_cancelled_and_leaves_small_tables_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    t = load_run(str(fixture_run("gcam-stitches"))).tasks
    assert task_lists.warm(t) == 0 and t not in task_lists._CACHES  # below WARM_ROWS: a first query is cheap
    monkeypatch.setattr(task_lists, "WARM_ROWS", 0)
    asked: list[int] = []
    assert task_lists.warm(t, lambda: asked.append(1) or len(asked) > 2) == 2


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_filter_texts_warmed_ahead_answer_as_the_reference(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``warm_filter`` fills the texts every filter searches; what the filters then answer is the reference's."""
    monkeypatch.setattr(task_lists, "WARM_ROWS", 0)
    t = load_run(str(fixture_run(name))).tasks
    assert task_lists.warm_filter(t) == 0 and t not in task_lists._CACHES  # a table that may still change: never
    t.frozen = True
    assert task_lists.warm_filter(t) == 4
    c = task_lists._CACHES[t]
    assert c.ids_text is not None and c.values_text is not None
    assert set(c.texts) == ({"worker"} if t.worker else set()) | ({"error"} if t.error else set()) or not t.ids
    _check(t)


def test_warm_filter_stops_when_cancelled_and_leaves_small_tables_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    t = load_run(str(fixture_run("gcam-stitches"))).tasks
    t.frozen = True
    assert task_lists.warm_filter(t) == 0 and t not in task_lists._CACHES  # below WARM_ROWS
    monkeypatch.setattr(task_lists, "WARM_ROWS", 0)
    asked: list[int] = []
    assert task_lists.warm_filter(t, lambda: asked.append(1) or len(asked) > 2) == 2
    c = task_lists._CACHES[t]
    assert c.ids_text is not None and not c.texts  # names and ids done, then cancelled


@pytest.fixture
def warm_small(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app warms the fixtures' small tables as it does 300k-row ones."""
    import scalable_tui.tui.app as app_mod
    import scalable_tui.tui.screens.tasks as tasks_mod

    for mod in (app_mod, tasks_mod, task_lists):
        monkeypatch.setattr(mod, "WARM_ROWS", 0)


async def _loaded(pilot: Any, app: Any) -> None:
    """The app's full view of its run is out (not the first slice's)."""
    from tests.app.helpers import wait_for

    await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.loading is None, 20, "loaded")


@pytest.mark.anyio
async def test_the_review_app_warms_a_finished_runs_table_once_shown_and_not_a_running_one(warm_small: None) -> None:
    """After the full screen of a finished run is painted (not before: the warm-up would take the interpreter
    from that paint), the app prepares the orders; a running run's table changes with every publish."""
    from scalable_tui.tui.app import ReviewApp
    from tests.app.helpers import wait_for

    app = ReviewApp(RunDirReader(fixture_run("gcam-stitches")), no_ai=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await _loaded(pilot, app)
        shown = app.snapshot.tasks
        await wait_for(pilot, lambda: shown in task_lists._CACHES
                       and set(task_lists.WARM_ORDERS) <= set(task_lists._CACHES[shown].orders), 20, "warmed")
    app = ReviewApp(RunDirReader(fixture_run("running-live")), no_ai=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await _loaded(pilot, app)
        await pilot.pause()
        assert app.snapshot.live and app.snapshot.tasks not in task_lists._CACHES
        assert not [w for w in app.workers if w.group == "warm lists"]


@pytest.mark.anyio
async def test_the_tasks_screen_prepares_a_finished_runs_filter_texts_when_shown(warm_small: None) -> None:
    """Opening Tasks on a finished run fills the filter's texts before a first keystroke (not on a running run,
    whose table changes with every publish); a filter typed then answers as the reference."""
    import scalable_tui.tui.screens.tasks as tasks_mod
    from scalable_tui.tui.app import ReviewApp
    from tests.app.helpers import wait_for

    app = ReviewApp(RunDirReader(fixture_run("gcam-stitches")), no_ai=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await _loaded(pilot, app)
        shown = app.snapshot.tasks
        assert shown not in task_lists._CACHES or task_lists._CACHES[shown].ids_text is None
        await pilot.press("2")
        await wait_for(pilot, lambda: isinstance(app.screen, tasks_mod.TasksScreen), 20, "Tasks")
        await wait_for(pilot, lambda: shown in task_lists._CACHES and task_lists._CACHES[shown].ids_text is not None
                       and "worker" in task_lists._CACHES[shown].texts, 20, "filter texts")
        screen = app.screen
        screen.query_text = "gcam"
        screen.apply()
        await wait_for(pilot, lambda: screen.shown_key is not None and screen.shown_key[1] == "gcam", 20, "filtered")
        assert screen.matched == len(_reference_filter(shown, "gcam"))
    app = ReviewApp(RunDirReader(fixture_run("running-live")), no_ai=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await _loaded(pilot, app)
        await pilot.press("2")
        await wait_for(pilot, lambda: isinstance(app.screen, tasks_mod.TasksScreen)
                       and app.screen.shown_key is not None, 20, "Tasks")
        assert app.snapshot.live
        assert not [w for w in app.screen.workers if w.group == "warm filter"]
        t = app.snapshot.tasks
        assert t not in task_lists._CACHES or task_lists._CACHES[t].ids_text is None


@pytest.mark.parametrize("rows_with_error", [5, 3000])
def test_hostile_worker_and_error_texts_filter_as_the_reference(rows_with_error: int) -> None:
    """Untrusted texts in the joined-text search, over few rows (joined alone) and all rows: a 10 MB message,
    a 100 KB word, terminal escapes and a planted secret are matched exactly as row by row."""
    word = "w" * 50_000 + "MIDDLE" + "w" * 50_000
    hostile = ["x" * 10_000_000 + " needle at the end", word, "\x1b[31mred\x1b[0m \x1b]52;c;Zm9v\x07 osc",
               "token=sk-live-abcdef0123456789", "plain"]
    t = TaskTable()
    for i in range(3000):
        r = t.add_row(f"t{i:05d}")
        t.state[r] = t.strings.get("failed" if i < rows_with_error else "succeeded")
        if i < rows_with_error:  # each hostile text once (the 10 MB one in row 0), then short ones
            t.error[r] = ("ValueError", hostile[i] if i < len(hostile) else f"message {i}")
        if i % 997 == 0:
            t.worker[r] = hostile[i // 997][-200:]
    t.frozen = True
    for q in ("needle", "MIDDLE", "wMIDDLEw", "\x1b[31m", "sk-live", "osc", "zz-nothing", "ValueError"):
        assert filter_tasks(t, q) == _reference_filter(t, q), q
    assert filter_tasks(t, "needle") == [0] and filter_tasks(t, "MIDDLE") == ([1] if rows_with_error > 1 else [])

"""The app's headless model: snapshots, task filtering and sorting, status line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assistant.diagnose import diagnose_state
from scalable_tui.session.snapshot import build_snapshot
from scalable_tui.session.lists import compile_query, filter_tasks, sort_tasks, task_cells
from scalable_tui.sources.rundir.reader import RunDirReader
from tests.app.helpers import append_jsonl, set_status

NOW = 1795421494.0 + 60


def snapshot_of(reader: RunDirReader, version: int = 1, stale: float | None = None):
    state = reader.state
    return build_snapshot(state, diagnose_state(state, now=NOW), version, stale_after_s=stale, now=NOW)


def test_filter_substring_regex_faults(gcam_run: Path) -> None:
    r = RunDirReader(gcam_run)
    r.load()
    snap = snapshot_of(r)
    t = snap.tasks
    assert len(filter_tasks(t)) == 120
    assert len(filter_tasks(t, faults_only=True)) == 41
    assert len(filter_tasks(t, "keyerror")) == 14  # case-insensitive substring
    assert len(filter_tasks(t, "/^(ZeroDivision|Permission)Error$/")) == 17
    assert len(filter_tasks(t, "succeeded", faults_only=True)) == 0
    assert filter_tasks(t, "[bold]") == []  # not a regex unless wrapped in /.../
    with pytest.raises(re.error):
        compile_query("/[unclosed/")
    rows = sort_tasks(t, filter_tasks(t), 4)
    d = [t.duration_of(r) for r in rows]
    assert d == sorted(d)
    assert task_cells(t, rows[0])[3] in ("succeeded", "failed")


def test_snapshot_is_a_private_copy(run_copy) -> None:
    run = run_copy("gcam-stitches")
    set_status(run, "running")
    r = RunDirReader(run)
    r.load()
    snap = snapshot_of(r)
    append_jsonl(
        run / "tasks.jsonl",
        {"task_id": "new-task", "state": "failed", "task_name": "late", "timestamp": "2026-11-23T08:11:50Z",
         "error_type": "MemoryError", "error_message": "x", "schema_version": 1},
    )
    assert r.refresh().changed
    assert len(snap.tasks.ids) == 120 and snap.counts["failed"] == 41 and len(snap.failures) == 41
    after = snapshot_of(r, 2)
    assert after.counts["failed"] == 42 and len(after.failures) == 42


def test_status_line_live_abandoned_finished(run_copy, gcam_run: Path) -> None:
    r = RunDirReader(gcam_run)
    r.load()
    assert snapshot_of(r).status_line(NOW) == ("finished (completed)", "finished")
    run = run_copy("gcam-stitches")
    set_status(run, "running")
    r = RunDirReader(run)
    r.load()
    snap = snapshot_of(r)
    assert snap.status_line(NOW)[1] == "live"
    text, kind = snap.status_line(1795421494.0 + 3 * 3600 + 5)
    assert kind == "abandoned" and text == "abandoned? no events for 3h"
    snap = snapshot_of(r, stale=7 * 3600.0)
    assert snap.status_line(1795421494.0 + 3 * 3600 + 5)[1] == "live"


def group_task_names(by_name: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """The reference: per-state counts per task name, mapped tasks folded into one ``name[…]`` row."""
    from scalable_tui.session.snapshot import task_group

    out: dict[str, dict[str, int]] = {}
    for name, counts in by_name.items():
        acc = out.setdefault(task_group(name), {})
        for state, n in counts.items():
            acc[state] = acc.get(state, 0) + n
    return out


def test_mapped_task_names_fold_into_one_group() -> None:
    from scalable_tui.session.snapshot import task_group

    assert task_group("run_gcam[12]") == "run_gcam[…]"
    assert task_group("run_gcam") == "run_gcam"
    assert task_group("x[a]") == "x[…]" and task_group("x[1][2]") == "x[1][…]"
    assert task_group("run_gcam[scenario=000063]") == "run_gcam[…]"  # a name per task, as the findings fold it
    by_name = {f"post[{i}]": {"succeeded": 1} for i in range(300)} | {"post[7]": {"failed": 1}, "solo": {"running": 2}}
    assert group_task_names(by_name) == {"post[…]": {"succeeded": 299, "failed": 1}, "solo": {"running": 2}}


@pytest.mark.parametrize("many", [20_000, 0])
def test_group_counts_straight_from_the_table_equal_the_two_step_ones(gcam_run: Path, tmp_path: Path, many: int,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """``top_task_groups`` skips the per-name dict (300k of them on a run with per-task names) and ranks the same,
    counted in Python or, behind many names, with numpy (``MANY_NAMES``: 0 takes that path here)."""
    import subprocess

    from scalable_tui.session import snapshot

    monkeypatch.setattr(snapshot, "MANY_NAMES", many)
    import sys

    from scalable_tui.model.run import TaskTable
    from scalable_tui.session.snapshot import top_task_groups
    from scalable_tui.sources.rundir.reader import load_run
    from tests.conftest import ROOT

    subprocess.run([sys.executable, str(ROOT / "bench" / "gen_big_run.py"), str(tmp_path), "--tasks", "2000",
                    "--varied"], check=True, stdout=subprocess.DEVNULL)
    t = TaskTable()
    for i, (name, state) in enumerate([("post[1]", "failed"), ("post[2]", "succeeded"), (None, "running"),
                                       ("x[a]", "failed"), ("", "succeeded"), ("post[3]", None), ("post[1]", None)]):
        r = t.add_row(f"t{i}")
        t.name[r] = t.strings.get(name)
        if state is not None:
            t.state[r] = t.strings.get(state)
    for table in (load_run(gcam_run).tasks, load_run(next(tmp_path.glob("run-*"))).tasks, t):
        groups = group_task_names(table.counts_by("name"))
        ranked = sorted(groups, key=lambda n: (-sum(groups[n].values()), n))
        for k in (1, 3, 12, 10**6):
            assert top_task_groups(table, k) == ([(n, groups[n]) for n in ranked[:k]], len(groups))


def test_dask_keys_are_never_workers(gcam_run: Path) -> None:
    from scalable_tui.session.lists import TASK_COLUMNS, split_worker

    assert split_worker("run_gcam-402063bf0e2f4bbf9d0b2f3a8c1e5d77") == (None, "run_gcam-402063bf0e2f4bbf9d0b2f3a8c1e5d77")
    assert split_worker("tcp://10.0.0.7:4242") == ("tcp://10.0.0.7:4242", None)
    assert split_worker(None) == (None, None)
    r = RunDirReader(gcam_run)
    r.load()
    t = snapshot_of(r).tasks
    worker, key = TASK_COLUMNS.index("worker"), TASK_COLUMNS.index("dask key")
    rows = filter_tasks(t)
    assert all(task_cells(t, i)[worker] == "-" and task_cells(t, i)[key].startswith("run_gcam-") for i in rows)
    # Sorting by the dask key column orders by key; by worker keeps all ("-") together.
    keys = [task_cells(t, i)[key] for i in sort_tasks(t, rows, key)]
    assert keys == sorted(keys)


def test_state_bar_shows_the_failed_share() -> None:
    from scalable_tui.tui.widgets.progress import bars_text, counts_label, state_bar

    bar = state_bar({"succeeded": 79, "failed": 41}, 24)
    assert len(bar) == 24 and bar.plain == "█" * 16 + "▓" * 8
    assert [s.style for s in bar.spans] == ["green", "bold red"]
    # A tiny share still gets one cell; unknown states count as pending.
    assert state_bar({"succeeded": 999, "failed": 1}, 10).plain == "█" * 9 + "▓"
    assert state_bar({"succeeded": 1, "weird": 1}, 4).plain == "██░░"
    assert counts_label({"succeeded": 79, "failed": 41}).plain == "79 ok · 41 failed"
    assert counts_label({"failed": 2, "running": 1}).plain == "0 ok · 2 failed · 1 not finished"
    # Scalable's "running" is written at submission: a run that ended never finished them
    assert counts_label({"running": 2, "submitted": 1}, ended=True).plain == "0 ok · 3 never finished"
    text = bars_text([("a_very_long_task_name_that_goes_on", {"succeeded": 1})], 3, 60).plain
    assert text.startswith("a_very_long_task_name…  ") and text.endswith("… 3 more task names")


def test_failure_group_filter_fields(gcam_run: Path) -> None:
    from scalable_tui.session.lists import finding_matches, is_fault_finding, query_pattern, record_is_fault, record_matches

    r = RunDirReader(gcam_run)
    r.load()
    snap = snapshot_of(r)
    groups = snap.failure_findings()
    hits = lambda q: [f.category for f in groups if finding_matches(f, query_pattern(q), snap.failures_of(f))]  # noqa: E731
    assert hits("run_gcam") == [f.category for f in groups]  # the task name
    assert hits("disk_full") == ["disk_full"]  # the category
    assert hits("/^zerodivisionerror$/") == ["user_code"]  # the exception, regex
    assert hits("region_117") == ["invalid_input"]  # only in one failure's message
    assert hits("no such thing") == []
    assert all(is_fault_finding(f) for f in groups)
    keyerrors = next(snap.failures_of(f) for f in groups if f.category == "invalid_input")
    assert sum(record_matches(x, query_pattern("/region_\\d\\d'/")) for x in keyerrors) == 10
    assert all(record_is_fault(snap, x) for x in keyerrors)  # every KeyError task ended failed


def test_final_snapshot_shares_the_table_others_copy(gcam_run) -> None:
    """Only a snapshot the reader will never touch again may share its task table."""
    from assistant.diagnose import diagnose_state
    from scalable_tui.session.snapshot import build_snapshot
    from scalable_tui.sources.rundir.reader import load_run

    state = load_run(gcam_run)
    diag = diagnose_state(state)
    copied = build_snapshot(state, diag, 1, stale_after_s=None, now=0.0)
    shared = build_snapshot(state, diag, 2, stale_after_s=None, now=0.0, final=True)
    assert shared.tasks is state.tasks and copied.tasks is not state.tasks
    assert shared.tasks.frozen and not copied.tasks.frozen  # the Tasks list's caches keep no copies of it
    assert copied.counts == shared.counts and copied.top_groups == shared.top_groups
    state.tasks.add_row("appended-later")  # what a tailing reader does
    assert len(copied.tasks) == len(shared.tasks) - 1


def test_timeline_buckets_are_those_of_the_per_row_reference(gcam_run: Path) -> None:
    import math

    from scalable_tui.session.snapshot import FAULT_STATES, TERMINAL_STATES, TIMELINE_BUCKETS, _timeline
    from scalable_tui.sources.rundir.reader import load_run

    state = load_run(gcam_run)
    t = state.tasks
    t.last_ts[0] = state.first_event_ts - 5  # before the start: the first bucket
    t.last_ts[1] = math.nan
    lo, hi = state.first_event_ts, state.last_event_ts
    done, failed = [0] * TIMELINE_BUCKETS, [0] * TIMELINE_BUCKETS
    for r in range(len(t.ids)):
        st = t.strings.values[t.state[r]]
        ts = t.last_ts[r]
        if st not in TERMINAL_STATES or ts != ts:
            continue
        b = min(TIMELINE_BUCKETS - 1, max(0, int((ts - lo) / max(hi - lo, 1e-9) * TIMELINE_BUCKETS)))
        (failed if st in FAULT_STATES else done)[b] += 1
    assert _timeline(t, lo, hi) == (done, failed) and sum(done) + sum(failed) > 0


def test_task_groups_of_all_names_at_once_equal_task_group_of_each() -> None:
    """One regex pass over the names joined: the same answer as ``task_group`` name by name."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from scalable_tui.session.snapshot import task_group, task_groups_of

    tricky = ["run_gcam[12]", "run_gcam", "x[a]", "x[1][2]", "[3]", "[]", "x[01]", "", "(none)", "a[\u0661\u0662]",
              "a[1]\n", "a\n[2]", "post[…]", "[1]x", "y[1] ", "z[[1]]", "w[1]]"]
    assert task_groups_of(tricky) == [task_group(x) for x in tricky]
    assert task_groups_of([]) == []

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.text(alphabet="ab[]1\u0661\n…", max_size=8), max_size=20))
    def same(names: list[str]) -> None:
        assert task_groups_of(names) == [task_group(x) for x in names]

    same()


def test_timeline_of_a_generated_run_equals_the_per_row_reference(tmp_path: Path) -> None:
    import subprocess
    import sys

    from scalable_tui.session.snapshot import FAULT_STATES, TERMINAL_STATES, TIMELINE_BUCKETS, _timeline
    from scalable_tui.sources.rundir.reader import load_run
    from tests.conftest import ROOT

    subprocess.run([sys.executable, str(ROOT / "bench" / "gen_big_run.py"), str(tmp_path), "--tasks", "3000",
                    "--varied"], check=True, stdout=subprocess.DEVNULL)
    state = load_run(next(tmp_path.glob("run-*")))
    t = state.tasks
    for lo, hi in ((state.first_event_ts, state.last_event_ts),  # the run's span
                   (state.first_event_ts + 600, state.last_event_ts - 600),  # rows outside: clamped
                   (state.last_event_ts, state.last_event_ts)):  # a zero span
        done, failed = [0] * TIMELINE_BUCKETS, [0] * TIMELINE_BUCKETS
        for r in range(len(t.ids)):
            st, ts = t.strings.values[t.state[r]], t.last_ts[r]
            if st not in TERMINAL_STATES or ts != ts:
                continue
            b = min(TIMELINE_BUCKETS - 1, max(0, int((ts - lo) / max(hi - lo, 1e-9) * TIMELINE_BUCKETS)))
            (failed if st in FAULT_STATES else done)[b] += 1
        assert _timeline(t, lo, hi) == (done, failed) and sum(failed) > 0


def test_overview_bars_are_per_function_when_task_names_are_per_task(tmp_path: Path) -> None:
    """``_scalable_task_name`` lets each task have its own name: 12 bars of one task each said nothing. Then
    the bars group the tasks by function (the reference: ``counts_by("function")``), and say so."""
    import subprocess
    import sys

    from scalable_tui.session.snapshot import overview_groups, top_task_groups
    from scalable_tui.sources.rundir.reader import load_run
    from scalable_tui.tui.widgets.progress import bars_text
    from tests.conftest import ROOT, fixture_run

    subprocess.run([sys.executable, str(ROOT / "bench" / "gen_big_run.py"), str(tmp_path), "--tasks", "2000",
                    "--varied"], check=True, stdout=subprocess.DEVNULL)
    t = load_run(next(tmp_path.glob("run-*"))).tasks
    assert len(t.counts_by("name")) > 1000
    # names per scenario in brackets (``run_gcam[scenario=000063]``) fold as the findings fold them: by task name
    rows, n, by = overview_groups(t)
    assert by == "task name" and n == 4 and {f for f, _ in rows} == {
        "run_gcam[…]", "run_demeter[…]", "stitch_outputs[…]", "xanthos_basin[…]"}
    assert sum(sum(c.values()) for _f, c in rows) == t.n_tasks()  # every task in a bar
    # names per task that do not fold (``run_gcam.s000063``); the generator names functions like their tasks:
    # grouping by them says no more, so by task name
    for r in range(len(t.ids)):
        name = t.strings.values[t.name[r]] or ""
        t.name[r] = t.function[r] = t.strings.get(name.replace("[scenario=", ".s").rstrip("]"))
    assert len(t.counts_by("name")) > 1000 and overview_groups(t)[2] == "task name"
    # give them the functions Scalable records (the Python function's name)
    for r in range(len(t.ids)):
        name = t.strings.values[t.name[r]] or ""
        t.function[r] = t.strings.get(name.split(".", 1)[0])
    by_fn = t.counts_by("function")
    fns = sorted(by_fn, key=lambda n: (-sum(by_fn[n].values()), n))
    rows, n, by = overview_groups(t)
    assert by == "function" and n == len(fns) and rows == [(f, by_fn[f]) for f in fns[:12]]
    assert sum(sum(c.values()) for _f, c in rows) == t.n_tasks()  # every task in a bar
    assert "per function: each task has a name of its own" in bars_text(rows, n - len(rows), 100, by).plain
    # equal names (the real library's default): by task name, as before
    g = load_run(fixture_run("gcam-stitches")).tasks
    assert overview_groups(g) == (*top_task_groups(g), "task name")
    # names per task but no functions known (a recording's prefixes, an old run): by task name still
    for r in range(len(t.ids)):
        t.function[r] = 0
    assert overview_groups(t)[2] == "task name"


def test_ranking_by_the_cut_equals_nsmallest_with_the_key() -> None:
    """``_ranked`` picks the bars without a key call per group: the same list as the plain ranking, ties too."""
    import heapq

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from scalable_tui.session.snapshot import _ranked

    @settings(max_examples=400, deadline=None)
    @given(st.dictionaries(st.text(alphabet="ab[]1", max_size=4), st.integers(1, 4), max_size=30),
           st.integers(0, 35))
    def same(totals: dict[str, int], top: int) -> None:
        assert _ranked(totals, top) == heapq.nsmallest(top, totals.items(), key=lambda kv: (-kv[1], kv[0]))

    same()


def test_timeline_by_bisection_equals_the_per_row_rule() -> None:
    """Random tables: NaN times, times outside the span, on bucket edges, a zero span, states of every kind."""
    import math

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from scalable_tui.model.run import TaskTable
    from scalable_tui.session.snapshot import FAULT_STATES, TERMINAL_STATES, TIMELINE_BUCKETS, _timeline

    states = [None, "submitted", "running", "succeeded", "failed", "cancelled", "weird"]
    times = st.one_of(st.floats(-10, 130), st.just(math.nan), st.sampled_from([0.0, 2.0, 60.0, 120.0, 1.9999999]))

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.tuples(st.sampled_from(states), times), max_size=80),
           st.sampled_from([(0.0, 120.0), (0.0, 0.0), (5.0, 7.5), (100.0, 10.0)]))
    def same(rows: list[tuple[str | None, float]], span: tuple[float, float]) -> None:
        t = TaskTable()
        for i, (state, ts) in enumerate(rows):
            r = t.add_row(f"t{i}")
            t.state[r] = t.strings.get(state)
            t.last_ts[r] = ts
        lo, hi = span
        done, failed = [0] * TIMELINE_BUCKETS, [0] * TIMELINE_BUCKETS
        for state, ts in rows:
            if state not in TERMINAL_STATES or ts != ts:
                continue
            b = min(TIMELINE_BUCKETS - 1, max(0, int((ts - lo) / max(hi - lo, 1e-9) * TIMELINE_BUCKETS)))
            (failed if state in FAULT_STATES else done)[b] += 1
        assert _timeline(t, lo, hi) == (done, failed)

    same()


def test_overview_groups_turns_per_task_functions_down_as_the_full_grouping_does() -> None:
    """``overview_groups`` skips grouping the functions when their names alone prove too many groups; random
    tables (names and functions per task or shared, "[n]" suffixes that fold, unknown functions) give the
    answer of the rule without the shortcut."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from scalable_tui.model.run import TaskTable
    from scalable_tui.session import snapshot as S

    def reference(tasks: TaskTable, top: int = S.TOP_GROUPS):  # type: ignore[no-untyped-def]
        by_name = S._group_sizes(tasks, "name")
        n = len(by_name[2])
        if n > top and 2 * n > tasks.n_tasks():
            functions = set(S.compress(tasks.function, tasks.state))
            if all(tasks.strings.values[c] for c in functions):
                by_fn = S._group_sizes(tasks, "function")
                if 2 * len(by_fn[2]) <= n:
                    return S._bars(tasks, "function", *by_fn, top), len(by_fn[2]), "function"
        return S._bars(tasks, "name", *by_name, top), n, "task name"

    fn_modes = ["shared", "per task", "per task, folding", "per task, ']' that does not fold", "some unknown",
                "half folding", "newlines"]

    def function_of(mode: str, i: int, k: int) -> str:
        return {"shared": f"f{k % 3}", "per task": f"g{i}", "per task, folding": f"h[{i}]",
                "per task, ']' that does not fold": f"x{i}]", "some unknown": "" if k % 4 == 0 else f"f{k % 2}",
                "half folding": f"h[{i}]" if i % 2 else f"g{i}",
                "newlines": f"h\n[{i % 4}]" if i % 2 else f"h[{i}]\n"}[mode]

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40), st.sampled_from(["succeeded", "failed", None])),
                    min_size=1, max_size=60),
           st.sampled_from(fn_modes), st.integers(0, 4), st.integers(1, 6))
    def same(rows, mode, shared_names, top) -> None:  # type: ignore[no-untyped-def]
        t = TaskTable()
        for i, (name_k, fn_k, state) in enumerate(rows):
            r = t.add_row(f"t{i}")
            t.name[r] = t.strings.get(f"n{name_k}" if name_k < shared_names else f"n{i}")
            fn = function_of(mode, i, fn_k)
            t.function[r] = t.strings.get(fn) if fn else 0
            t.state[r] = t.strings.get(state) if state else 0
        assert S.overview_groups(t, top) == reference(t, top)

    same()

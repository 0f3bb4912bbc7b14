"""Screen queries over the engine tables agree with the RunState they were made from."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from scalable_tui.sources.rundir.index.query import TaskQuery
from scalable_tui.sources.rundir.reader import RunDirReader

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    d = tmp_path_factory.mktemp("q")
    subprocess.run([sys.executable, str(ROOT / "bench" / "gen_big_run.py"), str(d), "--tasks", "2000", "--varied"],
                   check=True, stdout=subprocess.DEVNULL)
    return RunDirReader(next(d.glob("run-*"))).load()


def test_counts_match_the_task_table(state) -> None:  # type: ignore[no-untyped-def]
    q = TaskQuery(state)
    assert q.counts_by_state() == state.tasks.counts_by_state()
    assert q.counts_by("component") == state.tasks.counts_by("component")
    by_prefix = q.counts_by("name", prefix_sep="[")
    assert set(by_prefix) == {"run_gcam", "stitch_outputs", "run_demeter", "xanthos_basin"}
    assert sum(sum(v.values()) for v in by_prefix.values()) == state.tasks.n_tasks()
    with pytest.raises(ValueError):
        q.counts_by("name; DROP TABLE tasks")


def test_sorted_filtered_pages_cover_all_rows(state) -> None:  # type: ignore[no-untyped-def]
    q = TaskQuery(state)
    t = state.tasks
    expect = sorted((d, r) for r in range(len(t)) if (d := t.duration_of(r)) is not None)
    got = []
    for off in range(0, len(t), 700):
        page = q.page(sort="duration", limit=700, offset=off)
        got += [(row["duration"], row["r"]) for row in page.rows if row["duration"] is not None]
    assert got == expect
    failed = q.page(states=["failed"], sort="duration", descending=True, limit=10_000)
    assert failed.total == state.tasks.counts_by_state()["failed"]
    assert all(r["state"] == "failed" for r in failed.rows)
    assert [r["duration"] for r in failed.rows] == sorted((r["duration"] for r in failed.rows), reverse=True)
    hit = q.page(text="Scenario=000123'", limit=5)  # user text is a bound parameter, never SQL
    assert hit.total == 0
    hit = q.page(text="SCENARIO=000123]", limit=5)
    assert hit.total == 1 and hit.rows[0]["name"].endswith("[scenario=000123]")
    with pytest.raises(ValueError):
        q.page(sort="duration; DROP TABLE tasks")


def test_failure_groups_by_exact_text(state) -> None:  # type: ignore[no-untyped-def]
    q = TaskQuery(state)
    groups = q.failure_groups(limit=1000)
    expect = Counter((f.failure_class, f.message) for f in state.failures)
    assert {(c, m): n for c, m, n, _ in groups} == dict(expect)
    assert groups[0][2] == max(expect.values())


def test_duration_histogram_counts_every_duration(state) -> None:  # type: ignore[no-untyped-def]
    q = TaskQuery(state)
    bins = q.histogram("duration", bins=7)
    durations = list(state.tasks.durations())
    assert len(bins) == 7 and sum(n for _, _, n in bins) == len(durations)
    assert bins[0][0] == min(durations) and abs(bins[-1][1] - max(durations)) < 1e-6
    for lo, hi, n in bins[:-1]:
        assert n == sum(1 for d in durations if lo <= d < hi)

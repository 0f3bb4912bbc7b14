"""The run-directory reader on real Scalable output and on damaged copies of it."""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import pytest

from scalable_tui.sources.rundir.reader import RunDirReader, load_run
from tests.conftest import tree_fingerprint


def test_real_run_counts_match_scalables_own_summary(gcam_run: Path) -> None:
    state = load_run(gcam_run)
    summary = json.loads((gcam_run / "summary.json").read_text())
    assert state.tasks.counts_by_state() == {
        "succeeded": summary["counts"]["tasks_succeeded"],
        "failed": summary["counts"]["tasks_failed"],
    }
    assert len(state.failures) == summary["counts"]["failure_events"]
    assert state.tasks.events == summary["counts"]["task_events"]
    assert state.resource_events == summary["counts"]["resource_events"]
    assert len(state.worker_events) == summary["counts"]["worker_events"]
    total = sum(state.tasks.durations())
    assert total == pytest.approx(summary["timing"]["task_duration_total_s"], rel=1e-6)
    assert state.meta.status == "completed" and state.meta.project_name == "gcam-stitches"
    assert state.tasks.counts_by("name") == {"run_gcam": {"succeeded": 79, "failed": 41}}
    assert state.profiles[0].requested_memory == "2G"
    assert state.notices() == []


def test_reader_never_writes_into_the_run_directory(gcam_run: Path) -> None:
    before = tree_fingerprint(gcam_run)
    reader = RunDirReader(gcam_run)
    reader.load()
    reader.refresh()
    assert tree_fingerprint(gcam_run) == before


def _lines(p: Path) -> list[bytes]:
    return p.read_bytes().splitlines(keepends=True)


def test_incremental_refresh_equals_a_full_load(run_copy) -> None:
    run = run_copy("gcam-stitches")
    full = load_run(run)
    tasks = _lines(run / "tasks.jsonl")
    failures = _lines(run / "failures.jsonl")
    (run / "tasks.jsonl").write_bytes(b"".join(tasks[:100]) + tasks[100][:50])  # cut mid-line
    (run / "failures.jsonl").write_bytes(b"".join(failures[:3]))
    reader = RunDirReader(run)
    state = reader.load()
    assert state.tasks.events == 100
    offset_before = reader.tails["tasks"].offset
    assert offset_before == len(b"".join(tasks[:100]))
    with (run / "tasks.jsonl").open("ab") as f:
        f.write(tasks[100][50:] + b"".join(tasks[101:]))
    with (run / "failures.jsonl").open("ab") as f:
        f.write(b"".join(failures[3:]))
    res = reader.refresh()
    assert res.task_events == len(tasks) - 100 and res.new_failures == len(failures) - 3
    assert not res.reloaded
    s = reader.state
    assert s.tasks.counts_by_state() == full.tasks.counts_by_state()
    assert len(s.failures) == len(full.failures)
    assert [f.task_id for f in s.failures] == [f.task_id for f in full.failures]
    assert sum(s.tasks.durations()) == pytest.approx(sum(full.tasks.durations()))
    assert s.notices() == []
    assert reader.refresh().changed is False


def test_failed_task_without_failure_record_is_still_a_failure(run_copy) -> None:
    run = run_copy("gcam-stitches")
    (run / "failures.jsonl").unlink()
    state = load_run(run)
    assert len(state.failures) == 41
    assert {f.source for f in state.failures} == {"tasks.jsonl"}
    assert {f.failure_class for f in state.failures} == {"KeyError", "ZeroDivisionError", "PermissionError", "OSError", "RuntimeError"}


def test_late_failure_record_replaces_the_synthesised_one(run_copy) -> None:
    run = run_copy("gcam-stitches")
    failures = (run / "failures.jsonl").read_bytes()
    (run / "failures.jsonl").write_bytes(b"")
    reader = RunDirReader(run)
    assert len(reader.load().failures) == 41
    (run / "failures.jsonl").write_bytes(failures)
    reader.refresh()
    assert len(reader.state.failures) == 41
    assert {f.source for f in reader.state.failures} == {"failures.jsonl"}
    assert [f.index for f in reader.state.failures] == list(range(41))


def test_damaged_lines_are_counted_not_fatal(run_copy) -> None:
    run = run_copy("gcam-stitches")
    lines = _lines(run / "tasks.jsonl")
    good = json.loads(lines[0])
    wrong_types = dict(good, task_id="t-wrong", duration_s="fast", state="failed", task_name=5)
    no_state = dict(good, task_id="t-nostate", state=7)
    future = dict(good, task_id="t-future", schema_version=2, extra_field={"x": 1})
    damaged = (
        lines[:10]
        + [b'{"task_id": "broken", "state": \n', b"\xff\xfe not utf8 \xff\n", b"\n", b"[1, 2, 3]\n"]
        + [json.dumps(wrong_types, sort_keys=True).encode() + b"\n"]
        + [json.dumps(no_state, sort_keys=True).encode() + b"\n"]
        + [json.dumps(future, sort_keys=True).encode() + b"\n"]
        + lines[10:]
        + [lines[-1][:40]]  # partial last line: writer killed mid-line
    )
    (run / "tasks.jsonl").write_bytes(b"".join(damaged))
    (run / "summary.json").write_bytes(b"{not json")
    state = load_run(run)
    iss = state.issues["tasks.jsonl"]
    assert iss.corrupt == 1
    assert iss.non_utf8 == 1
    assert iss.invalid == 2  # the JSON array and the record whose state is a number
    assert iss.fields_ignored == 2  # duration_s="fast", task_name=5
    assert iss.future_schema == 1
    assert state.issues["summary.json"].unreadable.startswith("not valid JSON")
    counts = state.tasks.counts_by_state()
    assert counts == {"succeeded": 79, "failed": 42, "submitted": 1}
    r = state.tasks.row["t-wrong"]
    assert math.isnan(state.tasks.duration[r])
    notices = "\n".join(state.notices())
    assert "tasks.jsonl: skipped 1 corrupt line(s), 1 non-UTF-8 line(s), 2 record(s)" in notices
    assert "newer schema_version" in notices


def test_missing_and_unreadable_files(tmp_path: Path, gcam_run: Path) -> None:
    run = tmp_path / gcam_run.name
    run.mkdir()
    shutil.copy(gcam_run / "failures.jsonl", run / "failures.jsonl")
    state = load_run(run)  # no run.json, no tasks.jsonl
    assert state.meta.run_id == run.name and state.meta.status is None
    assert len(state.failures) == 41 and state.tasks.n_tasks() == 0
    (run / "tasks.jsonl").mkdir()  # a directory where a file should be: unreadable
    state = load_run(run)
    assert state.issues["tasks.jsonl"].unreadable


def test_file_rewritten_shorter_triggers_a_clean_reload(run_copy) -> None:
    run = run_copy("gcam-stitches")
    reader = RunDirReader(run)
    reader.load()
    lines = _lines(run / "tasks.jsonl")
    (run / "tasks.jsonl").write_bytes(b"".join(lines[:30]))
    res = reader.refresh()
    assert res.reloaded
    assert reader.state.tasks.events == 30


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files regardless of their mode")
def test_permission_denied_file_is_reported(run_copy) -> None:  # pragma: no cover - CI runs as root
    run = run_copy("gcam-stitches")
    (run / "tasks.jsonl").chmod(0)
    assert load_run(run).issues["tasks.jsonl"].unreadable


def test_parquet_is_used_when_the_jsonl_is_missing(run_copy) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    run = run_copy("gcam-stitches")
    rows = [json.loads(x) for x in _lines(run / "tasks.jsonl")]
    pq.write_table(pa.Table.from_pylist(rows), run / "tasks.parquet")
    (run / "tasks.jsonl").unlink()
    state = load_run(run)
    assert state.parquet_used == ["tasks"]
    assert state.tasks.counts_by_state() == {"succeeded": 79, "failed": 41}


def test_refresh_in_slices_equals_a_full_load(run_copy) -> None:
    run = run_copy("gcam-stitches")
    full = load_run(run)
    reader = RunDirReader(run)
    res = reader.refresh(max_bytes=10_000)
    slices = 1
    assert res.more and 0 < res.progress < 1
    while res.more:
        res = reader.refresh(max_bytes=10_000)
        slices += 1
    assert slices > 5 and res.progress == 1.0
    s = reader.state
    assert s.tasks.counts_by_state() == full.tasks.counts_by_state()
    assert [f.task_id for f in s.failures] == [f.task_id for f in full.failures]
    assert s.tasks.events == full.tasks.events and s.resource_events == full.resource_events
    assert {f.source for f in s.failures} == {"failures.jsonl"}

"""The app's headless model: snapshots, task filtering and sorting, status line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assistant.diagnose import diagnose_state
from scalable_tui.app.data import build_snapshot, compile_query, filter_tasks, sort_tasks, task_cells
from scalable_tui.sources.rundir import RunDirReader
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

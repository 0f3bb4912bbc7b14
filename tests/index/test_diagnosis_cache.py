"""The diagnosis kept beside a finished run's index entry: the same answer, and only for exactly that state."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from assistant.diagnose import diagnose_state
from scalable_tui.model.diagnosis import Diagnosis
from scalable_tui.session import diagnosis_cache
from scalable_tui.session.pipeline import diagnose_cached
from scalable_tui.session.review import ReviewSession
from scalable_tui.sources.rundir.index import cache, policy
from scalable_tui.sources.rundir.reader import RunDirReader, load_run
from tests.conftest import tree_fingerprint

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def finished_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(policy, "MIN_INDEX_BYTES", 0)
    subprocess.run([sys.executable, str(ROOT / "bench" / "gen_big_run.py"), str(tmp_path / "runs"), "--tasks", "3000",
                    "--fail-every", "7"], check=True, stdout=subprocess.DEVNULL)
    return next((tmp_path / "runs").glob("run-*"))


def whole(diag: Diagnosis) -> Any:
    """Everything of a diagnosis, the drill-down indices (not serialised) included."""
    return diag.model_dump(), [f.failure_indices for f in diag.findings]


def count_diagnoses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    import scalable_tui.session.pipeline as pipeline

    def counting(*a: Any, **k: Any) -> Diagnosis:
        calls.append(1)
        return diagnose_state(*a, **k)

    monkeypatch.setattr(pipeline, "diagnose_state", counting)
    return calls


def test_a_reopened_run_gets_the_stored_diagnosis_equal_to_a_fresh_one(finished_run: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    calls = count_diagnoses(monkeypatch)
    before = tree_fingerprint(finished_run)
    first = diagnose_cached(load_run(finished_run))  # cold: read, index stored, diagnosed, diagnosis stored
    assert len(calls) == 1 and (cache.entry_dir(finished_run) / diagnosis_cache.NAME).is_file()
    state = load_run(finished_run)  # from the index
    second = diagnose_cached(state)
    assert len(calls) == 1  # not diagnosed again
    ref = RunDirReader(finished_run).load()
    fresh = diagnose_state(ref)
    assert whole(second) == whole(first) == whole(fresh)
    # diagnosing also fills each failure's task name, component, duration, worker and resources in the
    # state (the Failures screens show them): a reopen answered from the cache must too
    assert state.failures == ref.failures and any(f.task_name for f in state.failures)
    assert sum(f.count for f in second.findings) == second.failures_total > 0
    assert (cache.entry_dir(finished_run) / diagnosis_cache.NAME).stat().st_mode & 0o777 == 0o600
    assert tree_fingerprint(finished_run) == before  # nothing written into the run directory


def test_a_changed_run_or_another_state_is_diagnosed_again(finished_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = count_diagnoses(monkeypatch)
    diagnose_cached(load_run(finished_run))
    # a part of the run (a first slice): never answered with the whole run's diagnosis, nor stored as it
    part = RunDirReader(finished_run)
    part._index_checked = True  # read it, do not adopt the index (the review app's first slice of a cold open)
    part.refresh(max_bytes=64 << 10)
    partial = diagnose_cached(part.state)
    assert len(calls) == 2
    assert 0 < partial.failures_total == diagnose_state(part.state).failures_total
    # … and the whole run is still answered correctly (the part, stored, took the entry's one slot)
    full = diagnose_cached(load_run(finished_run))
    assert len(calls) == 3 and partial.failures_total < full.failures_total
    assert whole(full) == whole(diagnose_state(RunDirReader(finished_run).load()))
    n = len(calls)
    # the run changes (one more failed task): the index and the diagnosis are rebuilt
    with open(finished_run / "tasks.jsonl", "ab") as f:
        f.write(json.dumps({"task_id": "f" * 32, "state": "failed", "error_type": "OSError",
                            "error_message": "[Errno 28] No space left on device", "event_type": "task",
                            "timestamp": "2026-11-24T00:00:00Z"}).encode() + b"\n")
    again = diagnose_cached(load_run(finished_run))
    assert len(calls) == n + 1
    assert whole(again) == whole(diagnose_state(RunDirReader(finished_run).load()))
    # other code (an upgraded assistant) misses too
    monkeypatch.setattr(diagnosis_cache, "code_fingerprint", lambda: ["another version"])
    diagnose_cached(load_run(finished_run))
    assert len(calls) == n + 2


def test_a_damaged_entry_is_a_miss_and_runs_the_index_does_not_hold_are_not_cached(
        finished_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = count_diagnoses(monkeypatch)
    diagnose_cached(load_run(finished_run))
    stored = cache.entry_dir(finished_run) / diagnosis_cache.NAME
    data = json.loads(stored.read_bytes())
    data["indices"] = data["indices"][:-1]  # does not fit the findings: never trusted
    stored.write_text(json.dumps(data))
    d = diagnose_cached(load_run(finished_run))
    assert len(calls) == 2 and whole(d) == whole(diagnose_state(RunDirReader(finished_run).load()))
    diagnose_cached(load_run(finished_run))  # the miss stored it again, whole: a hit now
    assert len(calls) == 2
    data = json.loads(stored.read_bytes())
    data["indices"][0] = ["0"]  # not row numbers: never handed to the screens
    stored.write_text(json.dumps(data))
    diagnose_cached(load_run(finished_run))
    assert len(calls) == 3
    stored.write_bytes(b"{not json")
    diagnose_cached(load_run(finished_run))
    assert len(calls) == 4
    # a run below the index's size: diagnosed every time, nothing written to the cache
    monkeypatch.setattr(policy, "MIN_INDEX_BYTES", 1 << 40)
    small = finished_run.parent / "small"
    small.mkdir()
    for p in finished_run.iterdir():
        (small / p.name).write_bytes(p.read_bytes())
    diagnose_cached(load_run(small))
    diagnose_cached(load_run(small))
    assert len(calls) == 6 and not cache.entry_dir(small).exists()


def test_the_review_session_stores_the_diagnosis_after_the_screen_and_reopens_with_it(
        finished_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = count_diagnoses(monkeypatch)
    views: list[Any] = []
    ReviewSession(RunDirReader(finished_run)).run(views.append)
    assert (cache.entry_dir(finished_run) / diagnosis_cache.NAME).is_file()
    n = len(calls)
    reopened: list[Any] = []
    ReviewSession(RunDirReader(finished_run)).run(reopened.append)
    assert len(calls) == n  # the reopen diagnosed nothing
    assert whole(reopened[-1].run.diagnosis) == whole(views[-1].run.diagnosis)
    assert reopened[-1].run.failures == views[-1].run.failures  # names, workers, … filled in both


def count_joins(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    import scalable_tui.session.pipeline as pipeline

    real = pipeline.join_failures

    def counting(state: Any) -> None:
        calls.append(1)
        real(state)

    monkeypatch.setattr(pipeline, "join_failures", counting)
    return calls


def test_a_reopen_whose_failures_were_stored_joined_does_not_join_them_again(
        finished_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ReviewSession(RunDirReader(finished_run)).run(lambda view: None)  # the app's order: diagnosed, then stored
    joins = count_joins(monkeypatch)
    state = load_run(finished_run)
    assert state.failures_joined()
    diag = diagnose_cached(state)
    assert joins == []  # 0.1-0.25 s of a 300k-task reopen
    ref = RunDirReader(finished_run).load()
    assert whole(diag) == whole(diagnose_state(ref))
    assert state.failures == ref.failures and all(f.task_name for f in state.failures if f.task_id)


def test_a_state_changed_after_the_join_or_stored_unjoined_is_joined_again(
        finished_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    load_run(finished_run)  # stored before any diagnosis (``diagnose`` on the command line): not joined
    state = load_run(finished_run)
    assert not state.failures_joined()
    diagnose_cached(state)  # diagnosed (no diagnosis stored yet): joined, and the diagnosis stored
    assert state.failures_joined()
    again = load_run(finished_run)
    assert not again.failures_joined()
    joins = count_joins(monkeypatch)
    diagnose_cached(again)  # the stored diagnosis, but the failures restored unjoined: joined here
    assert joins == [1] and again.failures_joined()
    assert again.failures == state.failures
    # whatever the join reads, changed: joined again
    state.failures.append(dataclasses.replace(state.failures[0], task_name=None, component=None))
    assert not state.failures_joined()
    state.joined_mark = None
    from assistant.grouping import join_failures

    join_failures(state)
    assert state.failures[-1].task_name == state.failures[0].task_name and state.failures_joined()
    state.tasks.events += 1
    assert not state.failures_joined()
    state.joined_mark = state.join_key()
    state.resource_events += 1
    assert not state.failures_joined()

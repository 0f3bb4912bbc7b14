"""The reader's fast paths and its two-process load give exactly the plain result.

The reference is the reader with every line fully decoded (template caches
off) in one process; the fingerprint covers every column, failure, issue and
line number the reader produces (``bench/state_fingerprint.py``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from scalable_tui.sources import tasks_part
from scalable_tui.sources.rundir import RunDirReader
from tests.conftest import ROOT, fixture_run


def _fp_module() -> Any:
    spec = importlib.util.spec_from_file_location("state_fingerprint", ROOT / "bench" / "state_fingerprint.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


FP = _fp_module()


@pytest.fixture(scope="module")
def nasty_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3000 generated tasks with every kind of damage, both halves of the file."""
    return FP.nasty(tmp_path_factory.mktemp("nasty"))


def _reference(run: Path) -> dict[str, Any]:
    reader = RunDirReader(run, parallel=False)
    reader._line_cache = FP._NeverStore()
    reader._resource_cache = FP._NeverStore()
    reader._done_cache = FP._NeverStore()
    return FP.fingerprint(reader.load())


@pytest.fixture
def always_split(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Split even small files; returns the list of merged child line counts."""
    monkeypatch.setattr(tasks_part, "PARALLEL_MIN_BYTES", 1)
    merged: list[int] = []
    orig = RunDirReader._merge_part

    def spy(self: RunDirReader, part: dict[str, Any], base_line: int) -> None:
        merged.append(part["lines"])
        orig(self, part, base_line)

    monkeypatch.setattr(RunDirReader, "_merge_part", spy)
    return merged


def test_fast_paths_equal_the_plain_decode_on_damaged_input(nasty_run: Path) -> None:
    ref = _reference(nasty_run)
    assert ref["issues"]["tasks.jsonl"]["corrupt"] > 0 and ref["n_failures"] > 0
    assert FP.fingerprint(RunDirReader(nasty_run, parallel=False).load()) == ref


def test_finished_lines_take_the_template_path(nasty_run: Path) -> None:
    reader = RunDirReader(nasty_run, parallel=False)
    reader.load()
    # One template per (component, state) shape, not one per line.
    assert 0 < len(reader._done_cache) < 50


def test_two_process_load_equals_the_plain_one(nasty_run: Path, always_split: list[int]) -> None:
    ref = _reference(nasty_run)
    got = FP.fingerprint(RunDirReader(nasty_run).load())
    assert always_split and always_split[0] > 1000  # the child really read part of the file
    assert got == ref


def test_two_process_load_of_a_real_run(always_split: list[int]) -> None:
    run = fixture_run("gcam-stitches")
    assert FP.fingerprint(RunDirReader(run).load()) == _reference(run)
    assert always_split


def test_growing_file_read_with_splits_equals_a_plain_tail(nasty_run: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           always_split: list[int]) -> None:
    monkeypatch.setattr(tasks_part, "PARALLEL_MIN_BYTES", 1 << 60)
    plain = FP._incremental(nasty_run, tmp_path)
    assert not always_split
    monkeypatch.setattr(tasks_part, "PARALLEL_MIN_BYTES", 1)
    assert FP._incremental(nasty_run, tmp_path) == plain
    assert len(always_split) >= 3


def test_a_failing_child_falls_back_to_a_plain_read(nasty_run: Path, monkeypatch: pytest.MonkeyPatch,
                                                    always_split: list[int]) -> None:
    monkeypatch.setattr(tasks_part.sys, "executable", "/bin/false")
    assert FP.fingerprint(RunDirReader(nasty_run).load()) == _reference(nasty_run)
    assert not always_split


def test_small_runs_stay_in_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Any] = []
    monkeypatch.setattr(tasks_part.subprocess, "Popen", lambda *a, **k: started.append(a))
    RunDirReader(fixture_run("gcam-stitches")).load()
    assert not started


def test_split_points_are_line_boundaries(nasty_run: Path) -> None:
    path = nasty_run / "tasks.jsonl"
    data = path.read_bytes()
    with open(path, "rb") as f:
        end = tasks_part._line_end_before(f, len(data), 0)
        assert end is not None and data[end - 1 : end] == b"\n" and end < len(data)  # partial last line left
        mid = tasks_part._line_start_at_or_after(f, len(data) // 2, end)
        assert mid is not None and data[mid - 1 : mid] == b"\n" and len(data) // 2 < mid <= len(data) // 2 + 600
        assert tasks_part._line_start_at_or_after(f, end, end) is None

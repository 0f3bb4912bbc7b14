"""Regenerate fixtures with the real Scalable library (slow: real clusters)."""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("make_fixtures", ROOT / "fixtures" / "make_fixtures.py")
mf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mf)

# name -> (tasks, {state: n} that must hold exactly, failure classes)
EXPECTED = {
    "mixed-failures": (70, {"succeeded": 48, "failed": 21, "cancelled": 1}, 21),
    "killed-worker": (14, {"succeeded": 11, "failed": 3}, 3),
    "session-start-failure": (0, {}, 1),
    "running-live": (30, {"succeeded": 19, "failed": 5, "running": 6}, 5),
    "tutorial-tracebacks": (10, {"succeeded": 6, "failed": 4}, 4),
    "corrupt-lines": (14, {"succeeded": 9, "failed": 4, "3": 1}, 4),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED) + ["crashed-partial"])
def test_make_fresh(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # must not matter
    t0 = time.monotonic()
    run_dir = mf.make(name, tmp_path / "out")
    assert time.monotonic() - t0 < 60
    assert run_dir.parent == tmp_path / "out" / name and run_dir.name.startswith("run-")
    assert not (tmp_path / ".scalable").exists()
    info = mf.describe(run_dir)
    if name == "crashed-partial":
        states = info["final_states"]
        assert info["tasks"] == 30 and states["running"] == 7
        assert states.get("succeeded", 0) + states.get("failed", 0) == 23
        assert not (run_dir / "tasks.jsonl").read_bytes().endswith(b"\n")
        return
    tasks, states, n_failures = EXPECTED[name]
    assert info["tasks"] == tasks
    assert info["final_states"] == states
    assert sum(info["failures"].values()) == n_failures
    if name == "session-start-failure":
        rec = json.loads((run_dir / "failures.jsonl").read_text())
        assert rec["details"] == {"phase": "session.start"}

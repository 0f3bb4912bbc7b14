"""Invariants of the committed Scalable run fixtures (fixtures/runs/)."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNS = ROOT / "fixtures" / "runs"


def _load_make_fixtures():
    spec = importlib.util.spec_from_file_location(
        "make_fixtures", ROOT / "fixtures" / "make_fixtures.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


mf = _load_make_fixtures()

# final_states / failures as documented in fixtures/README.md
EXPECTED = {
    "gcam-stitches": ({"succeeded": 79, "failed": 41},
                      {"KeyError": 14, "ZeroDivisionError": 11, "PermissionError": 6,
                       "OSError": 5, "RuntimeError": 5}),
    "mixed-failures": ({"succeeded": 48, "failed": 21, "cancelled": 1},
                       {"KeyError": 3, "ZeroDivisionError": 2, "RuntimeError": 2,
                        "MemoryError": 2, "FileNotFoundError": 2, "TimeoutError": 2,
                        "PermissionError": 1, "OSError": 1, "ModuleNotFoundError": 1,
                        "ConnectionError": 1, "PicklingError": 1, "AttributeError": 1,
                        "TypeError": 1, "ValueError": 1}),
    "killed-worker": ({"succeeded": 11, "failed": 3}, {"KilledWorker": 3}),
    "session-start-failure": ({}, {"RuntimeError": 1}),
    "crashed-partial": ({"succeeded": 18, "failed": 5, "running": 7},
                        {"KeyError": 1, "ZeroDivisionError": 1, "OSError": 1,
                         "FileNotFoundError": 1, "RuntimeError": 1}),
    "running-live": ({"succeeded": 19, "failed": 5, "running": 6},
                     {"KeyError": 1, "ZeroDivisionError": 1, "OSError": 1,
                      "FileNotFoundError": 1, "RuntimeError": 1}),
    "tutorial-tracebacks": ({"succeeded": 6, "failed": 4},
                            {"KeyError": 1, "RuntimeError": 1, "ValueError": 2}),
    # lenient count: includes the added wrong-typed (state 3) and schema-2 records
    "corrupt-lines": ({"succeeded": 9, "failed": 4, "3": 1},
                      {"KeyError": 1, "ZeroDivisionError": 1, "PermissionError": 1,
                       "RuntimeError": 1}),
}


def _run_dir(name: str) -> Path:
    dirs = sorted((RUNS / name).glob("run-*"))
    assert len(dirs) == 1, dirs
    return dirs[0]


@pytest.mark.parametrize("name", mf.FIXTURES)
def test_counts_and_size(name):
    run_dir = _run_dir(name)
    info = mf.describe(run_dir)
    states, failures = EXPECTED[name]
    assert info["final_states"] == states
    assert info["failures"] == failures
    assert info["bytes"] < 300_000
    assert json.loads((run_dir / "run.json").read_text())["run_id"] == run_dir.name


@pytest.mark.parametrize("name", mf.FIXTURES)
def test_only_loopback_addresses(name):
    for path in _run_dir(name).iterdir():
        text = path.read_bytes().decode("utf-8", "replace")
        for host in re.findall(r"(?:tcp|inproc|tls|ws)://([^:/\s\"']+)", text):
            assert host == "127.0.0.1", (path, host)


def test_status_and_summary():
    expect = {
        "crashed-partial": ("running", False),
        "running-live": ("running", False),
        "session-start-failure": ("failed", True),
    }
    for name in mf.FIXTURES:
        info = mf.describe(_run_dir(name))
        assert (info["status"], info["summary_json"]) == expect.get(name, ("completed", True))


def test_session_start_failure_record():
    recs = [json.loads(x) for x in
            (_run_dir("session-start-failure") / "failures.jsonl").read_text().splitlines()]
    assert recs == [dict(recs[0], details={"phase": "session.start"}, task_id=None,
                         failure_class="RuntimeError", message="Nanny failed to start.")]


def test_crashed_partial_truncated():
    data = (_run_dir("crashed-partial") / "tasks.jsonl").read_bytes()
    assert not data.endswith(b"\n")
    lines = data.split(b"\n")
    assert len(lines) == 84
    with pytest.raises(ValueError):
        json.loads(lines[-1])
    assert (_run_dir("running-live") / "tasks.jsonl").read_bytes().endswith(b"\n")


def test_tutorial_details():
    for line in (_run_dir("tutorial-tracebacks") / "failures.jsonl").read_text().splitlines():
        rec = json.loads(line)
        d = rec["details"]
        assert d["phase"] == "task_execution" and d["task_id"] == rec["task_id"]
        assert d["worker_id"].startswith("tcp://127.0.0.1:")
        assert d["traceback"].startswith("Traceback (most recent call last):")
    text = (_run_dir("tutorial-tracebacks") / "failures.jsonl").read_text()
    assert "During handling of the above exception" in text
    assert "direct cause of the following exception" in text
    assert "[bold red]oops[/]" in text and "\\u001b[31m" in text


def test_corrupt_lines_damage():
    run_dir = _run_dir("corrupt-lines")
    damage = json.loads((RUNS / "corrupt-lines" / "damage.json").read_text())
    lines = (run_dir / "tasks.jsonl").read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) - 1 == damage["tasks_lines"] == 41
    get = lambda n: lines[n - 1]  # noqa: E731
    with pytest.raises(UnicodeDecodeError):
        get(damage["non_utf8_line"]).decode("utf-8")
    assert get(damage["blank_line"]) == b""
    with pytest.raises(ValueError):
        json.loads(get(damage["invalid_json_line"]))
    wrong = json.loads(get(damage["wrong_types_line"]))
    assert wrong["state"] == 3 and wrong["duration_s"] == "1.25"
    assert json.loads(get(damage["schema2_line"]))["schema_version"] == 2
    assert json.loads(get(damage["extra_field_line"]))["gpu_seconds"] == 12.5
    assert (damage["non_utf8_line"], damage["blank_line"], damage["extra_field_line"],
            damage["invalid_json_line"], damage["wrong_types_line"],
            damage["schema2_line"]) == (6, 14, 27, 31, 35, 40)
    flines = (run_dir / "failures.jsonl").read_text().splitlines()
    assert len(flines) == 5
    with pytest.raises(ValueError):
        json.loads(flines[2])

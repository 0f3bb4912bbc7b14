"""One failure per failed task, and failures of no task told apart: on runs the real Scalable library wrote.

An audit found "4 failures" where 3 tasks had failed (the 4th record was the
driving script's own exception, ``task_id: null``), and "25 failures" beside
"23 failed" when a task had two records or a record and then succeeded.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scalable_tui.session import diagnose_run
from tests.compare.conftest import scalable_night
from tests.conftest import run_cli, tree_fingerprint

pytestmark = pytest.mark.slow  # real ScalableSessions write the runs


@pytest.fixture(scope="module")
def script_raised(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 KeyError tasks, then the driving script raises inside ``with session:``."""
    return scalable_night(tmp_path_factory.mktemp("ctx"), "keyerror=2,driver_raises=1")


@pytest.fixture(scope="module")
def plain_night(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scalable_night(tmp_path_factory.mktemp("plain"), "keyerror=2,zerodiv=1")


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_the_scripts_own_exception_is_a_failure_of_no_task(script_raised: Path) -> None:
    records = _lines(script_raised / "failures.jsonl")
    assert [r["details"].get("phase") for r in records if r["task_id"] is None] == ["session.context"]
    diag = diagnose_run(script_raised)
    assert (diag.failures_total, diag.task_failures, diag.run_failures) == (3, 2, 1)
    assert sum(f.count for f in diag.findings) == diag.failures_total
    script = next(f for f in diag.findings if f.phase == "session.context")
    assert script.title == "The workflow script raised RuntimeError inside `with session:`"
    assert "not from a task" in script.suggestion and "Reproduce one failing" not in script.suggestion
    p = run_cli("diagnose", str(script_raised), "--no-ai", "--slurm", "off")
    assert p.returncode == 0, p.stderr
    assert "3 failures detected in 2 groups across 2 categories (2 task failures, 1 failure of no task)" in p.stdout
    doc = json.loads(run_cli("diagnose", str(script_raised), "--no-ai", "--format", "json").stdout)
    assert (doc["failures_total"], doc["task_failures"], doc["run_failures"]) == (3, 2, 1)
    # the retry plan says the script stopped: what it did not submit is not in the plan
    plan = run_cli("retry-plan", str(script_raised))
    assert plan.returncode == 0, plan.stderr
    assert "The workflow script raised RuntimeError inside `with session:`: whatever it would have submitted" \
        in " ".join(plan.stdout.split())


def test_a_task_counts_once_by_its_last_record_and_not_when_it_succeeded_later(plain_night: Path,
                                                                                tmp_path: Path) -> None:
    """Richer records the format reference says tools must accept: a second one per attempt, one for a recovered task."""
    import shutil

    run = tmp_path / plain_night.name
    shutil.copytree(plain_night, run)
    tasks = _lines(run / "tasks.jsonl")
    final = {e["task_id"]: e for e in tasks}
    failed = [t for t, e in final.items() if e["state"] == "failed"]
    ok = next(t for t, e in final.items() if e["state"] == "succeeded")
    assert len(failed) == 3
    key_task = next(r["task_id"] for r in _lines(run / "failures.jsonl") if r["failure_class"] == "KeyError")
    run_id = final[ok]["run_id"]
    extra = [
        {"details": {"phase": "task_execution", "task_id": key_task, "worker_id": "tcp://127.0.0.1:40001",
                     "traceback": "Traceback (most recent call last):\n  File \"wf.py\", line 3, in run_gcam\n"
                                  "KeyError: 'region_100'\n"},
         "event_type": "failure", "failure_class": "KeyError", "message": "'region_100'", "provider": "local",
         "run_id": run_id, "schema_version": 1, "task_id": key_task, "timestamp": final[key_task]["timestamp"]},
        {"details": {"phase": "task_execution", "task_id": ok, "worker_id": "tcp://127.0.0.1:40001"},
         "event_type": "failure", "failure_class": "ConnectionResetError", "message": "[Errno 104] Connection reset",
         "provider": "local", "run_id": run_id, "schema_version": 1, "task_id": ok,
         "timestamp": final[ok]["timestamp"]},
    ]
    with open(run / "failures.jsonl", "a") as f:
        for r in extra:
            f.write(json.dumps(r) + "\n")
    before = tree_fingerprint(run)
    diag = diagnose_run(run)
    assert (diag.failures_total, diag.task_failures, diag.run_failures) == (3, 3, 0)
    assert diag.tasks["failed"] == 3
    counts: dict[str, int] = {}
    for f in diag.findings:
        counts[f.exception_types[0]] = counts.get(f.exception_types[0], 0) + f.count
    assert counts == {"KeyError": 2, "ZeroDivisionError": 1}
    # The KeyError task's last record is the richer one: it is the one counted (its traceback is shown).
    assert any("line 3, in run_gcam" in (f.example_traceback or "") and key_task in f.task_ids for f in diag.findings)
    note = next(n for n in diag.notices if n.startswith("not counted as failures"))
    assert "1 earlier failure record superseded by a later record of the same task" in note
    assert "the failure records of 1 task that succeeded later" in note
    p = run_cli("diagnose", str(run), "--no-ai", "--slurm", "off")
    assert "3 failures detected in 3 groups" in p.stdout and "ConnectionResetError" not in p.stdout
    assert "not counted as failures" in p.stderr
    assert tree_fingerprint(run) == before

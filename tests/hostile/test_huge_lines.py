"""A 10 MB line in a run directory: ``scalable-tui diagnose`` finishes quickly and reports the failure.

Before the fix the host regex alone was quadratic in the length of a word:
a 10 MB task line hung ``diagnose`` for more than five minutes.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from scalable_tui.sources.rundir.reader import load_run
from tests.conftest import run_cli
from tests.hostile.rundirs import append, copy_fixture, hostile_failure, resource, task_events

SIZE = 10_000_000
BOUND_S = 60.0  # generous: the run takes about a second here

BIG = {
    "message": lambda: "a." * (SIZE // 2),
    "failure_class": lambda: "Hostile" + "a" * SIZE + "Error",
    "traceback": lambda: "Traceback (most recent call last):\n" + 'File "x\n' * (SIZE // 8) + "HostileError: boom\n",
    "task_name": lambda: "a-" * (SIZE // 2),
    "requested_memory": lambda: "1" + " " * SIZE + "x",
    "timestamp": lambda: "2026-11-25T11:47:20Z" + "\x1b[2J" * (SIZE // 4),
}


@pytest.mark.parametrize("field", sorted(BIG))
def test_diagnose_finishes_on_a_10mb_field(tmp_path: Path, field: str) -> None:
    run = copy_fixture(tmp_path)
    before = len(load_run(run).failures)
    big = BIG[field]()
    tid = "huge0001"
    fc = big if field == "failure_class" else "HostileError"
    ts = big if field == "timestamp" else "2026-11-25T11:47:20Z"
    append(run / "tasks.jsonl", *task_events(tid, name=big if field == "task_name" else "run_huge", component="gcam",
                                              error_type=fc, error_message="boom", timestamp=ts, worker="w1"))
    append(run / "resources.jsonl", resource(tid, memory=big if field == "requested_memory" else "8G",
                                             walltime="01:00:00", component="gcam", timestamp=ts))
    append(run / "failures.jsonl", hostile_failure(tid, failure_class=fc, message=big if field == "message" else "boom",
                                                   timestamp=ts, traceback=big if field == "traceback" else None))
    assert max(p.stat().st_size for p in run.iterdir()) > SIZE
    for fmt in ("text", "json"):
        t0 = time.monotonic()
        p = run_cli("diagnose", str(run), "--no-ai", "--slurm", "off", "--format", fmt, timeout=BOUND_S * 2)
        took = time.monotonic() - t0
        assert p.returncode == 0, p.stderr[-2000:]
        assert took < BOUND_S, f"{field}/{fmt}: {took:.1f} s"
        assert len(p.stdout) < 2_000_000, f"{field}/{fmt}: {len(p.stdout)} characters of output"
        if fmt == "json":
            diag = json.loads(p.stdout)
            assert diag["failures_total"] == before + 1
            assert any("Hostile" in " ".join(f["exception_types"]) for f in diag["findings"])
        else:
            assert f"{before + 1} failures detected" in p.stdout and "Hostile" in p.stdout

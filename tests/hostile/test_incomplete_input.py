"""Unreadable input is said in the report itself, never a green "no failures"."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

from assistant.diagnose import diagnose_state
from assistant.incomplete import incomplete_inputs
from scalable_tui.sources.rundir.reader import load_run
from tests.conftest import run_cli, tree_fingerprint
from tests.hostile.rundirs import copy_fixture


def _random_binary(path: Path, size: int, seed: int = 13) -> None:
    path.write_bytes(random.Random(seed).randbytes(size))


def test_random_binary_tasks_file_is_reported_in_every_format(tmp_path: Path) -> None:
    run = copy_fixture(tmp_path)
    _random_binary(run / "tasks.jsonl", 2_000_000)
    (run / "failures.jsonl").unlink()
    before = tree_fingerprint(run)
    text = run_cli("diagnose", str(run), "--no-ai", "--slurm", "off")
    assert text.returncode == 0, text.stderr
    assert "✓ No failures recorded" not in text.stdout
    warn = [ln for ln in text.stdout.splitlines() if ln.startswith("⚠ tasks.jsonl:")]
    assert warn and "% unreadable" in warn[0] and "results are incomplete" in warn[0], text.stdout
    # The share is right: every complete line of random bytes is skipped (empty lines are not counted as data).
    lines = (run / "tasks.jsonl").read_bytes().count(b"\n")
    assert f"of {lines} lines skipped" in warn[0]
    md = run_cli("diagnose", str(run), "--no-ai", "--slurm", "off", "--format", "markdown").stdout
    assert "**⚠ Incomplete input:** tasks.jsonl: " in md
    diag = json.loads(run_cli("diagnose", str(run), "--no-ai", "--slurm", "off", "--format", "json").stdout)
    assert diag["incomplete"] and diag["incomplete"][0].startswith("tasks.jsonl: ")
    assert "Input incomplete" in diag["summary"]
    assert tree_fingerprint(run) == before  # read only


def test_some_corrupt_lines_give_a_small_share(tmp_path: Path) -> None:
    run = copy_fixture(tmp_path)
    with (run / "failures.jsonl").open("ab") as fh:
        fh.write(b"{not json\n\xff\xfe\n")
    state = load_run(run)
    total = (run / "failures.jsonl").read_bytes().count(b"\n")
    [line] = incomplete_inputs(state)
    assert line.startswith("failures.jsonl: ") and f"(2 of {total} lines skipped)" in line
    diag = diagnose_state(state)
    assert diag.incomplete == [line] and diag.failures_total > 0


def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        # root reads a 000 file: make the path a directory instead (open() fails with EISDIR).
        run = copy_fixture(tmp_path)
        (run / "failures.jsonl").unlink()
        (run / "failures.jsonl").mkdir()
    else:
        run = copy_fixture(tmp_path)
        (run / "failures.jsonl").chmod(0)
    diag = diagnose_state(load_run(run))
    assert any(w.startswith("failures.jsonl: unreadable") for w in diag.incomplete), diag.incomplete


def test_clean_run_has_no_incomplete_warning(tmp_path: Path) -> None:
    run = copy_fixture(tmp_path)
    diag = diagnose_state(load_run(run))
    assert diag.incomplete == []
    assert "Input incomplete" not in diag.summary

"""`scalable-tui review` argument handling (real processes; the app itself is tested with Pilot/tmux)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import run_cli


def test_missing_run_is_a_one_line_error_with_exit_2(tmp_path: Path) -> None:
    proc = run_cli("review", str(tmp_path / "nope"))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"scalable-tui: run directory {tmp_path / 'nope'} does not exist"
    assert proc.stdout == ""


def test_unknown_run_id_and_empty_runs_dir(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    proc = run_cli("review", "--runs-dir", str(tmp_path / "runs"), "--run-id", "run-x")
    assert proc.returncode == 2 and proc.stderr.startswith("scalable-tui: run 'run-x' not found")
    proc = run_cli("review", "--runs-dir", str(tmp_path / "runs"))
    assert proc.returncode == 2 and proc.stderr.startswith("scalable-tui: no runs in")
    proc = run_cli("review", "--runs-dir", str(tmp_path / "runs"), "--latest")
    assert proc.returncode == 2 and proc.stderr.startswith("scalable-tui: no runs in")


def test_review_help_imports_no_textual() -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "scalable_tui", "review", "--help"], capture_output=True, text=True
    )
    assert proc.returncode == 0 and "--no-ai" in proc.stdout and "--stale-after" in proc.stdout
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line}
    assert "textual" not in imported

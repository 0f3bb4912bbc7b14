"""Finding runs: a runs directory one level too high, and ``--run-id`` by a unique prefix (real CLI processes)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from scalable_tui.tui.ai import AI_OFF_LINE
from tests.conftest import fixture_run, run_cli


def _project(tmp_path: Path) -> Path:
    """``proj/sub/.scalable/runs/`` with two real runs, as a project one level below ``proj`` keeps them."""
    runs = tmp_path / "proj" / "sub" / ".scalable" / "runs"
    for name in ("gcam-stitches", "mixed-failures"):
        src = fixture_run(name)
        shutil.copytree(src, runs / src.name)
    return tmp_path / "proj"


def test_runs_dir_one_level_too_high_says_where_the_runs_are(tmp_path: Path) -> None:
    proj = _project(tmp_path)
    nested = proj / "sub" / ".scalable" / "runs"
    p = run_cli("runs", "--runs-dir", str(proj))
    assert p.returncode == 0
    assert f"no runs in {proj}; found 2 runs in {nested} — use --runs-dir {nested}" in p.stdout
    # The hint is right: that --runs-dir lists them.
    listed = run_cli("runs", "--runs-dir", str(nested), "--format", "json")
    assert len(json.loads(listed.stdout)) == 2
    for cmd in (("diagnose", "--latest"), ("review", "--latest")):
        p = run_cli(*cmd, "--runs-dir", str(proj))
        assert p.returncode == 2 and f"use --runs-dir {nested}" in p.stderr, p.stderr


def test_run_id_takes_a_unique_prefix_and_lists_candidates_when_ambiguous(tmp_path: Path) -> None:
    nested = _project(tmp_path) / "sub" / ".scalable" / "runs"
    gcam = fixture_run("gcam-stitches").name  # run-20261123T081131Z-gcam-stitches-a92143d5
    for prefix in ("run-20261123", "20261123T08"):
        p = run_cli("diagnose", "--runs-dir", str(nested), "--run-id", prefix, "--format", "json")
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout)["run_id"] == gcam
    p = run_cli("diagnose", "--runs-dir", str(nested), "--run-id", "run-2026")
    assert p.returncode == 2
    line = p.stderr.strip()
    assert len(line.splitlines()) == 1 and "matches 2 runs" in line and gcam in line
    assert fixture_run("mixed-failures").name in line
    p = run_cli("diagnose", "--runs-dir", str(nested), "--run-id", "run-1999")
    assert p.returncode == 2 and "run 'run-1999' not found" in p.stderr


def test_the_ai_off_hint_names_options_every_tui_command_has() -> None:
    named = set(re.findall(r"--[a-z][a-z-]+", AI_OFF_LINE))
    assert named
    for cmd in ("review", "attach", "demo"):
        helped = run_cli(cmd, "--help").stdout
        missing = {o for o in named if o not in helped}
        assert not missing, f"{cmd} has no {missing} (the AI-off hint names them)"

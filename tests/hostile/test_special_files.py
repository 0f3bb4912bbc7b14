"""A run directory whose files are not files: a FIFO blocked ``diagnose`` forever, ``/dev/zero`` filled the memory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import run_cli, tree_fingerprint
from tests.hostile.rundirs import copy_fixture

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")


def test_fifos_and_devices_are_unreadable_notes_not_hangs(tmp_path: Path) -> None:
    run = copy_fixture(tmp_path, "gcam-stitches")
    (run / "tasks.jsonl").unlink()
    os.mkfifo(run / "tasks.jsonl")  # nobody will ever write to it: open() alone would block
    (run / "failures.jsonl").unlink()
    (run / "failures.jsonl").symlink_to("/dev/zero")  # reads never end
    (run / "summary.json").unlink()
    os.mkfifo(run / "summary.json")
    before = tree_fingerprint(run)
    for cmd in (("diagnose", str(run), "--no-ai", "--slurm", "off"), ("runs", "--runs-dir", str(run.parent)),
                ("efficiency", str(run), "--slurm", "off"), ("retry-plan", str(run))):
        p = run_cli(*cmd, timeout=60)  # the old code never returned: a TimeoutExpired fails the test
        assert p.returncode == 0, (cmd, p.stderr)
        assert "Traceback" not in p.stderr
    p = run_cli("diagnose", str(run), "--no-ai", "--slurm", "off", timeout=60)
    for name in ("tasks.jsonl", "failures.jsonl", "summary.json"):
        assert f"{name}: unreadable (not a regular file)" in p.stderr, p.stderr
    assert "⚠ tasks.jsonl: unreadable (not a regular file): results are incomplete" in p.stdout
    assert tree_fingerprint(run) == before

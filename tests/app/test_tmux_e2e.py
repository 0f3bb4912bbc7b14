"""End to end in a real terminal: tmux runs `scalable-tui review <fixture>`."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.tmux_term import TmuxTerminal

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)")


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("SCALABLE_", "OPENAI_"))}


def test_review_in_a_real_terminal(gcam_run: Path) -> None:
    term = TmuxTerminal("review")
    try:
        term.start(f"{sys.executable} -m scalable_tui review {gcam_run}", _env())
        # the footer's "finished" can follow the Overview's counts by a repaint: awaited, not assumed
        term.wait_for("120 tasks", "79 succeeded", "41 failed", "finished (completed)")
        term.send("f")
        screen = term.wait_for("41 failures in 5 groups")
        for count, category in (("14", "invalid_input"), ("11", "user_code"), ("6", "permission"), ("5", "gpu_oom"), ("5", "disk_full")):
            assert any(line.split()[:2] == [count, category] for line in screen.splitlines() if line.split()), category
        term.send("Enter")
        term.wait_for("5× Disk full")
        term.send("Enter")
        screen = term.wait_for("OSError: [Errno 28] No space left on device", "No traceback recorded")
        assert "resources" in screen
        term.send("q")
    finally:
        term.close()


def test_run_picker_in_a_real_terminal(run_copy) -> None:
    run = run_copy("gcam-stitches")
    term = TmuxTerminal("review")
    try:
        term.start(f"{sys.executable} -m scalable_tui review --runs-dir {run.parent}", _env())
        term.wait_for("1 run, newest first", run.name, "completed")
        term.send("Enter")
        term.wait_for("120 tasks", "79 succeeded")
        term.send("q")
    finally:
        term.close()

"""End to end in a real terminal: tmux runs `scalable-tui review <fixture>`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)")


class Tmux:
    def __init__(self) -> None:
        # A private server socket: never touches the user's tmux sessions.
        self.socket = f"stui-test-{os.getpid()}"
        self.session = "review"

    def run(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10, check=True
        ).stdout

    def capture(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.session)

    def wait_for(self, *needles: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.capture()
            if all(n in screen for n in needles):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {needles}; the pane shows:\n{screen}")

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10)


def test_review_in_a_real_terminal(gcam_run: Path) -> None:
    tmux = Tmux()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCALABLE_", "OPENAI_"))}
    cmd = f"{sys.executable} -m scalable_tui review {gcam_run}"
    try:
        subprocess.run(
            ["tmux", "-L", tmux.socket, "-f", "/dev/null", "new-session", "-d", "-s", tmux.session,
             "-x", "120", "-y", "40", cmd],
            check=True, timeout=10, env={**env, "TERM": "xterm-256color"},
        )
        screen = tmux.wait_for("120 tasks", "79 succeeded", "41 failed")
        assert "finished (completed)" in screen
        tmux.run("send-keys", "-t", tmux.session, "f")
        screen = tmux.wait_for("41 failures in 5 groups")
        for count, category in (("14", "invalid_input"), ("11", "user_code"), ("6", "permission"), ("5", "gpu_oom"), ("5", "disk_full")):
            assert any(line.split()[:2] == [count, category] for line in screen.splitlines() if line.split()), category
        tmux.run("send-keys", "-t", tmux.session, "Enter")
        tmux.wait_for("5× Disk full")
        tmux.run("send-keys", "-t", tmux.session, "Enter")
        screen = tmux.wait_for("OSError: [Errno 28] No space left on device", "No traceback recorded")
        assert "resources" in screen
        tmux.run("send-keys", "-t", tmux.session, "q")
    finally:
        tmux.kill()


def test_run_picker_in_a_real_terminal(run_copy) -> None:
    run = run_copy("gcam-stitches")
    tmux = Tmux()
    cmd = f"{sys.executable} -m scalable_tui review --runs-dir {run.parent}"
    try:
        subprocess.run(
            ["tmux", "-L", tmux.socket, "-f", "/dev/null", "new-session", "-d", "-s", tmux.session,
             "-x", "120", "-y", "40", cmd],
            check=True, timeout=10, env={**os.environ, "TERM": "xterm-256color"},
        )
        tmux.wait_for("1 runs, newest first", run.name, "completed")
        tmux.run("send-keys", "-t", tmux.session, "Enter")
        tmux.wait_for("120 tasks", "79 succeeded")
        tmux.run("send-keys", "-t", tmux.session, "q")
    finally:
        tmux.kill()

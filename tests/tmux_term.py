"""A real terminal for end-to-end tests: one private tmux server per test.

Every terminal gets its own server socket (a fresh name per instance, not per
process): two tests in one pytest process used to share ``stui-test-<pid>``,
and a new server started while the previous one was still shutting down
failed with "server exited unexpectedly". ``close`` waits until the server is
really gone for the same reason.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path


class TmuxTerminal:
    def __init__(self, session: str = "main", width: int = 120, height: int = 40) -> None:
        self.socket = f"stui-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.session = session
        self.width = width
        self.height = height

    def tmux(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10)
        if check and proc.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args[:2])} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc.stdout

    def start(self, command: str, env: dict[str, str]) -> int:
        """Start ``command`` in a detached session; returns the pane's pid."""
        env = {k: v for k, v in env.items() if k not in ("TMUX", "TMUX_PANE")}
        env["TERM"] = "xterm-256color"
        proc = subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", "new-session", "-d", "-s", self.session,
             "-x", str(self.width), "-y", str(self.height), command],
            capture_output=True, text=True, timeout=10, env=env,
        )
        if proc.returncode != 0:
            raise AssertionError(f"tmux new-session failed ({proc.returncode}): {proc.stderr.strip()}")
        return int(self.tmux("display-message", "-p", "-t", self.session, "#{pane_pid}").strip())

    def send(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.session, *keys)

    def capture(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.session)

    def wait_for(self, *needles: str, timeout: float = 20.0, poll: float = 0.1) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.capture()
            if all(n in screen for n in needles):
                return screen
            time.sleep(poll)
        raise AssertionError(f"timed out waiting for {needles}; the pane shows:\n{screen}")

    def _socket_path(self) -> Path:
        base = os.environ.get("TMUX_TMPDIR") or "/tmp"
        return Path(base) / f"tmux-{os.getuid()}" / self.socket

    def close(self, timeout: float = 10.0) -> None:
        self.tmux("kill-server", check=False)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if subprocess.run(["tmux", "-L", self.socket, "has-session"], capture_output=True,
                              timeout=10).returncode != 0:
                break
            time.sleep(0.05)
        try:
            self._socket_path().unlink()
        except OSError:
            pass

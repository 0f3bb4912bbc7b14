"""Delivery: the exact OSC bytes (on a real pty), untrusted titles, and the --on-finding runner."""

from __future__ import annotations

import json
import os
import pty
import select
import sys
import textwrap
import time
from pathlib import Path

import pytest

from scalable_tui.session.alerts import Alert
from scalable_tui.session.live_alerts import AlertSetupError, build_alerts
from scalable_tui.session.notify import CommandRunner, Delivery, TtyTerminal, osc_notification

HOSTILE = "Boom\x1b]0;owned\x07\x1b[2J\x9b31m;x\u202ey"


def _read_until(fd: int, end: bytes, timeout: float = 10.0) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while end not in out and time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            out += os.read(fd, 65536)
    return out


def test_osc_bytes_plain_and_in_tmux() -> None:
    seq = osc_notification("scalable-tui", "error: ValueError in alpha (1 failure)")
    assert seq == ("\x07\x1b]9;scalable-tui: error: ValueError in alpha (1 failure)\x07"
                   "\x1b]777;notify;scalable-tui;error: ValueError in alpha (1 failure)\x07")
    wrapped = osc_notification("scalable-tui", "b", tmux=True)
    assert wrapped == ("\x07\x1bPtmux;\x1b\x1b]9;scalable-tui: b\x07\x1b\\"
                       "\x1bPtmux;\x1b\x1b]777;notify;scalable-tui;b\x07\x1b\\")


def test_untrusted_title_cannot_inject_escapes() -> None:
    seq = osc_notification(f"t;{HOSTILE}", f"error: {HOSTILE}\nsecond line")
    # the only control characters left are the ones that frame our own sequences
    assert seq.count("\x1b") == 2 and seq.count("\x07") == 3
    assert "\x9b" not in seq and "\u202e" not in seq and "\n" not in seq
    assert "\\x1b]0;owned\\x07" in seq           # shown literally
    assert "\x1b]777;notify;t,Boom" in seq        # ';' in the title cannot shift the body


def test_tty_terminal_writes_to_a_real_pty(tmp_path: Path) -> None:
    master, slave = pty.openpty()
    logged: list[str] = []
    try:
        term = TtyTerminal(tty=os.ttyname(slave), tmux=False, log=logged.append)
        alert = Alert("finding", "sig1", "error", HOSTILE, 0.0, category="user_code", count=2)
        term(Delivery([alert], address="tcp://127.0.0.1:8786"))
        got = _read_until(master, b"\x07\x1b]777", timeout=5) + _read_until(master, b")\x07", timeout=5)
        term.close()
    finally:
        os.close(master)
        os.close(slave)
    body = "error: Boom\\x1b]0;owned\\x07\\x1b[2J\\x9b31m;x\\u202ey (2 failures)"
    assert got.decode() == f"\x07\x1b]9;scalable-tui: {body}\x07\x1b]777;notify;scalable-tui;{body}\x07"
    assert logged == [f"alert: error: {HOSTILE} (2 failures)"]  # stderr_log cleans it when it prints


def test_no_terminal_means_no_escapes_only_the_log(tmp_path: Path) -> None:
    logged: list[str] = []
    term = TtyTerminal(tty=str(tmp_path / "no-such-tty"), tmux=False, log=logged.append)
    if sys.stderr.isatty():  # pragma: no cover - pytest captures stderr
        pytest.skip("stderr is a terminal here")
    assert term.fd is None
    term(Delivery([Alert("scheduler_lost", "scheduler", "critical", "scheduler lost: x", 0.0)]))
    assert logged == ["alert: scheduler lost: x"]


def _script(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "hook.py"
    p.write_text(textwrap.dedent(body))
    return p


def _wait(cond, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_on_finding_gets_the_json_on_stdin_without_a_shell(tmp_path: Path) -> None:
    out = tmp_path / "got.json"
    hook = _script(tmp_path, """
        import sys, pathlib
        pathlib.Path(sys.argv[1]).write_bytes(sys.stdin.buffer.read())
        print("sent; $HOME not expanded:", sys.argv[2])
    """)
    logged: list[str] = []
    runner = CommandRunner([sys.executable, str(hook), str(out), "$HOME;rm"], timeout=20, log=logged.append)
    a = Alert("finding", "abc123", "error", "ValueError in alpha", 1_700_000_000.0, category="user_code", count=3)
    runner(Delivery([a], address="tcp://127.0.0.1:8786", scheduler_id="Scheduler-1", now=1_700_000_001.0))
    assert runner.close(20)
    doc = json.loads(out.read_text())
    assert doc["format"] == "scalable-tui.alert/1"
    assert doc["summary"] == "error: ValueError in alpha (3 failures)"
    assert doc["alerts"] == [{"kind": "finding", "id": "abc123", "severity": "error", "category": "user_code",
                              "title": "ValueError in alpha", "count": 3, "time": "2023-11-14T22:13:20Z",
                              "address": "tcp://127.0.0.1:8786", "scheduler_id": "Scheduler-1"}]
    assert logged == [f"on-finding: {os.path.basename(sys.executable)} exit 0: sent; $HOME not expanded: $HOME;rm"]


def test_on_finding_timeout_kills_the_command_and_its_children(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    hook = _script(tmp_path, f"""
        import subprocess, sys, time, pathlib
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        pathlib.Path({str(pidfile)!r}).write_text(str(child.pid))
        time.sleep(600)
    """)
    logged: list[str] = []
    runner = CommandRunner([sys.executable, str(hook)], timeout=1.0, log=logged.append)
    runner(Delivery([Alert("scheduler_lost", "scheduler", "critical", "scheduler lost: x", 0.0)]))
    assert runner.close(30)
    assert logged == [f"on-finding: {os.path.basename(sys.executable)} killed after 1 s"]
    pid = int(pidfile.read_text())
    _wait(lambda: not _alive(pid), what="the hook's child killed too")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def test_bad_on_finding_commands_are_refused_before_start(tmp_path: Path) -> None:
    with pytest.raises(AlertSetupError, match="not found"):
        build_alerts(notify=False, on_finding="no-such-command-xyz --flag")
    with pytest.raises(AlertSetupError, match="cannot split"):
        build_alerts(notify=False, on_finding="sh -c 'unclosed")
    with pytest.raises(AlertSetupError, match="empty"):
        build_alerts(notify=False, on_finding="   ")
    with pytest.raises(AlertSetupError, match="empty"):  # --on-finding "" gave no alerts and no word of it
        build_alerts(notify=False, on_finding="")
    assert build_alerts(notify=False, on_finding=None) is None


def test_a_failing_command_is_one_log_line(tmp_path: Path) -> None:
    hook = _script(tmp_path, """
        import sys
        print("line one")
        print("curl: (7) Failed to connect", file=sys.stderr)
        sys.exit(7)
    """)
    logged: list[str] = []
    runner = CommandRunner([sys.executable, str(hook)], timeout=20, log=logged.append)
    runner(Delivery([Alert("scheduler_lost", "scheduler", "critical", "scheduler lost: x", 0.0)]))
    assert runner.close(20)
    assert logged == [f"on-finding: {os.path.basename(sys.executable)} exit 7: curl: (7) Failed to connect"]


@pytest.mark.parametrize("command", ["record", "attach"])
def test_cli_refuses_a_bad_on_finding_command_before_anything_starts(command: str, tmp_path: Path) -> None:
    from tests.conftest import run_cli

    out = tmp_path / "night.rec"
    extra = ["--out", str(out)] if command == "record" else ["--record", str(out)]
    p = run_cli(command, "tcp://127.0.0.1:1", *extra, "--slurm", "off", "--on-finding", "no-such-command-xyz -v")
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == [
        "scalable-tui: --on-finding: command not found or not executable: no-such-command-xyz"]
    assert not out.exists()

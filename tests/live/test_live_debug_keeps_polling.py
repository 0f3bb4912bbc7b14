"""`D` (debug a failure locally) keeps monitoring: polls and recording go on while pdb is open.

A real terminal (tmux), a real scheduler and worker, a workload process that
holds its failed futures, and ``attach --record``: the recording gains a frame
per poll, so frames written while the pdb prompt is on screen prove that the
poll loop and the recorder kept running.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from tests.live.conftest import Procs, procs  # noqa: F401
from tests.tmux_term import TmuxTerminal

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")]
ROOT = Path(__file__).resolve().parents[2]


def _frames(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
        try:
            return int(con.execute("SELECT count(*) FROM frames").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:  # created but no table yet
        return 0


def _wait(cond, timeout: float, what: str, term: TmuxTerminal) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; the pane shows:\n{term.capture()}")


def test_polling_and_recording_continue_while_pdb_is_open(procs: Procs, tmp_path: Path) -> None:
    address, _ = procs.scheduler()
    procs.workers("--nworkers", "1")
    wl, info = procs.workload(address, "fail", "5")  # holds its futures: the failed tasks stay replayable
    assert info["keys"]
    rec = tmp_path / "night.rec"
    term = TmuxTerminal("debug", width=140, height=40)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCALABLE_", "OPENAI_"))}
    try:
        term.start(f"cd {ROOT} && exec {sys.executable} -m scalable_tui attach {address} --no-ai "
                   f"--poll-interval 0.3 --record {rec}", env)
        term.wait_for("connected to", timeout=60, poll=0.2)
        term.send("3")
        term.wait_for("ValueError", timeout=30, poll=0.2)
        term.send("Enter")
        term.wait_for("Enter: show one failure", timeout=20, poll=0.2)  # the group screen
        term.send("Enter")
        term.wait_for("Traceback", timeout=20, poll=0.2)
        term.send("D")
        term.wait_for("Debug this failure locally?", timeout=20, poll=0.2)
        term.send("y")
        term.wait_for("(Pdb)", timeout=60, poll=0.2)
        # pdb holds the terminal: the app must keep polling and recording meanwhile
        at_prompt = _frames(rec)
        _wait(lambda: _frames(rec) >= at_prompt + 5, 30, "5 more recorded polls while pdb is open", term)
        assert "(Pdb)" in term.capture()  # still in pdb: those frames were written during the session
        term.send("q", "Enter")
        term.wait_for("replayed", timeout=30, poll=0.2)  # back in the app, which says what happened
        n = _frames(rec)
        _wait(lambda: _frames(rec) > n, 20, "polls after pdb quit", term)
        term.send("q")
    finally:
        term.close()
        wl.stdin.close()
        wl.wait(timeout=30)

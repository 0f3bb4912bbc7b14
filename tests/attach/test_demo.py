"""``scalable-tui demo``: headless JSON, the CLI's address error, and a real terminal (tmux)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import psutil
import pytest

from tests.attach.conftest import _alive
from tests.tmux_term import TmuxTerminal

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _group_left(pgid: int) -> list[int]:
    out = []
    for p in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(p.pid) == pgid and _alive(p.pid):
                out.append(p.pid)
        except (ProcessLookupError, psutil.NoSuchProcess):
            pass
    return out


def _wait_group_gone(pgid: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    left = _group_left(pgid)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = _group_left(pgid)
    if left:
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert not left, f"processes left behind: {left}"


def test_attach_without_an_address_is_one_line_exit_2() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}
    proc = subprocess.run([sys.executable, "-m", "scalable_tui", "attach"], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--scheduler-file" in lines[0] and "DASK_SCHEDULER_ADDRESS" in lines[0]
    helped = subprocess.run([sys.executable, "-m", "scalable_tui", "attach", "--help"], capture_output=True,
                            text=True, cwd=ROOT, timeout=60).stdout
    assert "Read-only" in helped and "plugin" in helped and "--tls-ca-file" in helped


@pytest.mark.slow
def test_demo_headless_json() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "scalable_tui", "demo", "--headless", "--duration", "20",
                             "--format", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    _wait_group_gone(proc.pid)
    assert proc.returncode == 0, err[-3000:]
    s = json.loads(out)
    assert len([w for w in s["workers"] if w["alive"]]) == 3
    assert {"load_inputs", "run_gcam", "downscale", "stitch"} <= set(s["tasks"])
    assert s["tasks"]["load_inputs"]["memory"] > 20
    # the totals are the scheduler's (before: only the failed tasks were counted: "124 total · 124 failed")
    per_prefix = {}
    for counts in s["tasks"].values():
        for k, v in counts.items():
            per_prefix[k] = per_prefix.get(k, 0) + v
    assert s["task_totals"] == dict(sorted(per_prefix.items())) and s["tasks_total"] == sum(per_prefix.values())
    assert s["task_totals"]["memory"] > s["task_totals"]["erred"] > 0 and s["tasks_total"] > s["task_failures"]
    # one definition of a failure: the categories add up to failures_total
    assert sum(s["categories"].values()) == s["failures_total"] >= s["task_failures"] > 0
    cats = set(s["categories"])
    assert len(cats) >= 5, cats
    assert {"worker_memory", "worker_lost"} & cats and {"missing_file", "invalid_input", "import_error"} <= cats
    types = " ".join(s["failures_by_type"])
    assert "KilledWorker" in types and "ModuleNotFoundError" in types and "FileNotFoundError" in types
    killed = [f for f in s["findings"] if "KilledWorker" in f["exception_types"]]
    assert killed and all(f["workers"] for f in killed)
    assert s["events"]["counts"].get("worker-restart-memory", 0) >= 1
    assert s["events"]["counts"].get("killed-worker", 0) >= 1
    # the scheduler's erred count is not the failures: tasks whose input failed are erred too; said in words
    erred = s["task_totals"]["erred"]
    assert erred > s["task_failures"], "the demo's stitch tasks depend on failing ones"
    assert s["failures_note"] and f"of the scheduler's {erred} erred" in s["failures_note"]
    from scalable_tui.demo import summary_text

    text = summary_text(s)
    first = text.splitlines()[0]
    assert f"{s['failures_total']} failures" in first and ", ," not in first and "failures ," not in first
    assert f"  note: {s['failures_note']}\n" in text


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_demo_in_a_real_terminal() -> None:
    term = TmuxTerminal("demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCALABLE_", "OPENAI_"))}
    pids: set[int] = set()
    try:
        pane_pid = term.start(f"cd {ROOT} && exec {sys.executable} -m scalable_tui demo --no-ai", env)
        screen = term.wait_for("3 workers", "Failures by category", "worker_memory", "worker_lost", timeout=90, poll=0.2)
        assert "connected to tcp://127.0.0.1:" in screen and "Traceback" not in screen
        pids = {pane_pid} | {p.pid for p in psutil.Process(pane_pid).children(recursive=True)}
        assert len(pids) >= 4  # the app, 3 worker processes (and helpers)
        term.send("5")
        screen = term.wait_for("workers alive", "memory: managed", timeout=60, poll=0.2)
        assert screen.count("127.0.0.1:") >= 3
        term.send("q")
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline and any(_alive(p) for p in pids):
            time.sleep(0.2)
        left = [p for p in pids if _alive(p)]
        assert not left, f"left behind after q: {left}"
    finally:
        term.close()
        for p in pids:
            if _alive(p):
                os.kill(p, signal.SIGKILL)

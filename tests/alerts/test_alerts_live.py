"""``scalable-tui record --notify / --on-finding`` (a real process) on a real LocalCluster."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import signal
import subprocess
import termios
import time
from pathlib import Path

import pytest

from tests.live import workload
from tests.live.conftest import PY, Procs, procs, real_cluster  # noqa: F401 - fixtures
from tests.alerts.hooks import hook_into
from tests.record.conftest import wait_recording

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent.parent
LINE = "error: ValueError in alpha (1 failure)"


def _wait(cond, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")



def _fail(client, i: int) -> None:
    from distributed import wait

    fut = client.submit(workload.bad, i, key=f"alpha-{i}", pure=False)  # i % 5 == 0: ValueError
    with client.as_current():
        wait(fut, timeout=60)
    assert fut.status == "error"


def _record_cmd(address: str, out: Path, *extra: str) -> list[str]:
    return [PY, "-m", "scalable_tui", "record", address, "--out", str(out), "--interval", "0.3", "--slurm", "off",
            *extra]


def test_on_finding_runs_once_per_new_group(procs: Procs, tmp_path: Path) -> None:
    got, hook = hook_into(tmp_path, say="delivered")
    out = tmp_path / "night.rec"
    with real_cluster() as (cluster, client):
        address = cluster.scheduler_address
        rec = procs.spawn(_record_cmd(address, out, "--on-finding", f"{PY} {hook} {got}"), "recorder")
        wait_recording(out, lambda r: len(r.state_at(r.end).alive_workers) == 2, what="recorder connected")
        _fail(client, 0)
        _wait(lambda: len(list(got.iterdir())) == 1, what="one --on-finding invocation")
        _fail(client, 5)  # the same group again (it grows to 2): not new
        wait_recording(out, lambda r: r.n_failures == 2, what="the second failure recorded")
        rec.send_signal(signal.SIGTERM)  # the stop waits for the last diagnosis and delivers what is held
        assert rec.wait(60) == 0
    files = sorted(got.iterdir())
    log = (tmp_path / "recorder.log").read_text()
    assert len(files) == 1, (files, log)
    doc = json.loads(files[0].read_text())
    assert doc["summary"] == LINE
    [a] = doc["alerts"]
    assert (a["kind"], a["severity"], a["category"], a["title"], a["count"]) == \
        ("finding", "error", "invalid_input", "ValueError in alpha", 1)
    assert a["id"] and a["address"] == address and a["scheduler_id"].startswith("Scheduler-")
    assert log.count("on-finding: ") == 1 and f"on-finding: {os.path.basename(PY)} exit 0: delivered" in log


def _pty_recorder(procs: Procs, cmd: list[str], env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    """``cmd`` with a new pty as its controlling terminal (so /dev/tty is that pty); returns (proc, master)."""
    master, slave = pty.openpty()

    def make_ctty() -> None:  # after setsid (start_new_session): take the pty as the controlling terminal
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    p = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, start_new_session=True, env=env,
                         cwd=str(ROOT), preexec_fn=make_ctty)
    os.close(slave)
    procs.procs.append(p)
    return p, master


def _read_until(fd: int, needle: bytes, timeout: float = 60.0) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while needle not in out and time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                out += os.read(fd, 65536)
            except OSError:
                break
    assert needle in out, out[-2000:]
    return out


def test_record_notify_writes_bell_and_osc_to_the_terminal_and_wraps_them_in_tmux(procs: Procs,
                                                                                  tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
    osc9 = f"\x1b]9;scalable-tui: {LINE}\x07"
    osc777 = f"\x1b]777;notify;scalable-tui;{LINE}\x07"
    with real_cluster() as (cluster, client):
        address = cluster.scheduler_address
        p1, m1 = _pty_recorder(procs, _record_cmd(address, tmp_path / "a.rec", "--notify"), env)
        try:
            wait_recording(tmp_path / "a.rec", lambda r: len(r.state_at(r.end).alive_workers) == 2,
                           what="recorder connected")
            _fail(client, 0)
            seen = _read_until(m1, osc777.encode())
            assert ("\x07" + osc9 + osc777).encode() in seen
            assert f"scalable-tui: alert: {LINE}".encode() in seen  # the log line (stderr is the pty here)
            assert seen.count(b"\x1b") == 2  # nothing else escapes
            # inside tmux: the same, through the passthrough; a group present at start is new to this recorder
            p2, m2 = _pty_recorder(procs, _record_cmd(address, tmp_path / "b.rec", "--notify"),
                                   {**env, "TMUX": "/tmp/tmux-0/default,1,0"})
            try:
                wrapped = "".join(f"\x1bPtmux;{s.replace(chr(27), chr(27) * 2)}\x1b\\" for s in (osc9, osc777))
                seen2 = _read_until(m2, wrapped.encode())
                assert ("\x07" + wrapped).encode() in seen2
            finally:
                p2.send_signal(signal.SIGTERM)
                assert p2.wait(60) == 0
                os.close(m2)
        finally:
            p1.send_signal(signal.SIGTERM)
            assert p1.wait(60) == 0
            os.close(m1)


def test_record_tells_a_lost_scheduler_once(procs: Procs, tmp_path: Path) -> None:
    got, hook = hook_into(tmp_path)
    address, sched = procs.scheduler()
    out = tmp_path / "night.rec"
    rec = procs.spawn(_record_cmd(address, out, "--give-up-after", "0", "--on-finding", f"{PY} {hook} {got}"),
                      "recorder")
    wait_recording(out, lambda r: not r.never_connected and len(r) >= 2, what="recorder connected")
    os.killpg(sched.pid, signal.SIGKILL)  # the scheduler dies; the recorder stops at the first failed poll
    assert rec.wait(60) == 0
    files = list(got.iterdir())
    assert len(files) == 1, (tmp_path / "recorder.log").read_text()
    doc = json.loads(files[0].read_text())
    [a] = doc["alerts"]
    assert (a["kind"], a["severity"]) == ("scheduler_lost", "critical")
    assert a["title"].startswith(f"scheduler lost: {address} (")


def test_a_worker_death_wave_alerts_once_with_the_deaths(procs: Procs, tmp_path: Path) -> None:
    """Three workers SIGKILLed within seconds (a preemption, a node going down) on a real scheduler: record's
    ``--on-finding`` gets one critical ``worker_deaths`` alert for the wave, and the deaths are failures."""
    got, hook = hook_into(tmp_path)
    address, _ = procs.scheduler()
    workers = [procs.workers("--name", f"victim-{i}", "--no-nanny", name=f"victim-{i}") for i in range(3)]
    out = tmp_path / "wave.rec"
    rec = procs.spawn(_record_cmd(address, out, "--on-finding", f"{PY} {hook} {got}"), "recorder")
    wait_recording(out, lambda r: len(r.state_at(r.end).alive_workers) == 3, what="three workers recorded")
    for w in workers:
        os.killpg(w.pid, signal.SIGKILL)  # the worker process (no nanny to bring it back)

    def alerts() -> list[dict]:
        return [a for f in sorted(got.iterdir()) for a in json.loads(f.read_text())["alerts"]]

    _wait(lambda: any(a["kind"] == "worker_deaths" for a in alerts()), 90, "the death-wave alert")
    wait_recording(out, lambda r: r.summary()["worker_deaths"] == 3, what="three deaths recorded")
    rec.send_signal(signal.SIGTERM)
    assert rec.wait(60) == 0
    waves = [a for a in alerts() if a["kind"] == "worker_deaths"]
    assert len(waves) == 1 and waves[0]["severity"] == "critical" and waves[0]["count"] == 3, alerts()
    assert "3 workers died within" in waves[0]["title"]
    d = json.loads(subprocess.run([PY, "-m", "scalable_tui", "diagnose", str(out), "--format", "json", "--slurm", "off"],
                                  capture_output=True, text=True, cwd=str(ROOT), timeout=120).stdout)
    assert d["worker_deaths"] == 3 and d["failures_total"] == 3

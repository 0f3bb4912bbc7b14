"""``record`` to an address that never answered: said on stderr at once, kept in the file, and
``diagnose`` on it says "never connected" rather than "no failures".  Real processes, 127.0.0.1."""

from __future__ import annotations

import http.server
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from scalable_tui.sources.live.address import NOT_DASK
from scalable_tui.sources.recording.reader import Recording
from tests.conftest import closed_port, run_cli
from tests.record.conftest import ROOT


def _stderr_line(p: subprocess.Popen[str], timeout: float) -> str:
    """The first stderr line that is not a start-up note (e.g. "Slurm jobs not recorded")."""
    assert p.stderr is not None
    deadline = time.monotonic() + timeout
    while True:
        ready, _, _ = select.select([p.stderr], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"nothing on stderr within {timeout} s"
        line = p.stderr.readline()
        if not line.startswith("scalable-tui: note:"):
            return line


def test_never_reached_is_told_at_once_recorded_and_diagnosed(tmp_path: Path) -> None:
    port = closed_port()
    out = tmp_path / "night.rec"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCALABLE_", "OPENAI_"))}
    p = subprocess.Popen([sys.executable, "-m", "scalable_tui", "record", f"127.0.0.1:{port}", "--out", str(out),
                          "--interval", "0.5", "--give-up-after", "10m", "--slurm", "off"],
                         stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env, cwd=ROOT)
    try:
        t0 = time.monotonic()
        line = _stderr_line(p, 60)  # python start-up under load; the poll itself fails at once
        assert line.startswith(f"scalable-tui: no answer from the scheduler at tcp://127.0.0.1:{port}"), line
        assert "connection refused (is the scheduler running?)" in line and "still trying" in line
        assert p.poll() is None  # it keeps trying, as designed: the user was told
        with Recording(out) as rec:  # readable while it runs
            assert rec.never_connected and "(so far" in rec.never_connected_text()
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
        assert time.monotonic() - t0 < 120
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    with Recording(out) as rec:
        assert rec.never_connected and len(rec) >= 1
        text = rec.never_connected_text()
        assert f"never reached the scheduler at tcp://127.0.0.1:{port}" in text and "connection refused" in text
        assert text in rec.notices
        assert rec.whole_run_state().meta.extra["never_connected"] is True
    r = run_cli("diagnose", str(out), "--no-ai")
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and r.stdout == "" and len(lines) == 1, (r.stdout, r.stderr)
    assert "never connected" in lines[0] and "nothing to diagnose" in lines[0]
    assert "No failures" not in r.stdout + r.stderr
    # nor is it a previous night to compare with ("every group is new" would be a wrong answer)
    from tests.conftest import fixture_run

    r = run_cli("diagnose", str(fixture_run("gcam-stitches")), "--no-ai", "--compare", str(out))
    assert r.returncode == 2 and r.stdout == "", (r.stdout, r.stderr)
    assert "never connected" in r.stderr and "nothing to compare with" in r.stderr


def test_give_up_at_once_still_says_never_connected(tmp_path: Path) -> None:
    out = tmp_path / "x.rec"
    r = run_cli("record", f"tcp://127.0.0.1:{closed_port()}", "--out", str(out), "--interval", "0.2",
                "--give-up-after", "0", "--slurm", "off")
    assert r.returncode == 2 and "scheduler never reached" in r.stderr.strip().splitlines()[-1]
    assert "no answer from the scheduler" in r.stderr
    with Recording(out) as rec:
        assert rec.never_connected


def test_an_http_server_stops_record_at_once(tmp_path: Path) -> None:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a: object) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        out = tmp_path / "x.rec"
        r = run_cli("record", f"127.0.0.1:{srv.server_address[1]}", "--out", str(out), "--call-timeout", "1",
                    "--give-up-after", "10m", "--slurm", "off", timeout=90)
    finally:
        srv.shutdown()
        srv.server_close()
    assert r.returncode == 2, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert "scheduler never reached" in last and NOT_DASK in last
    with Recording(out) as rec:
        assert rec.never_connected and NOT_DASK in rec.never_connected_text()


def test_give_up_after_is_kept_between_polls(tmp_path: Path) -> None:
    """``--give-up-after 2s`` with polls 5 s apart gives up at about 2 s, not at the next failed poll (6-7 s)."""
    import asyncio

    from scalable_tui.session.record import record

    t0 = time.monotonic()
    res = asyncio.run(record(f"tcp://127.0.0.1:{closed_port()}", tmp_path / "x.rec", interval=5.0, give_up_after=2.0,
                             handle_signals=False))
    took = time.monotonic() - t0
    assert res.exit_code == 2 and res.reason.startswith("scheduler never reached: unreachable for 2 s"), res.reason
    assert 2.0 <= took < 4.5, took  # one poll in flight at the deadline may finish first (a refused port: ~1 s)
    assert res.frames == 1

"""A real single-node Slurm for the tests in this folder (tools/slurm/start.sh).

The session fixture installs (Debian packages, as root) and starts a private
Slurm: its own munged, MariaDB+slurmdbd (so ``sacct`` works), slurmctld and
slurmd, with config, state and pid files under ``SLURM_TMP`` and ports of its
own; ``SLURM_CONF`` points this process (and the jobs it submits) at it.  It
is stopped after the session unless it was already running before it.  A
Slurm this tooling did not start is never used, stopped or reconfigured: the
tests are skipped with the reason.  Tests are also skipped where Slurm cannot
be installed or run here (not root, no apt-get, offline); a start that fails
on a machine that can run it is an error.

Tests cancel only the jobs they submitted, by job id (``cancel_jobs``).

``SCALABLE_TUI_SLURM_DBD=0`` starts without accounting.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools" / "slurm"
DATA = Path(__file__).resolve().parent / "data"
SLURM_TMP = os.environ.get("SLURM_TMP", "/tmp/scalable-tui-slurmd")
#: One test session at a time on this machine's Slurm.  The same lock file as earlier versions of this
#: tooling (whose SLURM_TMP was /tmp/scalable-tui-slurm), so old and new sessions also take turns.
LOCK = "/tmp/scalable-tui-slurm.tests.lock"


@dataclass
class SlurmEnv:
    tmp: str
    accounting: bool
    started_here: bool


@pytest.fixture(scope="session")
def slurm() -> SlurmEnv:
    with_dbd = os.environ.get("SCALABLE_TUI_SLURM_DBD", "1") != "0"
    env = {**os.environ, "SLURM_TMP": SLURM_TMP, "WITH_DBD": "1" if with_dbd else "0"}
    if os.geteuid() != 0:
        pytest.skip("real-Slurm tests need root to install and start their own Slurm (tools/slurm/start.sh)")
    # One test session at a time on this Slurm: the tests count the node's 2 CPUs, and a session
    # stops the Slurm it started.  Others wait for the lock (a full tests/slurm run takes ~3 min).
    Path(SLURM_TMP).parent.mkdir(parents=True, exist_ok=True)
    lock = open(LOCK, "w")
    deadline = time.monotonic() + float(os.environ.get("SCALABLE_TUI_SLURM_LOCK_WAIT", "900"))
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                lock.close()
                pytest.skip("another test session is using the local Slurm (lock held too long)")
            time.sleep(1)
    t0 = time.monotonic()
    proc = subprocess.run([str(TOOLS / "start.sh")], capture_output=True, text=True, env=env, timeout=900)
    if proc.returncode != 0:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
    if proc.returncode == 2:
        pytest.skip(f"Slurm cannot be installed or run here: {proc.stderr.strip()[-300:]}")
    if proc.returncode == 3:  # a Slurm we did not start: never touch it
        pytest.skip(f"not using a Slurm these tests did not start: {proc.stderr.strip()[-400:]}")
    if proc.returncode != 0:
        pytest.fail(f"tools/slurm/start.sh failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    started_here = "already running" not in proc.stdout
    print(f"slurm ready in {time.monotonic() - t0:.1f} s: {proc.stdout.strip()}")
    # Every Slurm command of this process (and of the jobs it submits) talks to our own Slurm.
    old_conf = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = f"{SLURM_TMP}/etc/slurm.conf"
    # Each test cancels its own jobs (by job id); never all of the user's jobs.
    try:
        yield SlurmEnv(SLURM_TMP, accounting=with_dbd, started_here=started_here)
    finally:
        if old_conf is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old_conf
        if started_here:
            subprocess.run([str(TOOLS / "stop.sh")], capture_output=True, env=env, timeout=120)
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()


def job_ids_named(job_name: str) -> list[str]:
    """Ids of the jobs with this (test-unique) job name, in any state squeue still lists."""
    out = subprocess.run(["squeue", "-h", "-t", "all", f"--name={job_name}", "-o", "%i"], capture_output=True,
                         text=True, timeout=30).stdout
    return [x for x in out.split() if x.strip()]


def cancel_jobs(job_ids: list[str] | set[str]) -> None:
    """Cancel exactly these jobs (ids this test submitted); never ``--user`` or ``--name``."""
    ids = sorted({str(j) for j in job_ids if str(j).strip().isdigit()})
    if ids:
        subprocess.run(["scancel", *ids], capture_output=True, timeout=30)


def wait_until(pred, timeout: float, interval: float = 1.0):
    """Poll ``pred`` until it returns something truthy (returned) or ``timeout`` passes (None)."""
    deadline = time.monotonic() + timeout
    while True:
        got = pred()
        if got:
            return got
        if time.monotonic() > deadline:
            return None
        time.sleep(interval)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist every test of this folder runs in one worker: the Slurm fixture is per session,
    and a second worker's session would wait on its lock until the first one's ended."""
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.xdist_group("slurm"))

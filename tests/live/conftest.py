"""Real Dask parts for the live-source tests: clusters, processes, and cleanup checks.

Everything listens on 127.0.0.1.  Separate schedulers run with ``scalable_tui``
made unimportable (``sys.modules['scalable_tui'] = None``), which proves the
monitor plugin reaches the scheduler by value.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import psutil
import pytest

HERE = Path(__file__).resolve().parent
WORKLOAD = HERE / "workload.py"
PY = sys.executable
#: Run before the scheduler's CLI: this package cannot be imported there.
BLOCK = "import sys; sys.modules['scalable_tui'] = None; sys.modules['assistant'] = None; sys.argv[0] = 'dask'; "


async def until(src, cond: Callable[[Any], bool], timeout: float = 30.0, what: str = "condition", interval: float = 0.1):
    """Poll ``src`` until ``cond(snapshot)``; bounded, never a bare sleep."""
    deadline = time.monotonic() + timeout
    snap = None
    while time.monotonic() < deadline:
        snap = await src.poll(force=True)
        if cond(snap):
            return snap
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; last snapshot: "
                         f"link={getattr(snap, 'link', None)} reason={getattr(snap, 'disconnect_reason', None)} "
                         f"workers={sorted(getattr(snap, 'workers', {}) or {})} "
                         f"failures={len(getattr(snap, 'failures', []) or [])} notices={getattr(snap, 'notices', None)}")


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


#: Helpers multiprocessing keeps for the life of the test process itself.
_PER_PROCESS_HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def _descendants() -> set[int]:
    out = set()
    for p in psutil.Process().children(recursive=True):
        try:
            if _alive(p.pid) and not any(h in " ".join(p.cmdline()) for h in _PER_PROCESS_HELPERS):
                out.add(p.pid)
        except psutil.NoSuchProcess:
            pass
    return out


@pytest.fixture(autouse=True, scope="module")
def no_leftover_processes():
    """Every process a test module started is gone when the module ends."""
    before = _descendants()
    yield
    deadline = time.monotonic() + 15
    left = _descendants() - before
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = _descendants() - before
    assert not left, [psutil.Process(p).cmdline()[:6] for p in left if _alive(p)]


class Procs:
    """Processes started in their own process group; all killed and checked at the end."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: list[subprocess.Popen] = []

    def spawn(self, args: list[str], name: str, **kw: Any) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "w")
        p = subprocess.Popen(args, start_new_session=True, stdout=kw.pop("stdout", log), stderr=log,
                             cwd=kw.pop("cwd", str(HERE.parent.parent)), **kw)
        log.close()
        self.procs.append(p)
        return p

    def scheduler(self, *extra: str, port: int = 0) -> tuple[str, subprocess.Popen]:
        sf = self.tmp / "scheduler.json"
        sf.unlink(missing_ok=True)
        p = self.spawn([PY, "-c", BLOCK + "from distributed.cli.dask_scheduler import main; main()",
                        "--host", "127.0.0.1", "--port", str(port), "--no-dashboard", "--scheduler-file", str(sf),
                        *extra], f"scheduler-{len(self.procs)}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if sf.exists():
                try:
                    return json.loads(sf.read_text())["address"], p
                except (ValueError, KeyError):
                    pass
            assert p.poll() is None, (self.tmp / f"scheduler-{len(self.procs) - 1}.log").read_text()[-2000:]
            time.sleep(0.05)
        raise AssertionError("scheduler did not start")

    def workers(self, *args: str, name: str = "workers") -> subprocess.Popen:
        return self.spawn([PY, "-m", "distributed.cli.dask_worker", "--scheduler-file", str(self.tmp / "scheduler.json"),
                           "--nthreads", "1", "--no-dashboard", *args], name)

    def workload(self, address: str, scenario: str, *args: str) -> tuple[subprocess.Popen, dict]:
        p = self.spawn([PY, str(WORKLOAD), address, scenario, *args], f"workload-{scenario}",
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = p.stdout.readline()
        assert line.startswith("READY "), (line, (self.tmp / f"workload-{scenario}.log").read_text()[-3000:])
        return p, json.loads(line[6:])

    def cleanup(self) -> None:
        for p in reversed(self.procs):
            if p.stdin is not None:
                try:
                    p.stdin.close()
                except OSError:
                    pass
        for p in reversed(self.procs):
            try:
                os.killpg(p.pid, signal.SIGKILL)  # works on SIGSTOPped processes too
            except (ProcessLookupError, PermissionError):
                pass
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                pass
            if p.stdout is not None:
                p.stdout.close()
        # nothing of any group is left (nanny-spawned workers included)
        deadline = time.monotonic() + 10
        groups = {p.pid for p in self.procs}
        while time.monotonic() < deadline:
            left = []
            for proc in psutil.process_iter(["pid"]):
                try:
                    if os.getpgid(proc.pid) in groups and _alive(proc.pid):
                        left.append(proc.pid)
                except (ProcessLookupError, psutil.NoSuchProcess):
                    pass
            if not left:
                return
            time.sleep(0.1)
        raise AssertionError(f"processes left behind: {left}")


@pytest.fixture
def procs(tmp_path: Path):
    p = Procs(tmp_path)
    try:
        yield p
    finally:
        p.cleanup()


@contextmanager
def real_cluster(config: dict[str, Any] | None = None, dashboard: str | None = ":0") -> Iterator[tuple[Any, Any]]:
    """Two real worker processes (nannies, 1 GiB each) on 127.0.0.1 and a Client that submits work."""
    import cloudpickle
    import dask
    from distributed import Client, LocalCluster

    from tests.live import workload

    cloudpickle.register_pickle_by_value(workload)  # workers need not import the tests
    try:
        with dask.config.set(config or {}):
            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address=dashboard, memory_limit="1GiB")
            client = Client(cluster, set_as_default=False)
            try:
                yield cluster, client
            finally:
                client.close()
                cluster.close()
    finally:
        cloudpickle.unregister_pickle_by_value(workload)


@pytest.fixture(scope="module")
def local_cluster():
    """A LocalCluster with real worker processes, and a Client that submits (the monitor never does)."""
    with real_cluster() as cc:
        yield cc

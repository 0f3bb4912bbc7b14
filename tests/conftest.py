"""Shared test helpers: fixture run directories and running the real CLI."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# pytest-xdist's workers get COLUMNS=80 and LINES=24 from the controller (for their own report).  The apps the
# tests start would take them for the terminal's size (Textual reads them before the terminal's own): a tmux
# pane of 120 columns rendered at 80.  A serial run has neither.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)

#: At most this many pytest-xdist workers for ``-n auto`` (set in pyproject.toml): each real-cluster test starts
#: a scheduler and worker processes of its own, and their timeouts are sized for a machine that is not swamped.
MAX_XDIST_WORKERS = 4


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_XDIST_WORKERS))


# Hypothesis: on CI (``CI`` set, as .ci/run does) the examples are derived from each test alone, so CI
# answers for the change under test and never goes red on an example nobody's change brought in; a
# local run explores new random examples (and keeps failing ones in .hypothesis/).  A failure prints
# the blob that reproduces it.
settings.register_profile("ci", derandomize=True, print_blob=True, database=None)
settings.register_profile("dev", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "runs"


def fixture_run(name: str) -> Path:
    """The run directory inside ``fixtures/runs/NAME/`` (there is exactly one)."""
    runs = sorted(p for p in (FIXTURES / name).iterdir() if p.is_dir() and p.name.startswith("run-"))
    assert len(runs) == 1, f"expected one run in fixtures/runs/{name}, found {runs}"
    return runs[0]


def diagnose_bench_run(base: Path, n_failures: int) -> Path:
    """A run written by ``bench/bench_diagnose.py``'s generator: four bugs, every message different."""
    import importlib

    sys.path.insert(0, str(ROOT / "bench"))
    try:
        bench_diagnose = importlib.import_module("bench_diagnose")
    finally:
        sys.path.remove(str(ROOT / "bench"))
    return bench_diagnose.generate(base, n_failures)


@pytest.fixture
def gcam_run() -> Path:
    return fixture_run("gcam-stitches")


@pytest.fixture
def run_copy(tmp_path: Path):
    """Copy a fixture run into tmp_path so a test can damage or grow it."""

    def make(name: str) -> Path:
        src = fixture_run(name)
        dst = tmp_path / "runs" / src.name
        shutil.copytree(src, dst)
        for p in dst.rglob("*"):
            p.chmod(0o644 if p.is_file() else 0o755)
        return dst

    return make


def tree_fingerprint(path: Path) -> dict[str, tuple[int, int, str]]:
    """Names, sizes, mtimes and content hashes: proves nothing was written."""
    out = {}
    for p in sorted(path.rglob("*")):
        if p.is_file():
            st = p.stat()
            out[str(p.relative_to(path))] = (st.st_size, st.st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (a dead scheduler or AI endpoint)."""
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the installed console entry point the way a user does (a real process)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("SCALABLE_", "OPENAI_"))}
    full_env.pop("NO_COLOR", None)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "scalable_tui", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
    )

"""Real parts for the recording tests (all on 127.0.0.1): the live tests' helpers, a LocalCluster, and
waiting on a recording that a recorder process is still writing."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from typing import Any, Callable


from tests.live.conftest import PY, Procs, local_cluster, no_leftover_processes, procs, until  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parent.parent.parent


def bench_sim():
    """The synthetic cluster of bench/bench_record_size.py."""
    spec = importlib.util.spec_from_file_location("bench_record_size", ROOT / "bench" / "bench_record_size.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.Sim


def wait_recording(path: Path, cond: Callable[[Any], bool], timeout: float = 30.0, what: str = "condition"):
    """Open the recording (a recorder may still be writing it) until ``cond(recording)``; returns the last value."""
    from scalable_tui.sources.recording.reader import Recording, RecordingError

    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with Recording(path) as rec:
                if len(rec) and cond(rec):
                    return rec.summary()
                last = rec.summary()
        except RecordingError as e:
            last = str(e)
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; last: {last}")

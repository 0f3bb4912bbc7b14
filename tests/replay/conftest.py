"""A small, deterministic recording written with the recorder's own writer (no cluster, < 1 s).

Timeline (5 s interval, 60 frames): a ``KeyError`` in ``load_inputs`` at frame 10, worker ``w-1`` dies
unexpectedly at frame 20 (and stays gone), a ``FileNotFoundError`` in ``run_gcam`` at frame 30, another
``KeyError`` at frame 45.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path

import pytest

from scalable_tui.model.live import LiveEvent, LiveFailure, LiveSnapshot, PrefixCounts, WorkerInfo
from scalable_tui.sources.recording.writer import RecordingWriter

T0 = 1_800_000_000.0
INTERVAL = 5.0
FRAMES = 60
FAIL_AT = {10: ("load_inputs", "KeyError", "KeyError('region')"),
           30: ("run_gcam", "FileNotFoundError", "FileNotFoundError('/data/missing.csv')"),
           45: ("load_inputs", "KeyError", "KeyError('sector')")}
DEATH_AT = 20
DEAD = "w-1"
TB = '  File "/home/user/project/model.py", line 10, in step\n    return table[key]\n'


@dataclass
class Rec:
    path: Path
    times: list[float]


def _fail(s: LiveSnapshot, i: int, t: float) -> None:
    prefix, etype, text = FAIL_AT[i]
    f = LiveFailure(key=f"{prefix}-{i:04d}", prefix=prefix, exception_type=etype, exception=text, traceback=TB,
                    erred_on=["w-0"], first_seen=t, erred_on_addresses=[s.workers["w-0"].address],
                    scheduler_id=s.scheduler_id)
    s.failures.append(f)
    s.failures_total += 1
    s.failure_counts[(prefix, etype)] = s.failure_counts.get((prefix, etype), 0) + 1
    s.prefixes[prefix].erred += 1


def _event(s: LiveSnapshot, t: float, kind: str, worker: str, text: str, address: str, **details) -> None:
    s.add_event(LiveEvent(ts=t, kind=kind, worker=worker, text=text, address=address, details=details))
    s.events_total += 1
    s.event_counts[kind] = s.event_counts.get(kind, 0) + 1


def write_recording(path: Path) -> Rec:
    s = LiveSnapshot(address="tcp://127.0.0.1:8786", events=deque(maxlen=5000), attached_at=T0)
    s.scheduler_id = "Scheduler-replay-test"
    s.scheduler_address = s.address
    s.scheduler_started = T0 - 60
    s.client_versions = {"python": "3.11", "distributed": "2026.8.0", "dask": "2026.8.0"}
    s.scheduler_versions = dict(s.client_versions)
    s.connected, s.link, s.mode = True, "ok", "plugin"
    for i in range(3):
        name = f"w-{i}"
        s.workers[name] = WorkerInfo(key=name, name=name, address=f"tcp://127.0.0.1:{40000 + i}", host="node001",
                                     status="running", nthreads=2, memory_limit=2**30, memory=2**28,
                                     first_seen=T0, pid=1000 + i)
    for p in ("load_inputs", "run_gcam"):
        s.prefixes[p] = PrefixCounts(name=p, waiting=600, completed=0, memory=0, erred=0)
    w = RecordingWriter.create(path, address=s.address, interval=INTERVAL, keyframe_every=16)
    times = []
    for i in range(FRAMES):
        t = T0 + i * INTERVAL
        s.polls += 1
        s.last_poll_ok = t
        for wk in s.workers.values():
            if wk.alive:
                wk.last_seen = t
                wk.executing = i % 3
        for p in s.prefixes.values():
            n = min(p.waiting, 5)
            p.waiting -= n
            p.completed += n
            p.memory += n
        if i in FAIL_AT:
            _fail(s, i, t - 1)
        if i == DEATH_AT:
            d = s.workers[DEAD]
            d.alive, d.status, d.left_at = False, "left", t - 2
            d.left_reason = "the worker process exited unexpectedly (SIGKILL?)"
            _event(s, t - 2, "worker-removed", DEAD, f"{DEAD} ({d.address}) left: the worker process exited",
                   d.address, unexpected=True, reason="the worker process exited", processing=2)
        w.write(s.copy(), t=t)
        times.append(t)
    w.close("scheduler closed")
    return Rec(path, times)


@pytest.fixture(scope="session")
def recording(tmp_path_factory) -> Rec:
    return write_recording(tmp_path_factory.mktemp("replay") / "night.rec")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"

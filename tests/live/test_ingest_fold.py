"""The snapshot folder on its own: scheduler replies in, ``LiveSnapshot`` out, no socket.

``sources/live/ingest.py`` was cut out of ``LiveSource`` so the rules about
what a reply means can be checked by feeding it replies.  The replies here
have the shapes of the msgpack-only handlers the limited mode calls
(``identity(n_workers=-1)``, ``get_task_prefix_states``, ``events``,
``get_logs``); the same folding runs inside ``LiveSource`` against real
LocalClusters in the other tests of this folder.
"""

from __future__ import annotations

import time

from scalable_tui.sources.live.ingest import SnapshotFolder

ALIVE = "tcp://127.0.0.1:4001"
DEAD = "tcp://127.0.0.1:4002"


def _ident(now: float) -> dict:
    return {
        "id": "Scheduler-1",
        "workers": {
            ALIVE: {
                "name": "w-0", "host": "127.0.0.1", "status": "running", "nthreads": 2, "memory_limit": 2**30,
                "nanny": "tcp://127.0.0.1:5001", "last_seen": now,
                "metrics": {"memory": 2**28, "managed_bytes": 2**27, "cpu": 12.0,
                            "task_counts": {"executing": 1, "ready": 0, "memory": 3}},
            },
        },
    }


def _fold_once(folder: SnapshotFolder, t0: float) -> None:
    events = [
        (t0 + 1, "all", {"action": "add-worker", "worker": DEAD}),
        (t0 + 5, "all", {"action": "remove-worker", "worker": DEAD, "expected": False,
                         "stimulus_id": f"handle-worker-cleanup-{t0 + 5}", "processing-tasks": ["inc-abc"]}),
    ]
    logs = [(t0 + 6, "ERROR", "Task inc-abc marked as failed because 1 workers died while trying to run it")]
    prefixes = {"inc": {"memory": 4, "erred": 1, "processing": 1}}
    folder._apply_limited(_ident(t0 + 7), prefixes, events, logs, t0 + 7)


def test_limited_replies_fold_into_workers_departures_and_a_killed_worker_failure() -> None:
    folder = SnapshotFolder("tcp://127.0.0.1:8786")
    folder._sched_id = "Scheduler-1"  # what the handshake sets
    t0 = time.time() - 60
    _fold_once(folder, t0)
    snap = folder._snap.copy()

    assert snap.workers["w-0"].alive and snap.workers["w-0"].executing == 1
    gone = [w for w in snap.workers.values() if w.address == DEAD]
    assert len(gone) == 1 and not gone[0].alive
    removed = [e for e in snap.events if e.kind == "worker-removed"]
    assert len(removed) == 1 and removed[0].details["unexpected"]
    assert "the worker process exited or the connection to it was lost" in removed[0].text
    assert "1 task(s) were running on it" in removed[0].text

    assert snap.failures_total == 1
    (f,) = snap.failures
    assert (f.key, f.exception_type, f.origin, f.suspicious) == ("inc-abc", "KilledWorker", "logs", 1)
    assert f.killed_addresses == [DEAD]  # the death that hit it, from the remove-worker event
    assert any(e.kind == "killed-worker" for e in snap.events)
    assert (snap.prefixes["inc"].erred, snap.prefixes["inc"].memory) == (1, 4)


def test_the_same_reply_twice_is_still_one_failure() -> None:
    """A poll that returns the same log line again (cursor, then the failure index) counts it once."""
    folder = SnapshotFolder("tcp://127.0.0.1:8786")
    folder._sched_id = "Scheduler-1"
    t0 = time.time() - 60
    _fold_once(folder, t0)
    _fold_once(folder, t0)
    assert folder._snap.failures_total == 1
    assert sum(1 for e in folder._snap.events if e.kind == "killed-worker") == 1

"""The scheduler plugin never runs a pickle: an exception without ``exception_text`` is read inert.

Before: ``_record_failure`` called ``distributed.protocol.pickle.loads`` on
``ts.exception`` whenever the text was missing (meant for the scheduler's own
``KilledWorker``), so any pickle that reached ``ts.exception`` ran its
``__reduce__`` inside the scheduler.  Now it is read by ``_OpaqueUnpickler``
as the file-name recovery does.  A real in-process scheduler makes the
erred transitions itself, as it does for ``KilledWorker``.
"""

from __future__ import annotations

import asyncio
import os
import pickle
from pathlib import Path

from scalable_tui.sources.live.plugin import MonitorPlugin, exception_text_of


class Evil:
    """Unpickling it creates a directory: the side effect the plugin must never cause."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.mkdir, (self.path,))


async def _erred_with(exception_for, tmp_path: Path) -> dict:  # type: ignore[no-untyped-def]
    """Run a blocked task, make the scheduler err it with ``exception_for(scheduler, worker_address)``,
    and return the plugin's record of it."""
    from distributed import Client, Event, LocalCluster, fire_and_forget

    async with LocalCluster(n_workers=1, processes=False, asynchronous=True, dashboard_address=None) as cluster, Client(cluster, asynchronous=True) as client:
        s = cluster.scheduler
        plugin = MonitorPlugin()
        s.add_plugin(plugin)
        await plugin.start(s)
        gate = Event("gate", client=client)
        # no client holds the future: an in-process client would unpickle the exception itself
        fire_and_forget(client.submit(lambda: Event("gate").wait(30), key="blocked-1"))
        for _ in range(200):
            ts = s.tasks.get("blocked-1")
            if ts is not None and ts.state == "processing":
                break
            await asyncio.sleep(0.05)
        addr = next(iter(s.workers))
        s.transition("blocked-1", "erred", stimulus_id="test-erred", exception=exception_for(s, addr),
                     cause="blocked-1", worker=addr)
        assert s.tasks["blocked-1"].state == "erred"
        await gate.set()
        (rec,) = [f for f in plugin.failures if f["key"] == "blocked-1"]
        return rec


def test_a_hostile_pickle_in_ts_exception_runs_nothing(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    rec = asyncio.run(_erred_with(lambda s, addr: pickle.dumps(Evil(str(target))), tmp_path))
    assert not target.exists()
    assert rec["type"] == "mkdir" and rec["text"] == f"mkdir: {target}"


def test_killed_worker_text_is_the_schedulers_own(tmp_path: Path) -> None:
    from distributed.protocol.pickle import dumps
    from distributed.scheduler import KilledWorker

    made: list[str] = []

    def killed(s, addr):  # type: ignore[no-untyped-def]
        exc = KilledWorker(task="blocked-1", last_worker=s.workers[addr].clean(), allowed_failures=2)
        made.append(f"KilledWorker: {exc}")
        return dumps(exc)

    rec = asyncio.run(_erred_with(killed, tmp_path))
    assert rec["type"] == "KilledWorker"
    # the same words as str(KilledWorker) up to the worker's address (the rest is a link to the docs)
    assert made[0].startswith(rec["text"]) and rec["text"].endswith(f"was {next(iter(rec['erred_on']))}.")


def test_unreadable_exception_says_so() -> None:
    etype, text = exception_text_of(b"not a pickle")
    assert etype is None and text.startswith("(exception not readable on the scheduler")
    assert exception_text_of(pickle.dumps(ValueError("bad scenario 7"))) == ("ValueError", "ValueError: bad scenario 7")

"""A live worker as the scheduler sees it, and the short names the screens show for workers.

Plain data (no ``distributed``); part of the live snapshot (``live.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

__all__ = ["WorkerInfo", "display_names"]


@dataclass(slots=True)
class WorkerInfo:
    """One worker as the scheduler sees it; departed workers stay with ``alive=False``.

    ``key`` is the stable identity used as the dict key in ``LiveSnapshot.workers``:
    the worker's name, or its nanny's address when the worker has no name of its
    own (then Dask names it after its address, which changes on every restart).
    """

    key: str
    name: str
    address: str
    host: str | None = None
    #: running, paused, closing, closing_gracefully, init, … and "left" once departed.
    status: str = "unknown"
    nthreads: int = 0
    memory_limit: int | None = None
    #: Process RSS in bytes (from the worker's heartbeat: lags up to a second or two).
    memory: int | None = None
    managed: int | None = None
    unmanaged: int | None = None
    spilled: int | None = None
    cpu: float | None = None
    executing: int | None = None
    ready: int | None = None
    in_memory: int | None = None
    #: Tasks the scheduler has assigned to this worker (executing + ready there).
    processing: int | None = None
    last_seen: float | None = None
    first_seen: float | None = None
    left_at: float | None = None
    left_reason: str | None = None
    alive: bool = True
    #: Times the worker left and came back under the same identity (nanny restarts).
    restarts: int = 0
    nanny: str | None = None
    pid: int | None = None
    #: Times its nanny killed it for exceeding the memory budget (worker-restart-memory).
    memory_kills: int = 0
    previous_addresses: list[str] = field(default_factory=list)

    @property
    def memory_fraction(self) -> float | None:
        if not self.memory_limit or self.memory is None:
            return None
        return self.memory / self.memory_limit

    @property
    def named(self) -> bool:
        """Was it given a name?  Dask names a worker after its address when it was not."""
        n = self.name
        return bool(n) and n != self.address and n not in self.previous_addresses and not _SCHEME.match(n)

    @property
    def own_name(self) -> str:
        """Its name, else ``host:port`` of its current address (unshortened; see ``display_names``)."""
        return self.name if self.named else _SCHEME.sub("", self.address)


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def display_names(workers: Iterable[WorkerInfo]) -> dict[str, str]:
    """ONE label per worker (by ``WorkerInfo.key``) for every screen and export.

    The worker's name when it has one, else ``host:port`` of its address; when
    several unnamed workers all share one host the host is dropped (``:41941``).
    Labels are shortened by whole parts only, never cut inside a name, so they
    stay distinct; the few that still collide (a departed worker whose port was
    reused) get `` (left)`` or their key added.
    """
    ws = list(workers)
    unnamed = [w for w in ws if not w.named]
    hosts = {_SCHEME.sub("", w.address).rpartition(":")[0] for w in unnamed}
    drop_host = len(unnamed) >= 2 and len(hosts) == 1 and "" not in hosts
    out: dict[str, str] = {}
    for w in ws:
        label = w.own_name
        if drop_host and not w.named:
            label = ":" + label.rpartition(":")[2]
        out[w.key] = label
    seen: dict[str, int] = {}
    for v in out.values():
        seen[v] = seen.get(v, 0) + 1
    if any(n > 1 for n in seen.values()):
        for w in ws:
            if seen[out[w.key]] > 1:
                out[w.key] = f"{out[w.key]} (left)" if not w.alive else out[w.key]
        again: dict[str, int] = {}
        for v in out.values():
            again[v] = again.get(v, 0) + 1
        for w in ws:
            if again[out[w.key]] > 1:
                out[w.key] = f"{out[w.key]} [{w.key}]"
    return out

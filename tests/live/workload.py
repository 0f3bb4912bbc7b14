"""A workload run as its own process (the submitter), so the monitor under test
is never the client that submitted the tasks.  Functions live in ``__main__``
and travel by value: neither the scheduler nor the workers need this file.

    python tests/live/workload.py ADDRESS SCENARIO [args]

Prints one line ``READY <json>`` when its tasks are submitted and settled as
far as the scenario goes, then keeps its futures until stdin is closed.
"""

from __future__ import annotations

import json
import sys
import time


class DeliberateError(RuntimeError):
    """A custom exception type from user code."""


def ok(i):
    return i


def bad(i):
    kind = i % 5
    if kind == 0:
        raise ValueError(f"deliberate bad value {i}")
    if kind == 1:
        raise KeyError(f"missing-{i}")
    if kind == 2:
        return 1 / 0
    if kind == 3:
        open(f"/nonexistent/input-{i}.csv")
    raise DeliberateError(f"custom failure {i}")


def after(x):
    return x + 1


def hold(seconds):
    time.sleep(seconds)
    return seconds


def hog(mb):
    chunks = []
    for _ in range(mb // 10):
        chunks.append(b"x" * (10 * 2**20))
        time.sleep(0.01)
    time.sleep(30)
    return len(chunks)


def sleepy(i, seconds):
    time.sleep(seconds)
    return i


def main() -> None:
    from distributed import Client, wait

    address, scenario = sys.argv[1], sys.argv[2]
    args = sys.argv[3:]
    client = Client(address, timeout=20, set_as_default=True)
    futures = []
    info: dict = {"scenario": scenario}
    if scenario == "fail":
        n = int(args[0]) if args else 10
        futures += client.map(ok, range(n), pure=False)
        bads = client.map(bad, range(n), pure=False)
        futures += bads
        futures += client.map(after, bads[:3], pure=False)
        wait(futures, timeout=60)
        info["keys"] = {f.key: f.exception().__class__.__name__ for f in bads}
    elif scenario == "hold":
        # one long task on the named worker (so killing that worker kills it)
        f = client.submit(hold, float(args[1]) if len(args) > 1 else 120.0, workers=[args[0]], pure=False)
        futures.append(f)
        info["key"] = f.key
    elif scenario == "hog":
        # resources, not workers=[name]: a restriction by name is pinned to the
        # worker's address, and a restarted worker has a new one
        f = client.submit(hog, int(args[0]) if args else 1000, resources={"MEM": 1}, pure=False, key="hog-1")
        futures.append(f)
        wait(f, timeout=120)
        info["key"] = f.key
        info["exception"] = repr(f.exception()) if f.status == "error" else None
    elif scenario == "bench":
        n = int(args[0]) if args else 100_000
        root = client.submit(hold, 600.0, pure=False, key="slow-root")
        futures.append(root)
        futures += client.map(sleepy, range(n // 2), seconds=30.0, pure=False, key=[f"queued-{i}" for i in range(n // 2)])
        futures += client.map(after, [root] * (n - n // 2), pure=False, key=[f"waiting-{i}" for i in range(n - n // 2)])
        info["n"] = len(futures)
    else:
        raise SystemExit(f"unknown scenario {scenario}")
    print("READY " + json.dumps(info), flush=True)
    if scenario == "bench":
        i = 0
        while True:  # a steady trickle of new failures, run before the queued tasks
            line = sys.stdin.readline()
            if not line:
                break
            futures.append(client.submit(bad, i, pure=False, priority=100))
            i += 1
    else:
        sys.stdin.read()
    client.close()


if __name__ == "__main__":
    main()

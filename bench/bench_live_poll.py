"""Cost of one live poll on a scheduler holding 100k tasks.

Starts ``dask scheduler`` and ``dask worker --nworkers 2 --nthreads 1`` on
127.0.0.1, submits ~100k tasks from a separate process (a 600 s root task with
50k tasks waiting on it, and 50k short tasks that stay queued behind two worker
threads), then attaches ``LiveSource`` and measures every poll:

* scheduler-side time: measured inside the plugin's handler (``t_ms``);
* bytes: msgpack size of the reply;
* new failures: the submitter adds one failing task per poll (high priority),
  so most polls carry one new failure with its traceback.

Target: <= 20 ms on the scheduler and a few KB plus new failures per poll.
Also shown: the one-time plugin install (one O(tasks) scan for failures that
happened before attach) and the msgpack-only (limited mode) replies.

    python bench/bench_live_poll.py [--tasks 100000] [--polls 40]

Always exits 0 (it reports; CI does not gate on timings of a shared box).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


HERE = Path(__file__).resolve()


# -- the submitter (runs as its own process; functions travel by value) --------
def hold(seconds):
    import time

    time.sleep(seconds)
    return seconds


def after(x, i):
    return i


def quick(i):
    import time

    time.sleep(0.05)
    return i


def bad(i):
    raise ValueError(f"deliberate failure {i} while the graph holds 100k tasks")


def submit(address: str, n: int) -> None:
    from distributed import Client

    client = Client(address, timeout=30)
    half = n // 2
    root = client.submit(hold, 600.0, key="slow-root", priority=10)
    waiting = client.map(after, [root] * half, range(half), key=[f"waiting-{i}" for i in range(half)])
    queued = client.map(quick, range(n - half), key=[f"queued-{i}" for i in range(n - half)])
    futures = [root, *waiting, *queued]
    t0 = time.monotonic()
    while client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) < n:
        time.sleep(0.2)  # the graph is sent asynchronously: READY once the scheduler holds it
    print("READY " + json.dumps({"n": len(futures), "graph_s": round(time.monotonic() - t0, 1)}), flush=True)
    i = 0
    for line in sys.stdin:  # one failing task per line, ahead of the queue
        futures.append(client.submit(bad, i, key=f"bad-{i}", priority=100))
        i += 1
    client.close()


# -- the benchmark ---------------------------------------------------------------
def _spawn(args: list[str], log: Path, procs: list[subprocess.Popen], **kw) -> subprocess.Popen:
    with open(log, "w") as f:
        p = subprocess.Popen(args, start_new_session=True, stderr=f, stdout=kw.pop("stdout", f), **kw)
    procs.append(p)
    return p


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


async def measure(address: str, sub: subprocess.Popen, polls: int, verbose: bool) -> None:
    from scalable_tui.sources.live.source import LiveSource

    probe = LiveSource(address, use_plugin=False, call_timeout=30.0)
    lim = [await probe.poll(force=True) for _ in range(3)]
    await probe.close()

    src = LiveSource(address, call_timeout=30.0, failure_batch=200)
    t = time.perf_counter()
    snap = await src.start()
    install_ms = (time.perf_counter() - t) * 1000
    assert snap.mode == "plugin", snap.notices
    rows = []
    for i in range(polls):
        if i < polls - 5:
            sub.stdin.write("x\n")  # one new failure on the way
            sub.stdin.flush()
        await asyncio.sleep(0.25)
        s = await src.poll(force=True)
        r = src.last_reply
        rows.append({"sched": s.scheduler_ms, "rtt": s.poll_latency_ms, "bytes": s.last_reply_bytes,
                     "fail": len(r.get("failures") or ()), "other": len(r.get("events") or ()) + len(r.get("logs") or ()),
                     "tasks": r["n_tasks"], "prefixes": len(s.prefixes), "workers": len(s.workers)})
    await src.close()

    print(f"one-time attach (install plugin + one scan of {snap.n_tasks} tasks for earlier failures + first poll): "
          f"{install_ms:.1f} ms")
    if verbose:
        print(f"{'poll':>4} {'sched ms':>8} {'rtt ms':>7} {'bytes':>6} {'fail':>4} {'other':>5} {'tasks':>7}")
        for i, r in enumerate(rows, 1):
            print(f"{i:>4} {r['sched']:>8.3f} {r['rtt']:>7.2f} {r['bytes']:>6} {r['fail']:>4} {r['other']:>5} {r['tasks']:>7}")

    def line(label: str, rs: list[dict]) -> None:
        if not rs:
            return
        sc, rt, by = [r["sched"] for r in rs], [r["rtt"] for r in rs], [r["bytes"] for r in rs]
        print(f"{label:<28} {len(rs):>5}  {statistics.median(sc):6.3f} {_pct(sc, .95):6.3f} {max(sc):6.3f}"
              f"  {statistics.median(rt):6.2f} {max(rt):6.2f}  {statistics.median(by):7.0f} {max(by):6}")

    print(f"{'per poll':<28} {'polls':>5}  {'scheduler-side ms':^20}  {'round trip ms':^13}  {'reply bytes':^14}")
    print(f"{'':<28} {'':>5}  {'median':>6} {'p95':>6} {'max':>6}  {'median':>6} {'max':>6}  {'median':>7} {'max':>6}")
    line("nothing new", [r for r in rows if not r["fail"] and not r["other"]])
    for k in sorted({r["fail"] for r in rows if r["fail"]}):
        line(f"{k} new failure{'s' if k > 1 else ''} (w/ traceback)", [r for r in rows if r["fail"] == k])
    line("other (events/log lines)", [r for r in rows if r["other"] and not r["fail"]])
    line("all polls", rows)
    print(f"{'limited mode (msgpack-only)':<28} {len(lim):>5}  {'-':>6} {'-':>6} {'-':>6}"
          f"  {statistics.median([x.poll_latency_ms for x in lim]):6.2f} {max(x.poll_latency_ms for x in lim):6.2f}"
          f"  {statistics.median([x.last_reply_bytes for x in lim]):7.0f} {max(x.last_reply_bytes for x in lim):6}")
    worst = max(r["sched"] for r in rows)
    quiet = [r["bytes"] for r in rows if not r["fail"] and not r["other"]] or [0]
    print(f"graph {rows[-1]['tasks']} tasks, {rows[-1]['prefixes']} prefixes, {rows[-1]['workers']} workers.  "
          f"target <= 20 ms scheduler-side: {'OK' if worst <= 20 else 'OVER'} (max {worst:.2f} ms); "
          f"a few KB + new failures: {'OK' if max(quiet) <= 8192 else 'OVER'} (quiet max {max(quiet)} B)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=100_000)
    ap.add_argument("--polls", type=int, default=40)
    ap.add_argument("--verbose", action="store_true", help="print every poll")
    ap.add_argument("--submit", metavar="ADDRESS", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.submit:
        submit(a.submit, a.tasks)
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="bench-live-"))
    sf = tmp / "scheduler.json"
    procs: list[subprocess.Popen] = []
    py = sys.executable
    started = time.monotonic()
    try:
        _spawn([py, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                "--scheduler-file", str(sf)], tmp / "scheduler.log", procs)
        while not sf.exists():
            time.sleep(0.05)
        time.sleep(0.2)
        address = json.loads(sf.read_text())["address"]
        _spawn([py, "-m", "distributed.cli.dask_worker", "--scheduler-file", str(sf), "--nworkers", "2", "--nthreads", "1",
                "--no-dashboard"], tmp / "workers.log", procs)
        sub = _spawn([py, str(HERE), "--submit", address, "--tasks", str(a.tasks)], tmp / "submit.log", procs,
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = sub.stdout.readline()
        if not line.startswith("READY"):
            print("submitter failed:", (tmp / "submit.log").read_text()[-2000:])
            return 0
        info = json.loads(line[6:])
        print(f"scheduler {address}, 2 workers x 1 thread; {info['n']} tasks submitted by another process "
              f"(graph on the scheduler after {info['graph_s']} s)")
        asyncio.run(measure(address, sub, a.polls, a.verbose))
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for p in procs:
            p.wait()
    print(f"total bench time {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

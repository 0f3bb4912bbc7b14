"""Size and speed of a recording: 200 synthetic workers polled every 5 s.

    python bench/bench_record_size.py [--workers 200] [--interval 5] [--hours 1] [--out FILE]

Simulates ``--hours`` of a busy cluster (default 1 h = 720 snapshots; the
10-hour figure is projected from it) with realistic churn: on every poll every
worker's memory, managed/unmanaged memory, CPU and stored-key count move
(random walks of up to ±60 MiB / ±60 % / ±10), its executing/ready counts
are redrawn and its heartbeat advances; spilled memory jumps now and then; a few task prefixes progress; about one failure a
minute with a ~2 KB traceback; a worker dies and comes back every ~10 min
(with its events); occasional pause/resume.  Prints bytes per hour, the
projected size of a 10-hour night, and write and read (replay) speed.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scalable_tui.model.live import LiveEvent, LiveFailure, LiveSnapshot, PrefixCounts, WorkerInfo  # noqa: E402
from scalable_tui.sources.recording.writer import RecordingWriter  # noqa: E402
from scalable_tui.sources.recording.reader import Recording  # noqa: E402

GiB, MiB = 2**30, 2**20
TB = "".join(f'  File "/home/user/project/src/model/step_{i}.py", line {100 + i}, in run_step\n    result = solve(x, y, z)\n'
             for i in range(12))


class Sim:
    def __init__(self, n_workers: int, interval: float, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.interval = interval
        self.t = 1_800_000_000.0
        self.snap = LiveSnapshot(address="tcp://10.0.0.1:8786", events=deque(maxlen=5000))
        s = self.snap
        s.scheduler_id = "Scheduler-0a1b2c3d-4e5f"
        s.scheduler_address = s.address
        s.scheduler_started = self.t - 3600
        s.client_versions = {"python": "3.11.9", "distributed": "2026.8.0", "dask": "2026.8.0"}
        s.scheduler_versions = dict(s.client_versions)
        s.connected, s.link, s.mode = True, "ok", "plugin"
        for i in range(n_workers):
            name = f"slurm-41{i // 8:04d}-{i % 8}"
            w = WorkerInfo(key=name, name=name, address=f"tcp://10.0.{i // 8}.{i % 8 + 10}:{40000 + i}",
                           host=f"node{i // 8:03d}", status="running", nthreads=4, memory_limit=16 * GiB,
                           first_seen=self.t, nanny=f"tcp://10.0.{i // 8}.{i % 8 + 10}:{39000 + i}", pid=10000 + i)
            w.memory = self.rng.randint(2, 8) * GiB
            s.workers[name] = w
        for p in ("run_gcam", "downscale", "route_xanthos", "postprocess", "load_inputs", "aggregate",
                  "write_outputs", "validate", "stitch", "plot", "summarize", "archive"):
            s.prefixes[p] = PrefixCounts(name=p, waiting=5000, completed=0)
        self.n_fail = 0

    def event(self, kind: str, worker: str | None, text: str, address: str | None = None, **details) -> None:
        s = self.snap
        s.events.append(LiveEvent(ts=self.t, kind=kind, worker=worker, text=text, address=address, details=details))
        s.events_total += 1
        s.event_counts[kind] = s.event_counts.get(kind, 0) + 1

    def step(self) -> LiveSnapshot:
        rng, s = self.rng, self.snap
        self.t += self.interval
        s.polls += 1
        s.last_poll_ok = self.t
        s.poll_latency_ms = rng.uniform(2, 15)
        s.scheduler_ms = rng.uniform(0.5, 4)
        s.last_reply_bytes = rng.randint(30000, 40000)
        for w in s.workers.values():
            if not w.alive:
                continue
            w.memory = max(200 * MiB, min(w.memory_limit, w.memory + rng.randint(-60, 60) * MiB))
            w.managed = max(0, min(w.memory, (w.managed or w.memory // 2) + rng.randint(-40, 40) * MiB))
            w.unmanaged = w.memory - w.managed
            w.spilled = (w.spilled or 0) if rng.random() < 0.95 else rng.randint(0, 2 * GiB)
            w.cpu = max(0.0, min(400.0, (w.cpu or 200.0) + rng.uniform(-60, 60)))
            w.executing = rng.randint(0, 4)
            w.ready = rng.randint(0, 8)
            w.in_memory = max(0, (w.in_memory or 50) + rng.randint(-10, 10))
            w.processing = w.executing + w.ready
            w.last_seen = self.t - rng.uniform(0, 1)
        # a few prefixes progress at a time
        active = list(s.prefixes.values())[(int(self.t) // 1800) % 12:][:3]
        for p in active:
            n = min(p.waiting, rng.randint(5, 40))
            p.waiting -= n
            p.memory += n
            p.completed = (p.completed or 0) + n
            p.processing = rng.randint(50, 200)
            p.throughput = n / self.interval
            p.duration_average = rng.uniform(10, 60)
        # about one failure a minute
        if rng.random() < self.interval / 60:
            self.n_fail += 1
            p = rng.choice(list(s.prefixes))
            w = rng.choice(list(s.workers))
            f = LiveFailure(key=f"{p}-{self.n_fail:06x}", prefix=p, exception_type="ValueError",
                            exception=f"ValueError('bad input at row {rng.randint(0, 10**6)}')",
                            traceback=TB, erred_on=[w], first_seen=self.t, erred_on_addresses=[s.workers[w].address],
                            scheduler_id=s.scheduler_id)
            s.failures.append(f)
            del s.failures[:-2000]
            s.failures_total += 1
            s.failure_counts[(p, "ValueError")] = s.failure_counts.get((p, "ValueError"), 0) + 1
        # a worker dies and comes back every ~10 minutes
        if rng.random() < self.interval / 600:
            w = rng.choice([w for w in s.workers.values() if w.alive])
            self.event("worker-removed", w.key, f"{w.name} ({w.address}) left: the worker process exited", w.address,
                       unexpected=True, reason="the worker process exited", processing=w.processing or 0)
            w.previous_addresses.append(w.address)
            w.address = w.address.rsplit(":", 1)[0] + f":{rng.randint(40000, 60000)}"
            w.restarts += 1
            w.pid = rng.randint(10000, 99999)
            self.event("worker-added", w.key, f"{w.name} joined at {w.address} (restart #{w.restarts})", w.address)
        if rng.random() < self.interval / 300:
            w = rng.choice(list(s.workers.values()))
            self.event("paused", w.key, f"{w.name} paused: memory above the pause threshold", w.address)
            w.status = "paused"
        elif rng.random() < 0.05:
            for w in s.workers.values():
                if w.status == "paused":
                    w.status = "running"
                    self.event("resumed", w.key, f"{w.name} resumed", w.address)
        return s.copy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=200)
    ap.add_argument("--interval", type=float, default=5.0)
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--out", help="keep the recording here (default: a temporary file)")
    args = ap.parse_args()
    n_frames = int(args.hours * 3600 / args.interval)
    sim = Sim(args.workers, args.interval)
    snaps_time = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.out) if args.out else Path(tmp) / "night.rec"
        writer = RecordingWriter.create(path, mode="force", address=sim.snap.address, interval=args.interval)
        write_s = 0.0
        for _ in range(n_frames):
            t = time.perf_counter()
            snap = sim.step()
            snaps_time += time.perf_counter() - t
            t = time.perf_counter()
            writer.write(snap, t=sim.t)
            write_s += time.perf_counter() - t
        writer.close("stopped: benchmark")
        size = os.path.getsize(path)
        per_hour = size / args.hours
        t = time.perf_counter()
        rec = Recording(path)
        open_s = time.perf_counter() - t
        times = rec.times()
        t = time.perf_counter()
        for x in times:
            rec.state_at(x)
        step_s = time.perf_counter() - t
        rng = random.Random(2)
        picks = [rng.choice(times) for _ in range(100)]
        t = time.perf_counter()
        for x in picks:
            rec.state_at(x)
        rand_s = time.perf_counter() - t
        t = time.perf_counter()
        state = rec.whole_run_state()
        whole_s = time.perf_counter() - t
        last = rec.state_at(times[-1])
        print(f"workers {args.workers}, interval {args.interval:g} s, simulated {args.hours:g} h = {n_frames} snapshots, "
              f"{rec.n_failures} failures, {len(rec.worker_deaths())} worker deaths, {rec.n_events} events")
        print(f"file size            {size:,} bytes ({size / n_frames:,.0f} bytes/snapshot)")
        print(f"bytes per hour       {per_hour:,.0f} ({per_hour / 2**20:.2f} MiB/h)")
        print(f"projected 10 h       {10 * per_hour / 2**20:.1f} MiB (target: well under 100 MB)")
        print(f"write                {write_s / n_frames * 1000:.2f} ms/snapshot (fsync per snapshot)")
        print(f"open                 {open_s * 1000:.0f} ms")
        print(f"replay, stepping     {step_s / n_frames * 1000:.2f} ms/snapshot ({n_frames} in {step_s:.1f} s)")
        print(f"replay, random seek  {rand_s / len(picks) * 1000:.1f} ms/snapshot")
        print(f"whole-run state      {whole_s * 1000:.0f} ms ({len(state.failures)} failure records)")
        assert len(last.workers) == args.workers and last.workers == {k: last.workers[k] for k in sim.snap.workers}
        rec.close()


if __name__ == "__main__":
    main()

"""``scalable-tui demo``: an embedded LocalCluster, a flaky workload, and the attach UI on it.

Everything listens on 127.0.0.1; the dashboard is off.  The workload runs in a
background thread with its own ``Client`` (the monitor never submits work).
``Demo`` is usable on its own (tests, benchmarks)::

    with Demo() as demo:            # cluster up
        demo.start_workload()       # waves of tasks until stop()
        ...                         # attach to demo.address
                                    # leaving: workload stopped, cluster closed, no process left
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

#: Dask config of the demo's (in-process) scheduler: a task that killed 3 workers is KilledWorker.
DEMO_CONFIG = {
    "distributed.scheduler.allowed-failures": 2,
    "distributed.admin.system-monitor.gil.enabled": False,
}
#: Scenarios per wave (each: load_inputs -> run_gcam -> downscale; stitch per 10).
WAVE = 60


def quiet_logging(log_file: Path) -> None:
    """Send this process's distributed logs to ``log_file`` (never into the terminal UI);
    levels are kept, so the scheduler's own log buffer still records its warnings."""
    handler = logging.FileHandler(log_file)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    for name in ("distributed", "tornado", "asyncio"):
        lg = logging.getLogger(name)
        for h in list(lg.handlers):
            if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler):
                lg.removeHandler(h)
        lg.addHandler(handler)
        lg.propagate = False


class Demo:
    def __init__(self, n_workers: int = 3, threads_per_worker: int = 1, memory_limit: str = "350MB",
                 log_dir: str | Path | None = None, waves: int | None = None, wave_pause: float = 4.0) -> None:
        self.n_workers = n_workers
        self.threads_per_worker = threads_per_worker
        self.memory_limit = memory_limit
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="scalable-tui-demo-"))
        self.waves = waves
        self.wave_pause = wave_pause
        self.cluster: Any = None
        self.address: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cfg: Any = None
        self.submitted = 0
        self.waves_done = 0
        self.error: str | None = None

    # -- cluster -----------------------------------------------------------
    def start(self) -> str:
        # Worker processes inherit the environment: keep their logs out of the terminal.
        os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "critical")
        os.environ.setdefault("PYTHONWARNINGS", "ignore")
        import dask
        from distributed import LocalCluster

        quiet_logging(self.log_dir / "demo-cluster.log")
        self._cfg = dask.config.set(DEMO_CONFIG)
        self._cfg.__enter__()
        self.cluster = LocalCluster(
            n_workers=self.n_workers, threads_per_worker=self.threads_per_worker, processes=True,
            host="127.0.0.1", dashboard_address=None, memory_limit=self.memory_limit,
        )
        self.address = self.cluster.scheduler_address
        return self.address

    def close(self) -> None:
        self.stop_workload()
        if self.cluster is not None:
            try:
                self.cluster.close(timeout=20)
            except Exception:  # noqa: BLE001 - shutting down anyway
                pass
            self.cluster = None
        if self._cfg is not None:
            self._cfg.__exit__(None, None, None)
            self._cfg = None

    def __enter__(self) -> "Demo":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- workload ----------------------------------------------------------
    def start_workload(self) -> None:
        self._thread = threading.Thread(target=self._run, name="demo-workload", daemon=True)
        self._thread.start()

    def stop_workload(self, timeout: float = 20.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        from distributed import Client, wait

        from scalable_tui.demo import workload as w

        try:
            client = Client(self.address, set_as_default=False, timeout=30)
        except Exception as e:  # noqa: BLE001
            self.error = f"{type(e).__name__}: {e}"
            return
        kept: list[list[Any]] = []
        try:
            # The two worker killers go first, so every demo shows them early.
            # (the crash only after the memory hog is over, so each one's deaths are its own)
            special = [client.submit(w.hog, 1200, pure=False, priority=10, key="hog-memory-1")]
            self.submitted += 1
            wave = 0
            while not self._stop.is_set() and (self.waves is None or wave < self.waves):
                off = wave * WAVE
                inputs = client.map(w.load_inputs, range(off, off + WAVE), pure=False)
                gcam = client.map(w.run_gcam, inputs, pure=False)
                down = client.map(w.downscale, gcam, pure=False)
                stitched = [client.submit(w.stitch, *down[k:k + 10], pure=False) for k in range(0, WAVE, 10)]
                futs = inputs + gcam + down + stitched
                self.submitted += len(futs)
                while not self._stop.is_set():
                    if len(special) == 1 and special[0].done():
                        special.append(client.submit(w.crash, 0, pure=False, priority=10, key="crash-native-1"))
                        self.submitted += 1
                    try:
                        with client.as_current():
                            wait(futs, timeout=0.5)
                        break
                    except TimeoutError:
                        continue
                kept.append(futs)
                del kept[:-2]  # the last two waves stay on the scheduler (failures can be debugged locally)
                wave += 1
                self.waves_done = wave
                if self._stop.wait(self.wave_pause):
                    break
            del special
        except Exception as e:  # noqa: BLE001 - the cluster went away under us
            if not self._stop.is_set():
                self.error = f"{type(e).__name__}: {e}"
        finally:
            try:
                client.close(timeout=5)
            except Exception:  # noqa: BLE001
                pass


# -- headless --------------------------------------------------------------
def summarize(snap: Any, diag: Any, *, duration: float | None = None, submitted: int | None = None) -> dict[str, Any]:
    """What the demo produced, as plain JSON-able data (``--headless --format json``)."""
    from collections import Counter

    from assistant.render import failure_breakdown
    from scalable_tui.session.view import live_failures_note

    cats: Counter[str] = Counter()
    names = snap.display_names  # the one label per worker that the screens and findings use
    for f in diag.findings:
        if f.count:
            cats[f.category] += f.count
    return {
        "scheduler": snap.address,
        "duration_s": duration,
        "submitted": submitted,
        "connected": snap.connected,
        "mode": snap.mode,
        "versions": {"client": snap.client_versions, "scheduler": snap.scheduler_versions},
        "workers": [
            {"name": w.name, "label": names[w.key], "address": w.address, "status": w.status, "alive": w.alive, "restarts": w.restarts,
             "memory_kills": w.memory_kills, "memory_limit": w.memory_limit, "left_reason": w.left_reason}
            for w in snap.workers.values()
        ],
        "tasks": {n: p.as_dict() for n, p in sorted(snap.prefixes.items())},
        # the same totals and failure counts as `diagnose --format json` and the screens
        "task_totals": dict(diag.tasks),
        "tasks_total": diag.tasks_total,
        "failures_total": diag.failures_total,
        "task_failures": diag.task_failures,
        "worker_deaths": diag.worker_deaths,
        "failures_by_type": {f"{p}: {t}": n for (p, t), n in sorted(snap.failure_counts.items())},
        # what the failures are made of, and why the scheduler's erred counts differ (as the screens say)
        "failures_breakdown": failure_breakdown(diag),
        "failures_note": live_failures_note(snap),
        "categories": dict(cats.most_common()),
        "findings": [
            {"id": f.id, "category": f.category, "severity": f.severity, "title": f.title, "count": f.count,
             "exception_types": list(f.exception_types), "task_names": dict(f.task_names), "workers": list(f.workers)}
            for f in diag.findings
        ],
        "events": {
            "counts": dict(snap.event_counts),
            "recent": [{"ts": e.ts, "kind": e.kind, "worker": names.get(e.worker, e.worker) if e.worker else None,
                        "text": e.text} for e in list(snap.events)[-40:]],
        },
        "notices": list(snap.notices),
    }


def summary_text(s: dict[str, Any]) -> str:
    from scalable_tui.model.words import plural

    lines = [f"demo on {s['scheduler']} for {s['duration_s']:.0f} s: {s['submitted']} tasks submitted, "
             f"{s['tasks_total']} tasks seen, {s['failures_total']} failures{s['failures_breakdown']}"]
    lines.append("workers: " + ", ".join(
        f"{'worker ' if str(w['label']).isdigit() else ''}{w['label']} ({'alive' if w['alive'] else 'left'}, {plural(w['restarts'], 'restart')}, "
        f"{plural(w['memory_kills'], 'memory kill')})" for w in s["workers"]))
    lines.append("tasks:")
    for n, c in s["tasks"].items():
        lines.append(f"  {n:<14} " + "  ".join(f"{k} {v}" for k, v in c.items() if v))
    if s["failures_note"]:
        lines.append(f"  note: {s['failures_note']}")
    lines.append("failures by category: " + ", ".join(f"{k} {v}" for k, v in s["categories"].items()))
    lines.append("findings:")
    for f in s["findings"]:
        lines.append(f"  [{f['severity']}] {f['title']} ({f['count']}×, {f['category']})")
    lines.append("events: " + ", ".join(f"{k} {v}" for k, v in sorted(s["events"]["counts"].items())))
    return "\n".join(lines) + "\n"


async def watch(address: str, duration: float, poll_interval: float = 1.0, on_started: Any = None) -> Any:
    """Poll the demo's scheduler for ``duration`` seconds with the live source; the last snapshot."""
    import asyncio

    from scalable_tui.sources.live.source import LiveSource

    src = LiveSource(address, poll_interval=poll_interval, call_timeout=5.0)
    try:
        snap = await src.start()
        if on_started is not None:
            on_started()
        deadline = time.monotonic() + duration
        while time.monotonic() < deadline:
            await asyncio.sleep(min(poll_interval, max(0.0, deadline - time.monotonic())))
            snap = await src.poll(force=True)
        return snap
    finally:
        await src.close()


def run_headless(duration: float, fmt: str = "json", out: Any = None) -> int:
    import asyncio
    import json
    import sys

    from scalable_tui.session import diagnose_live

    out = out or sys.stdout
    t0 = time.monotonic()
    with Demo() as demo:
        snap = asyncio.run(watch(demo.address, duration, on_started=demo.start_workload))
        _state, diag = diagnose_live(snap)
        s = summarize(snap, diag, duration=time.monotonic() - t0, submitted=demo.submitted)
        s["log_dir"] = str(demo.log_dir)
    if fmt == "json":
        out.write(json.dumps(s, indent=1, default=str) + "\n")
    else:
        out.write(summary_text(s))
    out.flush()
    return 0

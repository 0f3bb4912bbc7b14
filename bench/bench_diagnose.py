"""Benchmark: heuristic diagnosis of a run with 100,000 failures in 4 groups.

    python bench/bench_diagnose.py [--failures 100000] [--keep DIR] [--repeat 3]

Generates a run directory in Scalable's on-disk format (``json.dumps(...,
sort_keys=True)`` lines like ``bench/gen_big_run.py``) whose failures fall
into four groups, every message different (ids, numbers, paths, hosts,
addresses, dask keys) so that grouping has to normalise each shape.  Each
figure is measured in a fresh subprocess (honest import cost and peak RSS):
``load_run`` once, then ``diagnose_state`` on that state.  Prints the figures
next to the target.  Always exits 0: it is a report, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

TARGET_DIAGNOSE_S = 2.0
GROUPS = 4

TB = (
    "Traceback (most recent call last):\n"
    '  File "/home/{user}/models/gcam/driver.py", line {line}, in run_gcam\n'
    "    grid = np.zeros((20000, n))\n"
    '  File "/home/{user}/models/gcam/grid.py", line 88, in allocate\n'
    "    return np.empty(shape, dtype=dtype)\n"
    "numpy.core._exceptions._ArrayMemoryError: Unable to allocate {gib} GiB for an array with shape (20000, {i})\n"
)


def _failure(i: int, rnd: random.Random) -> tuple[str, str, str | None]:
    """(failure_class, message, traceback) of failure ``i``: group ``i % 4``, every message unique."""
    g = i % GROUPS
    if g == 0:
        return "KeyError", f"'region_{i}' not in scenario table gcam_{rnd.randrange(10**6)}", None
    if g == 1:
        return (
            "PermissionError",
            f"[Errno 13] Permission denied: '/project/shared/gcam/outputs/run_{i}/out_{rnd.randrange(10**6)}.db'",
            None,
        )
    if g == 2:
        return (
            "KilledWorker",
            f"Attempted to run task 'run_gcam-{uuid.UUID(int=rnd.getrandbits(128)).hex}' on 4 different workers, "
            f"but all those workers died while running it. The last worker that attempt to run the task was "
            f"tcp://10.{i % 250}.{i % 7}.{i % 13}:{30000 + i % 1000}.",
            None,
        )
    user = f"user{i % 50}"
    gib = f"{1 + i % 9}.{i % 10}"
    return (
        "MemoryError",
        f"Unable to allocate {gib} GiB for an array with shape (20000, {i}) and data type float64",
        TB.format(user=user, line=200 + i % 40, gib=gib, i=i),
    )


def generate(base: Path, n_failures: int, seed: int = 7) -> Path:
    """Write the run: one submitted, one running and one failed task event per failure, plus the failure line."""
    rnd = random.Random(seed)
    start = datetime(2026, 11, 23, 22, 0, 0, tzinfo=timezone.utc)
    run_id = f"run-{start.strftime('%Y%m%dT%H%M%SZ')}-diagbench-{uuid.UUID(int=rnd.getrandbits(128)).hex[:8]}"
    d = base / run_id
    d.mkdir(parents=True, exist_ok=True)
    base_ev = {"event_type": "task", "requested_workers": 1, "run_id": run_id, "schema_version": 1}
    names = [("run_gcam", "gcam"), ("stitch_outputs", "stitch"), ("run_demeter", "demeter"), ("xanthos_basin", "xanthos")]
    t = start
    with open(d / "tasks.jsonl", "w") as ft, open(d / "failures.jsonl", "w") as ff, open(d / "resources.jsonl", "w") as fr:
        for i in range(n_failures):
            if i % 100 == 0:
                t += timedelta(seconds=1)
            ts = t.strftime("%Y-%m-%dT%H:%M:%SZ")
            name, comp = names[(i // GROUPS) % len(names)]
            tid = uuid.UUID(int=rnd.getrandbits(128)).hex
            et, em, tb = _failure(i, rnd)
            ev = dict(base_ev, component=comp, duration_s=None, error_message=None, error_type=None, function_name=name,
                      state="submitted", tag=comp, task_id=tid, task_name=name, timestamp=ts, worker=None)
            ft.write(json.dumps(ev, sort_keys=True) + "\n")
            ev["state"] = "running"
            ft.write(json.dumps(ev, sort_keys=True) + "\n")
            ev.update(state="failed", duration_s=rnd.uniform(0.5, 900.0), error_type=et, error_message=em,
                      worker=f"{name}-{uuid.UUID(int=rnd.getrandbits(128)).hex}")
            ft.write(json.dumps(ev, sort_keys=True) + "\n")
            fr.write(json.dumps({"component": comp, "entity_id": tid, "entity_type": "task", "event_type": "resource",
                                 "observed_cpu": None, "observed_memory_gb": None, "provider": "slurm",
                                 "requested_cpus": 4, "requested_memory": "16G", "requested_walltime": "04:00:00",
                                 "requested_workers": 1, "run_id": run_id, "schema_version": 1, "timestamp": ts},
                                sort_keys=True) + "\n")
            details: dict[str, object] = {"phase": "task_execution", "task_id": tid,
                                          "worker_id": f"tcp://127.0.0.1:{40000 + i % 64}"}
            if tb:
                details["traceback"] = tb
            ff.write(json.dumps({"details": details, "event_type": "failure", "failure_class": et, "message": em,
                                 "provider": "slurm", "run_id": run_id, "schema_version": 1, "task_id": tid,
                                 "timestamp": ts}, sort_keys=True) + "\n")
    meta = {
        "finished_at": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "manifest_lock": "0" * 64, "project_name": "bench",
        "provider_name": "slurm", "run_id": run_id, "schema_version": 1, "source_manifest_path": "scalable.yaml",
        "started_at": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "status": "completed", "target_name": "hpc",
    }
    (d / "run.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    (base / ".bench_failures").write_text(str(n_failures))
    return d


# ----------------------------------------------------------------------------- child side
def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _child(run_dir: str, repeat: int) -> dict:
    from assistant.diagnose import diagnose_state
    from scalable_tui.sources.rundir.reader import load_run

    t0 = time.perf_counter()
    state = load_run(run_dir)
    t_load = time.perf_counter() - t0
    rss_load = _peak_rss_mb()
    times = []
    diag = None
    for _ in range(repeat):
        for f in state.failures:  # a fresh join each round, as on a first diagnosis
            f.task_name = f.component = None
        t1 = time.perf_counter()
        diag = diagnose_state(state)
        times.append(time.perf_counter() - t1)
    assert diag is not None
    return {
        "load_s": t_load,
        "diagnose_s": times,
        "rss_load_mb": rss_load,
        "rss_mb": _peak_rss_mb(),
        "failures": diag.failures_total,
        "groups": [(f.category, f.count) for f in diag.findings if f.count],
    }


# ----------------------------------------------------------------------------- parent side
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--failures", type=int, default=100_000)
    ap.add_argument("--keep", type=Path, help="generate into / reuse the run in this directory (not deleted)")
    ap.add_argument("--repeat", type=int, default=3, help="diagnoses to time in the child (best and median reported)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(_child(a.child, a.repeat)))
        return 0

    base = a.keep or Path(tempfile.mkdtemp(prefix="bench-diagnose-"))
    try:
        marker = base / ".bench_failures"
        runs = sorted(base.glob("run-*-diagbench-*"))
        if runs and marker.exists() and marker.read_text() == str(a.failures):
            run = runs[0]
        else:
            for r in runs:
                shutil.rmtree(r)
            t0 = time.perf_counter()
            run = generate(base, a.failures)
            print(f"generated {run} in {time.perf_counter() - t0:.1f} s")
        size = sum(p.stat().st_size for p in run.iterdir())
        p = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", str(run), "--repeat", str(a.repeat)],
                           capture_output=True, text=True, timeout=1800)
        if p.returncode != 0:
            print(p.stderr.strip()[-2000:])
            return 0
        r = json.loads(p.stdout.strip().splitlines()[-1])
    finally:
        if a.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    best = min(r["diagnose_s"])
    med = statistics.median(r["diagnose_s"])
    print(f"machine: {_cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"run: {r['failures']} failures, {size / 1e6:.0f} MB on disk; load_run {r['load_s']:.2f} s, "
          f"peak RSS after load {r['rss_load_mb']:.0f} MB")
    print(f"groups: {', '.join(f'{c} ×{n}' for c, n in r['groups'])}")
    print(f"diagnose_state: best {best:.2f} s, median {med:.2f} s over {len(r['diagnose_s'])} "
          f"(target ≤ {TARGET_DIAGNOSE_S:.1f} s: {'PASS' if best <= TARGET_DIAGNOSE_S else 'MISS'}); "
          f"peak RSS {r['rss_mb']:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: ``scalable-tui history`` over 1,000 small runs, cold (no summaries) and warm (cached).

    python bench/bench_history.py [--runs 1000] [--keep DIR] [--tasks 20]

Writes N run directories of one project in Scalable's on-disk format
(``json.dumps(..., sort_keys=True)`` lines, as ``bench/gen_big_run.py``): each
has ~20 tasks and a few failure groups drawn from eight, varied from run to
run (a persistent one, intermittent ones, some that appear for a stretch and
are fixed), every message different in its numbers and paths.  Then runs the
real command (``python -m scalable_tui history --format json``) in fresh
subprocesses with a private ``XDG_CACHE_HOME``: first cold (every run read and
diagnosed, summaries written), then warm twice (summaries read).  Prints the
figures next to the 3 s target.  Always exits 0: it is a report, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

#: (failure_class, message template): the eight groups runs draw from.
ERRORS = [
    ("ZeroDivisionError", "division by zero"),
    ("KeyError", "'region_{i}'"),
    ("PermissionError", "[Errno 13] Permission denied: '/project/shared/gcam/outputs/run_{i}.db'"),
    ("OSError", "[Errno 28] No space left on device"),
    ("FileNotFoundError", "[Errno 2] No such file or directory: '/data/inputs/basin_{i}.csv'"),
    ("ValueError", "negative land allocation in basin {i}: -0.{i}"),
    ("RuntimeError", "CUDA out of memory. Tried to allocate {i}.00 MiB"),
    ("TimeoutError", "HTTPConnectionPool(host='127.0.0.1', port={port}): Read timed out. (read timeout=0.2)"),
]


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def groups_of_run(k: int, rnd: random.Random) -> list[int]:
    """Which error kinds fail in run ``k``: 0 always, 1 every other run, 2-3 at random, 4-7 in stretches."""
    g = [0]
    if k % 2:
        g.append(1)
    g += [e for e in (2, 3) if rnd.random() < 0.3]
    g += [4 + (k // 50) % 4]
    return g


def write_run(root: Path, k: int, start: datetime, tasks: int, rnd: random.Random) -> None:
    run_id = f"run-{start.strftime('%Y%m%dT%H%M%SZ')}-bench-{uuid.UUID(int=rnd.getrandbits(128)).hex[:8]}"
    d = root / run_id
    d.mkdir(parents=True)
    base = {"event_type": "task", "requested_workers": 1, "run_id": run_id, "schema_version": 1}
    fails = {}
    for e in groups_of_run(k, rnd):
        for _ in range(rnd.randint(1, 3)):
            fails[rnd.randrange(tasks)] = e
    t = start
    with open(d / "tasks.jsonl", "w") as ft, open(d / "failures.jsonl", "w") as ff, open(d / "resources.jsonl", "w") as fr:
        for i in range(tasks):
            tid = uuid.UUID(int=rnd.getrandbits(128)).hex
            ev = dict(base, component="gcam", duration_s=None, error_message=None, error_type=None, function_name="run_gcam",
                      state="submitted", tag="gcam", task_id=tid, task_name="run_gcam", timestamp=iso(t), worker=None)
            ft.write(json.dumps(ev, sort_keys=True) + "\n")
            ev["state"] = "running"
            ft.write(json.dumps(ev, sort_keys=True) + "\n")
            fr.write(json.dumps({"component": "gcam", "entity_id": tid, "entity_type": "task", "event_type": "resource",
                                 "observed_cpu": None, "observed_memory_gb": None, "provider": "local", "requested_cpus": 1,
                                 "requested_memory": "4G", "requested_walltime": None, "requested_workers": 1,
                                 "run_id": run_id, "schema_version": 1, "timestamp": iso(t)}, sort_keys=True) + "\n")
            et = em = None
            if i in fails:
                et, tmpl = ERRORS[fails[i]]
                em = tmpl.format(i=rnd.randrange(10_000), port=30000 + rnd.randrange(1000))
            t += timedelta(seconds=1)
            ev.update(duration_s=rnd.uniform(0.5, 90.0), error_message=em, error_type=et, timestamp=iso(t),
                      state="failed" if et else "succeeded", worker=f"run_gcam-{uuid.UUID(int=rnd.getrandbits(128)).hex}")
            ft.write(json.dumps(ev, sort_keys=True) + "\n")
            if et:
                ff.write(json.dumps({"details": {"phase": "task_execution", "task_id": tid}, "event_type": "failure",
                                     "failure_class": et, "message": em, "provider": "local", "run_id": run_id,
                                     "schema_version": 1, "task_id": tid, "timestamp": iso(t)}, sort_keys=True) + "\n")
    meta = {"finished_at": iso(t), "manifest_lock": "0" * 64, "project_name": "bench", "provider_name": "local",
            "run_id": run_id, "schema_version": 1, "source_manifest_path": "scalable.yaml", "started_at": iso(start),
            "status": "completed", "target_name": "local"}
    (d / "run.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    return time.perf_counter() - t0, p


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--tasks", type=int, default=20)
    ap.add_argument("--keep", type=Path, help="write the runs here and keep them")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-history-"))
    root = a.keep or tmp / "runs"
    root.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(16)
    t0 = time.perf_counter()
    start = datetime(2026, 6, 1, 22, 0, 0, tzinfo=timezone.utc)
    for k in range(a.runs):
        write_run(root, k, start + timedelta(hours=6 * k), a.tasks, rnd)
    gen = time.perf_counter() - t0
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCALABLE_")}
    env["XDG_CACHE_HOME"] = str(tmp / "cache")
    cmd = [sys.executable, "-m", "scalable_tui", "history", "--runs-dir", str(root), "--format", "json"]
    cold, p = timed(cmd, env)
    if p.returncode != 0:
        print(p.stderr[-2000:])
        return
    warm1, _ = timed(cmd, env)
    warm2, p2 = timed(cmd, env)
    doc = json.loads(p2.stdout)
    proj = doc["projects"][0]
    statuses: dict[str, int] = {}
    for g in proj["groups"]:
        statuses[g["status"]] = statuses.get(g["status"], 0) + 1
    text_t, pt = timed(cmd[:-2], env)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    print(f"history benchmark: {a.runs} runs x {a.tasks} tasks ({len(proj['runs'])} listed, {len(proj['groups'])} groups: "
          f"{statuses}); python {platform.python_version()}, {cores} cores")
    print(f"  generate runs          {gen:6.2f} s")
    print(f"  history cold (first)   {cold:6.2f} s   (every run read + diagnosed, summaries written)")
    print(f"  history warm           {warm1:6.2f} s, {warm2:.2f} s   (cached summaries)   target <= 3 s: "
          f"{'OK' if max(warm1, warm2) <= 3 else 'MISSED'}")
    print(f"  history warm, text     {text_t:6.2f} s   ({len(pt.stdout.splitlines())} lines)")
    if a.keep is None:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

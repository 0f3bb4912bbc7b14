"""Write a large synthetic run directory in Scalable's exact on-disk format.

Lines are produced with ``json.dumps(..., sort_keys=True)`` like Scalable's
``TelemetryStore`` so that the reader's fast paths see what they would see on
a real run.  Default: 300k tasks (≈900k task events, ≈500 MB in all).

    python bench/gen_big_run.py OUTDIR [--tasks 300000] [--fail-every 20] [--varied]

``--varied`` gives every task its own name, tag and requested workers (as a
producer that puts a scenario id into the name does): no two task lines share
a template, which is the shape that defeats the reader's line caches.
"""

from __future__ import annotations

import argparse
import json
import random
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

TASK_NAMES = [("run_gcam", "gcam"), ("stitch_outputs", "stitch"), ("run_demeter", "demeter"), ("xanthos_basin", "xanthos")]
ERRORS = [
    ("KeyError", "'region_{i}'", None),
    ("ZeroDivisionError", "division by zero", None),
    ("PermissionError", "[Errno 13] Permission denied: '/project/shared/gcam/outputs/run_{i}.db'", None),
    ("OSError", "[Errno 28] No space left on device", None),
    ("MemoryError", "Unable to allocate 3.{d} GiB for an array with shape (20000, {i}) and data type float64", "tb"),
    ("KilledWorker", "Attempted to run task 'run_gcam-{h}' on 4 different workers, but all those workers died while running it. The last worker that attempt to run the task was tcp://127.0.0.1:{port}.", None),
]
TB = (
    "Traceback (most recent call last):\n"
    '  File "/home/alice/models/gcam/driver.py", line 211, in run_gcam\n'
    "    grid = np.zeros((20000, n))\n"
    '  File "/home/alice/models/gcam/grid.py", line 88, in allocate\n'
    "    return np.empty(shape, dtype=dtype)\n"
    "numpy.core._exceptions._ArrayMemoryError: Unable to allocate 3.2 GiB for an array\n"
)


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--tasks", type=int, default=300_000)
    ap.add_argument("--fail-every", type=int, default=20)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--varied", action="store_true", help="per-task names, tags and requested workers")
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    start = datetime(2026, 11, 23, 22, 0, 0, tzinfo=timezone.utc)
    run_id = f"run-{start.strftime('%Y%m%dT%H%M%SZ')}-bench{'v' if a.varied else ''}-{uuid.UUID(int=rnd.getrandbits(128)).hex[:8]}"
    d = a.outdir / run_id
    d.mkdir(parents=True, exist_ok=True)
    meta = {
        "finished_at": None, "manifest_lock": "0" * 64, "project_name": "bench", "provider_name": "slurm",
        "run_id": run_id, "schema_version": 1, "source_manifest_path": "scalable.yaml",
        "started_at": iso(start), "status": "completed", "target_name": "hpc",
    }
    base = {"event_type": "task", "requested_workers": 1, "run_id": run_id, "schema_version": 1}
    n = a.tasks
    with open(d / "tasks.jsonl", "w") as ft, open(d / "resources.jsonl", "w") as fr, open(d / "failures.jsonl", "w") as ff:
        pending: list[tuple[int, str, str, str, datetime, str, dict]] = []
        t = start
        i = 0
        while i < n or pending:
            # submit a burst of tasks, then finish some of the oldest
            for _ in range(min(50, n - i)):
                name, comp = TASK_NAMES[i % len(TASK_NAMES)]
                tag = comp
                extra: dict = {}
                if a.varied:
                    name = f"{name}[scenario={i:06d}]"
                    tag = f"{comp}-{i % 97}"
                    extra = {"requested_workers": 1 + i % 7}
                tid = uuid.UUID(int=rnd.getrandbits(128)).hex
                ev = dict(base, **extra, component=comp, duration_s=None, error_message=None, error_type=None,
                          function_name=name, state="submitted", tag=tag, task_id=tid, task_name=name,
                          timestamp=iso(t), worker=None)
                ft.write(json.dumps(ev, sort_keys=True) + "\n")
                ev["state"] = "running"
                ft.write(json.dumps(ev, sort_keys=True) + "\n")
                fr.write(json.dumps({"component": comp, "entity_id": tid, "entity_type": "task", "event_type": "resource",
                                     "observed_cpu": None, "observed_memory_gb": None, "provider": "slurm",
                                     "requested_cpus": 4, "requested_memory": "16G", "requested_walltime": "04:00:00",
                                     "requested_workers": 1, "run_id": run_id, "schema_version": 1,
                                     "timestamp": iso(t)}, sort_keys=True) + "\n")
                pending.append((i, tid, name, comp, t, tag, extra))
                i += 1
            t += timedelta(seconds=1)
            done, pending = pending[:45] if i < n else pending, pending[45:] if i < n else []
            for j, tid, name, comp, t0, tag, extra in done:
                dur = rnd.uniform(0.5, 900.0)
                failed = j % a.fail_every == 3
                et = em = None
                if failed:
                    et, tmpl, tb = ERRORS[(j // a.fail_every) % len(ERRORS)]
                    em = tmpl.format(i=j, d=j % 10, h=uuid.UUID(int=rnd.getrandbits(128)).hex, port=30000 + j % 1000)
                ev = dict(base, **extra, component=comp, duration_s=dur, error_message=em, error_type=et,
                          function_name=name, state="failed" if failed else "succeeded", tag=tag, task_id=tid, task_name=name,
                          timestamp=iso(t), worker=f"{name}-{uuid.UUID(int=rnd.getrandbits(128)).hex}")
                ft.write(json.dumps(ev, sort_keys=True) + "\n")
                if failed:
                    details = {"phase": "task_execution", "task_id": tid, "worker_id": f"tcp://127.0.0.1:{40000 + j % 64}"}
                    if tb:
                        details["traceback"] = TB
                    ff.write(json.dumps({"details": details, "event_type": "failure", "failure_class": et, "message": em,
                                         "provider": "slurm", "run_id": run_id, "schema_version": 1, "task_id": tid,
                                         "timestamp": iso(t)}, sort_keys=True) + "\n")
    meta["finished_at"] = iso(t)
    (d / "run.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    with open(d / "workers.jsonl", "w") as fw:
        fw.write(json.dumps({"component": None, "details": {"cluster_kwargs": {"walltime": "04:00:00", "memory": "16G", "cores": 4}},
                             "event_type": "worker", "provider": "slurm", "run_id": run_id, "schema_version": 1,
                             "state": "cluster_created", "timestamp": iso(start), "worker_id": None}, sort_keys=True) + "\n")
    size = sum(p.stat().st_size for p in d.iterdir())
    print(f"{d}  {size / 1e6:.0f} MB")


if __name__ == "__main__":
    main()

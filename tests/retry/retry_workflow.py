"""A small Scalable workflow whose failures cover every retry-plan action (run by the REAL library).

``python retry_workflow.py`` (cwd holding ``scalable.yaml``, ``SCALABLE_RUNS_DIR``
set) runs it through ``scalable.ScalableSession``.  After the tasks finish it
appends observed-use records (``observed_memory_gb``/``observed_cpu``) with
Scalable's own ``ResourceEvent`` through the session's telemetry store, the
way a resource collector would: Scalable 2.0.0b6 writes nulls there itself.

The module is also the "workflow module" a generated retry script imports:
``run_model``/``postprocess`` and ``retry_arguments(task)``.  In retry mode
(``RETRY_MODE=1``) every task succeeds and records its name in ``retried.txt``.

Not a test module; not imported by the tool.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

MANIFEST = """\
version: 1
project:
  name: retry-demo
targets:
  local:
    provider: local
    max_workers: 2
    threads_per_worker: 1
    processes: false
    containers: none
    dashboard_address: "127.0.0.1:0"
    walltime: "01:00:00"
components:
  model:
    cpus: 4
    memory: 16G
  post:
    cpus: 1
    memory: 2G
tasks:
  run_model:
    component: model
  postprocess:
    component: post
"""

#: (function, scenario, how it ends, observed GB, observed cores)
PLAN = [
    ("run_model", "ssp1", "ok", 2.1, 1.0),
    ("run_model", "ssp2", "ok", 1.8, 0.9),
    ("run_model", "ssp3", "walltime", None, None),
    ("run_model", "ssp4", "network", None, None),
    ("postprocess", "ssp1", "ok", 1.2, 0.95),
    ("postprocess", "ssp2", "killed_memory", 2.6, 1.0),
    ("postprocess", "ssp3", "memoryerror", None, None),
    ("postprocess", "ssp4", "invalid", None, None),
]


def _behave(scenario: str, how: str) -> str:
    if os.environ.get("RETRY_MODE") == "1":
        with open("retried.txt", "a", encoding="utf-8") as fh:
            fh.write(f"{scenario}\n")
        return scenario
    if how == "walltime":
        raise RuntimeError("slurmstepd: error: *** STEP 4242.0 ON n07 CANCELLED AT 2026-11-30T03:00:00 DUE TO TIME LIMIT ***")
    if how == "network":
        raise ConnectionResetError(104, "Connection reset by peer")
    if how == "killed_memory":
        raise RuntimeError("postprocess.sh: line 12: 5512 Killed: memory cgroup limit reached")
    if how == "memoryerror":
        raise MemoryError("Unable to allocate 3.00 GiB for an array with shape (20000, 20000) and data type float64")
    if how == "invalid":
        raise ValueError(f"invalid scenario {scenario!r}: no such SSP")
    return scenario


def run_model(scenario: str, how: str = "ok") -> str:
    return _behave(scenario, how)


def postprocess(scenario: str, how: str = "ok") -> str:
    return _behave(scenario, how)


def retry_arguments(task: dict) -> tuple[tuple, dict]:
    """For a retry script: the arguments of a failed task (here: kept in the task name)."""
    scenario = task["task_name"].split(":", 1)[1]
    return (scenario,), {}


def main() -> int:
    Path("scalable.yaml").write_text(MANIFEST, encoding="utf-8")
    from scalable import ScalableSession
    from scalable.telemetry.events import ResourceEvent

    session = ScalableSession.from_yaml("./scalable.yaml", target="local")
    client = session.start()
    try:
        fns = {"run_model": run_model, "postprocess": postprocess}
        tags = {"run_model": "model", "postprocess": "post"}
        futures = [client.submit(fns[f], s, how, tag=tags[f], _scalable_task_name=f"{f}:{s}") for f, s, how, _, _ in PLAN]
        for fut in futures:
            try:
                fut.result()
            except Exception:
                pass
        store = session._telemetry
        if store is not None:
            import json

            ids = {}
            for line in (store.run_dir / "tasks.jsonl").read_text().splitlines():
                rec = json.loads(line)
                ids[rec["task_name"]] = (rec["task_id"], rec["component"])
            # The collector repeats the request: the reader keeps a task's last resource record.
            requests = {}
            for line in (store.run_dir / "resources.jsonl").read_text().splitlines():
                rec = json.loads(line)
                requests[rec["entity_id"]] = {k: rec[k] for k in ("requested_cpus", "requested_memory",
                                                                  "requested_walltime", "requested_workers")}
            while len([1 for line in (store.run_dir / "tasks.jsonl").read_text().splitlines()
                       if json.loads(line)["state"] in ("succeeded", "failed")]) < len(PLAN):
                import time

                time.sleep(0.05)  # the done-callbacks write the terminal records
            for f, s, _, mem, cpu in PLAN:
                if mem is None:
                    continue
                tid, comp = ids[f"{f}:{s}"]
                store._append_jsonl("resources.jsonl", ResourceEvent(
                    run_id=store.run_id, entity_type="task", entity_id=tid, component=comp,
                    provider="local", observed_memory_gb=mem, observed_cpu=cpu, **requests[tid]).to_dict())
    finally:
        session.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

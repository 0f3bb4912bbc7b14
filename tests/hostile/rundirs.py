"""Tiny run directories in Scalable's format, written by the tests (real load path)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import fixture_run

RUN_ID = "run-20261125T114713Z-gcam-ensemble-7cec5155"


def copy_fixture(dst_parent: Path, name: str = "mixed-failures") -> Path:
    src = fixture_run(name)
    dst = dst_parent / src.name
    shutil.copytree(src, dst)
    for p in dst.rglob("*"):
        p.chmod(0o644 if p.is_file() else 0o755)
    return dst


def hostile_failure(task_id: str, *, failure_class: str, message: str, timestamp: str, traceback: str | None = None,
                    worker: str | None = None, phase: str | None = "task_execution") -> dict:
    details: dict[str, object] = {"task_id": task_id}
    if phase is not None:
        details["phase"] = phase
    if traceback is not None:
        details["traceback"] = traceback
    if worker is not None:
        details["worker_id"] = worker
    return {"details": details, "event_type": "failure", "failure_class": failure_class, "message": message,
            "provider": "local", "run_id": RUN_ID, "schema_version": 1, "task_id": task_id, "timestamp": timestamp}


def task_events(task_id: str, *, name: str, component: str, error_type: str, error_message: str, timestamp: str,
                worker: str) -> list[dict]:
    base = {"component": component, "duration_s": None, "error_message": None, "error_type": None,
            "event_type": "task", "function_name": name, "requested_workers": 1, "run_id": RUN_ID,
            "schema_version": 1, "tag": component, "task_id": task_id, "task_name": name, "timestamp": timestamp,
            "worker": None}
    return [dict(base, state="submitted"), dict(base, state="running"),
            dict(base, state="failed", duration_s=1.5, error_type=error_type, error_message=error_message,
                 worker=worker)]


def resource(task_id: str, *, memory: str, walltime: str, component: str, timestamp: str) -> dict:
    return {"component": component, "entity_id": task_id, "entity_type": "task", "event_type": "resource",
            "observed_cpu": None, "observed_memory_gb": None, "provider": "local", "requested_cpus": 1,
            "requested_memory": memory, "requested_walltime": walltime, "requested_workers": 1, "run_id": RUN_ID,
            "schema_version": 1, "timestamp": timestamp}


def append(path: Path, *records: dict) -> None:
    with path.open("a", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, sort_keys=True) + "\n")

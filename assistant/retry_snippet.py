"""A retry plan as a Python script that resubmits only the retryable tasks through Scalable.

Written against the Scalable 2.0.0b6 API as installed (checked in its source):
``ScalableSession(manifest=, target_name=, spec=)`` with
``scalable.manifest.parser.parse_manifest(mapping)`` and
``scalable.providers.base.DeploymentSpec.from_manifest``; resources live in the
manifest (``components.<name>.memory``, ``targets.<name>.walltime``), so the
script loads the manifest the run used (its copy in the run directory),
applies the plan's changes and starts a new session;
``ScalableClient.submit(func, *args, tag=, _scalable_task_name=, **kwargs)``
keeps each task's name and component in the new run's telemetry.

Scalable does not record task arguments, so the script asks the user's
workflow module for them (``retry_arguments(task) -> (args, kwargs)``) and
takes the task functions from it by name.  Every value from the run (names,
paths, ids) enters the script through ``repr``: a hostile task name cannot
inject code or break the syntax.
"""

from __future__ import annotations

import os
import pprint
from typing import Any

from assistant.retry_plan import RetryPlan
from assistant.retry_resources import walltime_s

__all__ = ["retry_snippet"]

_TEMPLATE = '''\
"""Resubmit the retryable failed tasks of a Scalable run (scalable-tui retry-plan --format python).

Run: {run_id}
Usage: python THIS_FILE.py WORKFLOW_MODULE

WORKFLOW_MODULE (imported from the current directory first) must define the task
functions named in TASKS and ``retry_arguments(task) -> (args, kwargs)``: Scalable
does not record task arguments, so it says how each task was called (``task`` is a
dict with task_id, task_name, function_name, component, tag; a ``client.map`` task
is named ``name[i]``, i being its index in the mapped lists).

Resubmitted: {n_resub} task(s). Left out: {n_left} task(s) to fix first or without a computable change.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
import threading

import yaml
from scalable import ScalableSession
from scalable.manifest.parser import parse_manifest
from scalable.providers.base import DeploymentSpec

MANIFEST = {manifest!r}
TARGET = {target!r}
#: Merged into components.<name> of the manifest (memory for out-of-memory groups).
COMPONENT_CHANGES = {component_changes!r}
#: Merged into targets.<TARGET> (walltime for walltime groups).
TARGET_CHANGES = {target_changes!r}
#: Workers that retire before the walltime (dask-jobqueue / scalable.SlurmCluster worker_extra_args;
#: the Scalable 2.0.0b6 manifest has no key for it, so it is not applied here).
WORKER_EXTRA_ARGS = {worker_extra_args!r}
#: The failed tasks to resubmit, with the plan group each comes from.
TASKS = {tasks!r}


def session_with_changes(manifest_path=MANIFEST, target=TARGET):
    """A ScalableSession on the run's manifest with the plan's resource changes applied."""
    with open(manifest_path, encoding="utf-8") as fh:
        doc = yaml.safe_load(fh)
    # The run did not say its target (run.json missing or unreadable): the manifest's first one.
    target = target or next(iter(doc.get("targets") or {{"local": None}}))
    for name, change in COMPONENT_CHANGES.items():
        doc.setdefault("components", {{}}).setdefault(name, {{}}).update(change)
    if TARGET_CHANGES:
        doc.setdefault("targets", {{}}).setdefault(target, {{}}).update(TARGET_CHANGES)
    manifest = parse_manifest(doc, source_path=manifest_path)
    spec = DeploymentSpec.from_manifest(manifest, target_name=target)
    return ScalableSession(manifest=manifest, target_name=target, spec=spec)


def task_function(workflow, function_name):
    """The workflow's function for a recorded qualified name (``f`` or ``Class.method``)."""
    return functools.reduce(getattr, function_name.split("."), workflow)


def resubmit(client, workflow, tasks=TASKS):
    """Submit each task again, under its old name and component; returns the futures."""
    futures = []
    for task in tasks:
        func = task_function(workflow, task["function_name"])
        args, kwargs = workflow.retry_arguments(dict(task))
        futures.append(client.submit(func, *args, tag=task["tag"], _scalable_task_name=task["task_name"], **kwargs))
    return futures


def wait_for_the_records(futures, timeout=60.0):
    """Wait until Scalable has recorded how each task ended, before the session closes.

    Scalable records a task's end in a done-callback of its future; distributed
    runs done-callbacks one at a time, in the order they were added, on one
    thread.  A callback added now runs after Scalable's: once all of ours ran,
    every task's end is in tasks.jsonl (closing first recorded finished tasks
    as cancelled).
    """
    if not futures:
        return
    left = [len(futures)]
    lock = threading.Lock()
    done = threading.Event()

    def mark(_future):
        with lock:
            left[0] -= 1
            if left[0] == 0:
                done.set()

    for future in futures:
        future.add_done_callback(mark)
    done.wait(timeout)


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    if not os.path.isfile(MANIFEST):
        print(f"retry: the run's manifest {{MANIFEST}} does not exist; set MANIFEST at the top of this script "
              "to the scalable.yaml the run used", file=sys.stderr)
        return 2
    # ``python path/to/retry.py wf`` puts the script's folder on the path, not the current one.
    sys.path.insert(0, os.getcwd())
    try:
        workflow = importlib.import_module(argv[1])
    except ModuleNotFoundError as exc:
        if exc.name != argv[1].split(".")[0]:
            raise
        print(f"retry: cannot import the workflow module {{argv[1]!r}} from {{os.getcwd()}}; run this script "
              "from the folder that holds it", file=sys.stderr)
        return 2
    session = session_with_changes()
    client = session.start()
    try:
        futures = resubmit(client, workflow)
        client.gather(futures, errors="skip")
        wait_for_the_records(futures)
        ok = sum(1 for f in futures if f.status == "finished")
        print(f"{{ok}} of {{len(futures)}} resubmitted task(s) succeeded")
        return 0 if ok == len(futures) else 1
    finally:
        session.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
'''


def retry_snippet(plan: RetryPlan) -> str:
    """The script for ``plan`` (valid Python whatever the run's names contain)."""
    component_changes: dict[str, dict[str, str]] = {}
    walls: list[str] = []
    extra: list[str] = []
    tasks: list[dict[str, Any]] = []
    left = 0
    for g in plan.groups:
        if not g.resubmittable:
            left += g.count
            continue
        if g.action == "retry_more_memory" and g.component:
            cur = component_changes.setdefault(g.component, {})
            new = g.change["memory"]
            old = cur.get("memory")
            if old is None or int(new.rstrip("G")) > int(old.rstrip("G")):
                cur["memory"] = new
        if g.action == "retry_more_time":
            walls.append(g.change["walltime"])
            extra = list(g.change.get("worker_extra_args") or extra)
        for tid in g.task_ids:
            info = plan.tasks.get(tid, {})
            tasks.append({"task_id": tid, "task_name": info.get("task_name"), "function_name": info.get("function_name"),
                          "component": info.get("component"), "tag": info.get("tag"), "group": g.id, "action": g.action})
    target_changes: dict[str, str] = {}
    if walls:
        target_changes["walltime"] = max(walls, key=lambda w: walltime_s(w) or 0.0)
    return _TEMPLATE.format(
        run_id=_doc_safe(plan.run_id),
        n_resub=len(tasks),
        n_left=left,
        manifest=os.path.join(plan.run_dir, "manifest.yaml"),
        target=plan.target,
        component_changes=component_changes,
        target_changes=target_changes,
        worker_extra_args=extra,
        tasks=_Literal(pprint.pformat(tasks, width=110, sort_dicts=False)),
    )


class _Literal(str):
    """Text already in Python literal form (``{!r}`` must not quote it again)."""

    def __repr__(self) -> str:
        return str(self)


def _doc_safe(text: str) -> str:
    """A run id inside the script's docstring: printable ASCII without quotes or backslashes."""
    return "".join(c if c.isascii() and c.isprintable() and c not in "\"'\\" else "?" for c in text)[:200]

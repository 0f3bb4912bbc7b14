"""The retry plan: every failed task in exactly one group, each group with one action.

The morning question after a failed night is "what do I rerun, and with what?".
A diagnosis groups *failure records*; a plan must speak about *failed tasks*,
each once, so a resubmission neither misses a task nor runs one twice:

- the failed tasks are the task table's rows whose final state is ``failed``
  (a task that failed and later succeeded is not in the plan);
- a task with several failure records is planned by its last one;
- a failed task whose records are in no finding (or that has none) lands in an
  ``unexplained`` group with ``fix_first``: never silently dropped.

Actions:

- ``retry``: transient causes (network, preemption, node failure, timeouts of
  remote services): the same request is likely to work;
- ``retry_more_memory``: oom, worker_memory and Slurm's cgroup OOM;
  ``change.memory`` is computed (see ``retry_resources.more_memory``);
- ``retry_bigger_gpu``: gpu_oom.  Host memory does not help and GPU memory is
  not a Scalable request, so there is no number to set: ``change.gpu`` says
  what to change, and the group is not resubmitted by the script (it said
  "retry_more_memory" beside "host memory does not help" before);
- ``retry_more_time``: walltime; ``change.walltime`` plus dask-jobqueue's
  ``--lifetime`` advice (see ``retry_resources.more_walltime``);
- ``fix_first``: permanent causes (code, inputs, environment, permissions,
  disk) and workers that died for an unknown reason: rerunning as is would
  fail again, so a person looks first.

Pure: takes the ``RunState`` and its ``Diagnosis`` (the one pipeline), and the
observed use per task when there is one; reads no file.

The arithmetic of the new requests (memory and walltime strings as Scalable
and Slurm read them) is :mod:`assistant.retry_resources`.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Mapping

from assistant.diagnose import SCRIPT_PHASE
from assistant.grouping import clip_name
from assistant.hpc_advice import lifetime_advice
from assistant.retry_resources import more_memory, more_walltime, walltime_s
from assistant.task_names import said_of
from scalable_tui.model.diagnosis import Diagnosis, Finding
from scalable_tui.model.run import FailureRecord, RunState

__all__ = [
    "ACTIONS",
    "RetryGroup",
    "RetryPlan",
    "build_retry_plan",
]

ACTIONS = ("retry", "retry_more_memory", "retry_bigger_gpu", "retry_more_time", "fix_first")
#: Actions whose tasks a resubmission may include (``fix_first`` never).
RETRYABLE = frozenset({"retry", "retry_more_memory", "retry_bigger_gpu", "retry_more_time"})

CATEGORY_ACTION: dict[str, str] = {
    "network": "retry",
    "preemption": "retry",
    "timeout": "retry",
    "oom": "retry_more_memory",
    "worker_memory": "retry_more_memory",
    "gpu_oom": "retry_bigger_gpu",
    "walltime": "retry_more_time",
}
#: Slurm job kinds (``hpc`` finding ids ``slurm:<kind>``) and what they mean for the tasks their workers ran.
SLURM_KIND_ACTION: dict[str, str] = {
    "walltime": "retry_more_time",
    "oom": "retry_more_memory",
    "oom_suspected": "retry_more_memory",
    "preemption": "retry",
    "node_fail": "retry",
}
_REASONS: dict[str, str] = {
    "network": "transient network or remote-service error: the same request is likely to work",
    "preemption": "the jobs were preempted: a rerun is likely to work",
    "timeout": "an operation timed out: transient when a remote service was slow",
    "oom": "out of memory: rerun with more memory",
    "worker_memory": "Dask workers hit their memory limit: rerun with more memory per worker",
    "gpu_oom": "the GPU ran out of memory: host memory does not help; use a GPU with more memory or smaller batches",
    "walltime": "killed at the walltime: rerun with a longer walltime",
}


@dataclass(slots=True)
class RetryGroup:
    """Failed tasks that share a cause and therefore an action."""

    id: str
    action: str
    reason: str
    category: str
    title: str
    #: The diagnosis finding the tasks come from ("" for the unexplained group).
    finding_id: str
    task_ids: list[str]
    task_names: dict[str, int]
    component: str | None
    #: What to change for the retry: memory / walltime / lifetime / lifetime_stagger / worker_extra_args / gpu.
    change: dict[str, Any] = field(default_factory=dict)
    #: The requests the failed tasks ran with, and what was observed.
    current: dict[str, Any] = field(default_factory=dict)
    #: How ``change`` was computed, in words.
    rule: str = ""

    @property
    def count(self) -> int:
        return len(self.task_ids)

    @property
    def resubmittable(self) -> bool:
        """Retryable, and every change it needs is known (a GPU OOM has no number to set: never)."""
        if self.action == "retry":
            return True
        if self.action == "retry_more_memory":  # memory is set per component in Scalable's manifest
            return bool(self.change.get("memory")) and bool(self.component)
        if self.action == "retry_more_time":
            return bool(self.change.get("walltime"))
        return False

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "action": self.action,
            "reason": self.reason,
            "category": self.category,
            "title": self.title,
            "finding_id": self.finding_id,
            "count": self.count,
            "component": self.component,
            "task_names": self.task_names,
            "change": self.change,
            "current": self.current,
            "rule": self.rule,
            "resubmittable": self.resubmittable,
            "task_ids": self.task_ids,
        }


@dataclass(slots=True)
class RetryPlan:
    run_id: str
    run_dir: str
    project: str | None
    target: str | None
    provider: str | None
    groups: list[RetryGroup]
    #: Failed tasks the plan covers (= the sum of the groups' counts).
    failed_tasks: int
    #: Per task id: what the resubmission needs to call it again.
    tasks: dict[str, dict[str, Any]]
    notes: list[str] = field(default_factory=list)

    def by_action(self) -> dict[str, int]:
        out = {a: 0 for a in ACTIONS}
        for g in self.groups:
            out[g.action] += g.count
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "run_dir": self.run_dir,
            "project": self.project,
            "target": self.target,
            "provider": self.provider,
            "failed_tasks": self.failed_tasks,
            "by_action": self.by_action(),
            "groups": [g.to_dict() for g in self.groups],
            "notes": self.notes,
            #: What a resubmission needs per failed task: name, function, component, tag.
            "tasks": self.tasks,
        }


# -- building ----------------------------------------------------------------------
def _slurm_kind(f: Finding) -> str | None:
    return f.id.split(":")[1] if f.id.startswith("slurm:") and f.id.count(":") >= 1 else None


def _action_for(f: Finding, death_actions: dict[str, str]) -> tuple[str, str]:
    kind = _slurm_kind(f)
    if kind is not None and kind in SLURM_KIND_ACTION:
        return SLURM_KIND_ACTION[kind], f"Slurm: {f.title}"
    if f.category in CATEGORY_ACTION:
        return CATEGORY_ACTION[f.category], _REASONS[f.category]
    if f.category == "worker_lost":
        actions = set(death_actions.values())
        if len(actions) == 1:
            kinds = ", ".join(sorted(death_actions))
            return actions.pop(), (f"workers died; the run's Slurm jobs ended only as {kinds}, so that is taken as "
                                   f"the cause")
        if actions:
            kinds = ", ".join(sorted(death_actions))
            return "fix_first", f"workers died and the Slurm jobs ended in different ways ({kinds}): check which first"
        return "fix_first", ("workers died and nothing says why (memory kill, segfault, walltime?): read the "
                             "worker/job logs before rerunning")
    return "fix_first", f"permanent cause ({f.category}): fix the code, inputs or environment first"


def _cluster_option(state: RunState, key: str) -> str | None:
    for ev in state.worker_events:
        kw = ev.details.get("cluster_kwargs") if isinstance(ev.details, dict) else None
        if isinstance(kw, dict) and isinstance(kw.get(key), str):
            return kw[key]
    return None


def _slurm_resource(diag: Diagnosis, key: str) -> str | None:
    for f in diag.findings:
        v = f.resources.get(key) if f.id.startswith("slurm:") else None
        if isinstance(v, str) and v:
            return v
    return None


def _most_common(values: list[str | None]) -> str | None:
    c = Counter(v for v in values if v)
    return c.most_common(1)[0][0] if c else None


def build_retry_plan(
    state: RunState,
    diag: Diagnosis,
    *,
    observed_memory_gb: Mapping[str, float] | None = None,
) -> RetryPlan:
    """The plan for ``state``'s failed tasks, from its diagnosis (``scalable_tui.session.diagnose``).

    ``observed_memory_gb``: peak memory per task id, where known (resources.jsonl).
    """
    observed_memory_gb = observed_memory_gb or {}
    t = state.tasks
    failed_state = {i for i, v in enumerate(t.strings.values) if v in ("failed", "erred")}
    failed_ids = [t.ids[r] for r in range(len(t.ids)) if t.state[r] in failed_state]
    failed_set = set(failed_ids)

    # Each failed task's last failure record, and the finding that record is in.
    by_index: dict[int, FailureRecord] = {f.index: f for f in state.failures}
    last: dict[str, FailureRecord] = {}
    for f in state.failures:
        if f.task_id in failed_set:
            prev = last.get(f.task_id)
            key = (f.ts if f.ts is not None else -math.inf, f.index)
            if prev is None or key >= (prev.ts if prev.ts is not None else -math.inf, prev.index):
                last[f.task_id] = f
    finding_of: dict[int, Finding] = {}
    for fd in diag.findings:
        for i in fd.failure_indices:
            finding_of[i] = fd
    death_actions = {k: SLURM_KIND_ACTION[k] for f in diag.findings
                     if (k := _slurm_kind(f)) in SLURM_KIND_ACTION}

    notes: list[str] = []
    later_ok = {f.task_id for f in state.failures if f.task_id and f.task_id not in failed_set and f.task_id in t.row}
    if later_ok:
        notes.append(f"{len(later_ok)} task(s) failed once and reached another final state later; not in the plan")
    totals_failed = state.totals().failed
    if totals_failed > len(failed_ids):
        notes.append(f"{totals_failed - len(failed_ids)} failed task(s) are counted but their detail was not kept "
                     f"(live/recording limit): they cannot be planned one by one")

    session_level = [fd for fd in diag.findings if fd.count and not fd.task_ids and fd.category == "cluster_startup"]
    if session_level:
        notes.append(f"the session or its workers failed to start ({'; '.join(fd.title for fd in session_level[:3])}): "
                     f"fix that first, tasks that never ran are not in this plan")
    script = [fd for fd in diag.findings if fd.count and not fd.task_ids and fd.phase == SCRIPT_PHASE]
    if script:
        notes.append(f"{script[0].title}: whatever it would have submitted after that point never ran and is not "
                     f"in this plan (fix the script, then rerun it; Scalable's cache skips done work)")
    if diag.unfinished and diag.ended:
        why = "the run was probably abandoned" if diag.abandoned else "the run closed"
        notes.append(f"{why}: {diag.unfinished} task(s) never finished; they did not fail, "
                     f"so they are not in this plan (rerun them with the workflow; Scalable's cache skips done work)")
    members: dict[tuple[str, str | None], list[str]] = {}
    finding_for_key: dict[tuple[str, str | None], Finding | None] = {}
    action_for_key: dict[tuple[str, str | None], tuple[str, str]] = {}
    records: dict[str, FailureRecord | None] = {}
    for tid in failed_ids:
        rec = last.get(tid)
        records[tid] = rec
        fd = finding_of.get(rec.index) if rec is not None and rec.index in by_index else None
        if fd is None:
            key: tuple[str, str | None] = ("", None)
            finding_for_key[key] = None
            action_for_key[key] = ("fix_first", "no failure record explains this task: look at it first")
        else:
            action, reason = _action_for(fd, death_actions)
            comp = t.component_of(t.row[tid]) if action in ("retry_more_memory", "retry_more_time") else None
            key = (fd.id, comp)
            finding_for_key[key] = fd
            action_for_key[key] = (action, reason)
        members.setdefault(key, []).append(tid)

    cluster_mem = _cluster_option(state, "memory") or _slurm_resource(diag, "requested_memory")
    cluster_wall = _cluster_option(state, "walltime") or _slurm_resource(diag, "requested_walltime")
    groups: list[RetryGroup] = []
    for key, tids in members.items():
        fd = finding_for_key[key]
        action, reason = action_for_key[key]
        names = Counter(t.name_of(t.row[x]) or "(unnamed)" for x in tids)
        title = "Failed tasks without an explaining failure record"
        if fd is not None:  # a part of a finding (one component of it) is said of its own tasks
            title = said_of(fd.title, fd.task_names, {k: v for k, v in names.items() if k != "(unnamed)"}, clip_name)
        profiles = [state.resources_for(x) for x in tids]
        req_mem = _most_common([p.requested_memory if p else None for p in profiles]) or cluster_mem
        req_wall = _most_common([p.requested_walltime if p else None for p in profiles]) or cluster_wall
        req_cpus = Counter(p.requested_cpus for p in profiles if p and p.requested_cpus is not None).most_common(1)
        current: dict[str, Any] = {"memory": req_mem, "walltime": req_wall,
                                   "cpus": req_cpus[0][0] if req_cpus else None}
        change: dict[str, Any] = {}
        rule = ""
        if action == "retry_bigger_gpu":
            change["gpu"] = "a GPU with more memory, or smaller batches per task"
            rule = "GPU memory is not a Scalable request: no number to set"
        elif action == "retry_more_memory":
            peaks = [observed_memory_gb[x] for x in tids if x in observed_memory_gb]
            peak = max(peaks) if peaks else None
            current["observed_peak_memory_gb"] = peak
            change["memory"], rule = more_memory(req_mem, peak)
            if key[1] is None:
                rule += "; the tasks have no component, so no components.<name>.memory to raise"
        elif action == "retry_more_time":
            durs = [d for x in tids if (d := t.duration_of(t.row[x])) is not None]
            longest = max(durs) if durs else None
            current["longest_run_s"] = round(longest, 1) if longest is not None else None
            change["walltime"], rule = more_walltime(req_wall, longest)
            if change["walltime"]:
                life, stagger = lifetime_advice(walltime_s(change["walltime"]) or 0.0)
                change["lifetime"] = life
                change["lifetime_stagger"] = stagger
                change["worker_extra_args"] = ["--lifetime", life, "--lifetime-stagger", stagger]
        comp = key[1] if key[1] is not None else _most_common([t.component_of(t.row[x]) for x in tids])
        gid = f"{fd.id if fd else 'unexplained'}" + (f"@{key[1]}" if key[1] else "")
        groups.append(RetryGroup(
            id=gid,
            action=action,
            reason=reason,
            category=fd.category if fd else "unexplained",
            title=title,
            finding_id=fd.id if fd else "",
            task_ids=tids,
            task_names=dict(names.most_common()),
            component=comp,
            change=change,
            current=current,
            rule=rule,
        ))
    order = {a: i for i, a in enumerate(ACTIONS)}
    groups.sort(key=lambda g: (order[g.action], -g.count, g.id))

    tasks: dict[str, dict[str, Any]] = {}
    for tid in failed_ids:
        r = t.row[tid]
        tasks[tid] = {
            "task_name": t.name_of(r),
            # A live/recorded task has no function name: its key prefix is the function's name.
            "function_name": t.strings.values[t.function[r]] or t.name_of(r),
            "component": t.component_of(r),
            "tag": t.strings.values[t.tag[r]],
        }
    for g in groups:
        if g.action in RETRYABLE and not g.resubmittable:  # ("retry" always is)
            notes.append(f"group {g.id}: {g.rule or 'no change could be computed'}; left out of the resubmission")
    return RetryPlan(
        run_id=state.meta.run_id,
        run_dir=state.run_dir,
        project=state.meta.project_name,
        target=state.meta.target_name,
        provider=state.meta.provider_name,
        groups=groups,
        failed_tasks=len(failed_ids),
        tasks=tasks,
        notes=notes,
    )

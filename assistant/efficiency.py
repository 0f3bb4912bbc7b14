"""Requested vs used, per task name and component: a seff/reportseff table and waste findings.

Inputs are plain numbers so every source can feed it:

- a run directory: requested cpus/memory from ``resources.jsonl`` (the task's
  ``ResourceProfile``) and the observed ``observed_memory_gb`` / ``observed_cpu``
  per task (``scalable_tui.sources.observed``; Scalable 2.0.0b6 writes null there,
  a collector may fill them);
- Slurm jobs (``JobsSnapshot`` from ``sacct``): ``ReqMem``/``MaxRSS`` and
  ``ReqCPUS``/``TotalCPU``/``Elapsed`` per job, like ``seff``.  ``sacct``
  samples RSS, so a job the OOM killer ended under-reads its peak: such rows
  are marked and never yield a "request less" finding.

Units: memory in GB of 10**9 bytes (Scalable's and dask's ``G``); CPU in cores.
``observed_cpu`` is read as cores in use (average); a value above four times
the request cannot be cores (a percentage?) and is left out with a note rather
than turned into a wrong number.

Findings (category ``efficiency``), only for rows with at least
``MIN_TASKS`` observed tasks:

- memory: peak below ``MEMORY_WARN`` (25 %) of the request -> warning when the
  unused part is at least ``MIN_WASTE_GB`` (2 GB) per task, else info; the
  suggestion is ``ceil(1.5 × peak)`` whole GB (at least 1 G), the headroom of
  a retry plan's doubling halved because the peak is known;
- cpu: mean use below ``CPU_WARN`` (50 %) of the requested cores, with at least
  2 cores requested -> warning when at most one core in four is used, else info.

They are this report's own findings (``scalable-tui efficiency`` and the
apps' Efficiency screen): ``diagnose`` stays about failures on every door.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from scalable_tui.model.diagnosis import Evidence, Finding
from assistant.retry_resources import GB, memory_bytes
from assistant.task_names import fold_name

__all__ = [
    "EfficiencyReport",
    "EfficiencyRow",
    "efficiency_from_jobs",
    "efficiency_from_run",
    "efficiency_from_workers",
    "oom_task_ids_of",
]

MEMORY_WARN = 0.25
MIN_WASTE_GB = 2.0
CPU_WARN = 0.5
CPU_SEVERE = 0.25
MIN_TASKS = 1
HEADROOM = 1.5


@dataclass(slots=True)
class EfficiencyRow:
    """One task name (or component, or Slurm job name) and what its tasks asked for and used."""

    key: str
    kind: str  # task_name | component | slurm_job
    component: str | None
    tasks: int
    #: Tasks with an observation (memory or cpu).
    observed: int = 0
    requested_memory: str | None = None
    requested_memory_gb: float | None = None
    peak_memory_gb: float | None = None
    mean_memory_gb: float | None = None
    requested_cpus: float | None = None
    mean_cpu: float | None = None
    #: sacct under-reads the peak of OOM-killed jobs: no "request less" for these.
    oom_killed: int = 0

    @property
    def memory_efficiency(self) -> float | None:
        if self.peak_memory_gb is None or not self.requested_memory_gb:
            return None
        return self.peak_memory_gb / self.requested_memory_gb

    @property
    def cpu_efficiency(self) -> float | None:
        if self.mean_cpu is None or not self.requested_cpus:
            return None
        return self.mean_cpu / self.requested_cpus

    def to_dict(self) -> dict[str, Any]:
        def r(x: float | None, n: int = 3) -> float | None:
            return None if x is None else round(x, n)

        return {
            "key": self.key,
            "kind": self.kind,
            "component": self.component,
            "tasks": self.tasks,
            "observed": self.observed,
            "requested_memory": self.requested_memory,
            "requested_memory_gb": r(self.requested_memory_gb),
            "peak_memory_gb": r(self.peak_memory_gb),
            "mean_memory_gb": r(self.mean_memory_gb),
            "memory_efficiency": r(self.memory_efficiency),
            "requested_cpus": self.requested_cpus,
            "mean_cpu": r(self.mean_cpu),
            "cpu_efficiency": r(self.cpu_efficiency),
            "oom_killed": self.oom_killed,
        }


@dataclass(slots=True)
class EfficiencyReport:
    run_id: str
    rows: list[EfficiencyRow]
    findings: list[Finding]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "rows": [r.to_dict() for r in self.rows],
            "findings": [f.model_dump(mode="json") for f in self.findings],
            "notes": self.notes,
        }


_SOURCE = {"slurm_job": "sacct", "dask_worker": "Dask worker metrics"}


def _gb_text(gb: float) -> str:
    return f"{gb:.1f}G" if gb < 10 else f"{gb:.0f}G"


def suggest_memory(peak_gb: float) -> str:
    """What to request for a measured peak: ``ceil(1.5 × peak)`` whole GB, at least 1 G."""
    return f"{_suggested_gb(peak_gb)}G"


def _suggested_gb(peak_gb: float) -> int:
    return max(1, math.ceil(HEADROOM * peak_gb - 1e-9))


def _row_findings(row: EfficiencyRow, task_ids: list[str]) -> list[Finding]:
    out: list[Finding] = []
    what = {"component": f"component {row.key}", "dask_worker": f"workers {row.key}"}.get(row.kind, row.key)
    unit = "threads" if row.kind == "dask_worker" else "requested cores"
    eff = row.memory_efficiency
    if (eff is not None and eff < MEMORY_WARN and row.observed >= MIN_TASKS and not row.oom_killed
            and row.peak_memory_gb is not None and row.requested_memory_gb is not None
            # only a real cut: a 0.35G worker peaking at 0.05G was told to "request 1G" (the 1 G floor)
            and _suggested_gb(row.peak_memory_gb) < row.requested_memory_gb):
        waste = row.requested_memory_gb - row.peak_memory_gb
        sev = "warning" if waste >= MIN_WASTE_GB else "info"
        new = suggest_memory(row.peak_memory_gb)
        req = row.requested_memory or _gb_text(row.requested_memory_gb)
        out.append(Finding(
            id=f"efficiency:memory:{row.kind}:{row.key}",
            category="efficiency",
            severity=sev,  # type: ignore[arg-type]
            title=f"{what} requests {req}, peaks at {_gb_text(row.peak_memory_gb)}: request {new}",
            count=0,
            transient=None,
            suggestion=(f"The tasks of {what} used at most {_gb_text(row.peak_memory_gb)} of the {req} they request "
                        f"({eff:.0%}, over {row.observed} observed task(s)). Requesting {new} (1.5 × the peak, whole GB) "
                        f"lets more workers share a node and starts jobs sooner; keep more if inputs vary."),
            matched=f"peak {row.peak_memory_gb:g} GB < {MEMORY_WARN:.0%} of {row.requested_memory_gb:g} GB",
            evidence=[Evidence(source=_SOURCE.get(row.kind, "resources.jsonl"),
                               text=f"requested {req}, peak {row.peak_memory_gb:g} GB, mean {row.mean_memory_gb or 0:g} GB")],
            task_names={row.key: row.tasks} if row.kind == "task_name" else {},
            components={row.component: row.tasks} if row.component else {},
            task_ids=task_ids[:50],
            task_ids_more=max(0, len(task_ids) - 50),
            resources={"requested_memory": req, "peak_memory_gb": round(row.peak_memory_gb, 3), "suggested_memory": new},
        ))
    ceff = row.cpu_efficiency
    if (ceff is not None and ceff < CPU_WARN and row.requested_cpus and row.requested_cpus >= 2
            and row.mean_cpu is not None and row.observed >= MIN_TASKS):
        sev = "warning" if ceff <= CPU_SEVERE else "info"
        used = max(1, round(row.mean_cpu))
        req_c = f"{row.requested_cpus:g}"
        out.append(Finding(
            id=f"efficiency:cpu:{row.kind}:{row.key}",
            category="efficiency",
            severity=sev,  # type: ignore[arg-type]
            title=f"{what}: tasks use {used} of {req_c} {unit}",
            count=0,
            transient=None,
            suggestion=(f"The tasks of {what} keep {row.mean_cpu:.2g} core(s) busy on average out of {req_c} "
                        f"({ceff:.0%}). Request {used} core(s) (components.<name>.cpus), or make the task use the "
                        f"others (threads of the model / numpy BLAS, or more tasks per worker)."),
            matched=f"mean cpu {row.mean_cpu:g} < {CPU_WARN:.0%} of {req_c}",
            evidence=[Evidence(source=_SOURCE.get(row.kind, "resources.jsonl"),
                               text=f"requested {req_c} cores, mean use {row.mean_cpu:.3g}")],
            task_names={row.key: row.tasks} if row.kind == "task_name" else {},
            components={row.component: row.tasks} if row.component else {},
            task_ids=task_ids[:50],
            task_ids_more=max(0, len(task_ids) - 50),
            resources={"requested_cpus": row.requested_cpus, "mean_cpu": round(row.mean_cpu, 3)},
        ))
    return out


def efficiency_from_run(
    state: Any,
    observed_memory_gb: Mapping[str, float],
    observed_cpu: Mapping[str, float],
    oom_task_ids: Iterable[str] = (),
) -> EfficiencyReport:
    """Rows per task function (one per function and request) for a ``RunState`` and its observations.

    ``oom_task_ids``: tasks that failed out of memory (``oom_task_ids_of``): a
    row with any of them gets no "request less" finding, whatever its peak.
    """
    oom = set(oom_task_ids)
    t = state.tasks
    notes: list[str] = []
    groups: dict[tuple[str, str | None, str | None, float | None], list[str]] = {}
    for r, tid in enumerate(t.ids):
        if not t.state[r]:
            continue  # only in resources.jsonl: no task event
        # The function, not the task name: Scalable names map tasks ``f[i]`` and lets callers
        # name each task (``_scalable_task_name``), which would give one row per task; either
        # folded as the findings fold names (``f[…]``), for producers that vary them per task.
        base = fold_name(t.strings.values[t.function[r]] or t.name_of(r) or "(unnamed)")
        prof = state.resources_for(tid)
        key = (base, t.component_of(r), prof.requested_memory if prof else None,
               float(prof.requested_cpus) if prof and prof.requested_cpus is not None else None)
        groups.setdefault(key, []).append(tid)
    rows: list[EfficiencyRow] = []
    findings: list[Finding] = []
    implausible_cpu = 0
    for (name, comp, mem, cpus), tids in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        mems = [observed_memory_gb[x] for x in tids if x in observed_memory_gb]
        cpu_vals = [observed_cpu[x] for x in tids if x in observed_cpu]
        if cpus and cpu_vals and max(cpu_vals) > 4 * cpus:
            implausible_cpu += len(cpu_vals)
            cpu_vals = []
        req_b = memory_bytes(mem)
        row = EfficiencyRow(
            key=name, kind="task_name", component=comp, tasks=len(tids),
            observed=len({x for x in tids if x in observed_memory_gb or x in observed_cpu}),
            requested_memory=mem, requested_memory_gb=req_b / GB if req_b else None,
            peak_memory_gb=max(mems) if mems else None, mean_memory_gb=sum(mems) / len(mems) if mems else None,
            requested_cpus=cpus, mean_cpu=sum(cpu_vals) / len(cpu_vals) if cpu_vals else None,
            oom_killed=sum(1 for x in tids if x in oom),
        )
        rows.append(row)
        findings.extend(_row_findings(row, tids))
    if not any(r.observed for r in rows):
        notes.append("no task has observed_memory_gb / observed_cpu in resources.jsonl (Scalable 2.0.0b6 writes "
                     "null there): only the requests are known")
    if implausible_cpu:
        notes.append(f"{implausible_cpu} observed_cpu value(s) above 4 × the requested cores are not a core count; "
                     "left out of the CPU figures")
    return EfficiencyReport(run_id=state.meta.run_id, rows=rows, findings=_sorted(findings), notes=notes)


def efficiency_from_jobs(jobs: Iterable[Any], run_id: str = "") -> EfficiencyReport:
    """seff per Slurm job name: ``req_mem_mb``/``max_rss_mb`` and cores/``total_cpu_s``/``elapsed_s`` of each job.

    Jobs that ended OUT_OF_MEMORY count in ``oom_killed``: their MaxRSS is a
    sample taken before the kill, so their memory row yields no finding.
    """
    by_name: dict[str, list[Any]] = {}
    for j in jobs:
        by_name.setdefault(getattr(j, "name", None) or "(unnamed job)", []).append(j)
    rows: list[EfficiencyRow] = []
    findings: list[Finding] = []
    for name, js in sorted(by_name.items()):
        reqs = [j.req_mem_mb for j in js if getattr(j, "req_mem_mb", None)]
        rss = [j.max_rss_mb for j in js if getattr(j, "max_rss_mb", None)]
        cpu_use = [j.total_cpu_s / j.elapsed_s for j in js
                   if getattr(j, "total_cpu_s", None) and getattr(j, "elapsed_s", None)]
        cores = [float(j.req_cpus) for j in js if getattr(j, "req_cpus", None)]
        row = EfficiencyRow(
            key=name, kind="slurm_job", component=None, tasks=len(js),
            observed=len(rss) or len(cpu_use),
            requested_memory=getattr(js[0], "req_mem", None),
            requested_memory_gb=max(reqs) * 2**20 / GB if reqs else None,
            peak_memory_gb=max(rss) * 2**20 / GB if rss else None,
            mean_memory_gb=sum(rss) / len(rss) * 2**20 / GB if rss else None,
            requested_cpus=max(cores) if cores else None,
            mean_cpu=sum(cpu_use) / len(cpu_use) if cpu_use else None,
            oom_killed=sum(1 for j in js if getattr(j, "state", "") == "OUT_OF_MEMORY"
                           or "OUT_OF_MEMORY" in (getattr(j, "step_states", None) or {}).values()),
        )
        rows.append(row)
        findings.extend(_row_findings(row, [getattr(j, "job_id", "") for j in js]))
    notes = ["sacct samples MaxRSS: jobs killed by the OOM killer under-read their peak (no 'request less' for them)"]
    if not any(r.mean_cpu is not None for r in rows):
        notes.append("no TotalCPU/Elapsed per job in the job facts: CPU efficiency of Slurm jobs not computed")
    return EfficiencyReport(run_id=run_id, rows=rows, findings=_sorted(findings), notes=notes)


_HEX = frozenset("0123456789abcdefABCDEF")


def worker_group(name: str) -> str:
    """``SLURMCluster-12-3`` -> ``SLURMCluster``, ``0`` -> ``(numbered)``: workers started alike share a row."""
    base = name[:200]
    if base.isdigit():
        return "(numbered)"
    while True:
        i = max(base.rfind(c) for c in "-_.:")
        tail = base[i + 1:]
        if i <= 0 or not tail or not _HEX.issuperset(tail):
            return base
        base = base[:i]


def efficiency_from_workers(samples: Iterable[tuple[str, int | None, int | None, float | None, int]],
                            run_id: str = "") -> EfficiencyReport:
    """seff for Dask workers (live or recorded): ``(name, memory_limit, rss, cpu %, nthreads)`` samples.

    The worker's ``memory_limit`` is its request and ``nthreads`` its cores;
    Dask's ``cpu`` metric is a percentage of one core (100 = one busy core).
    Samples are heartbeat values, so a short spike between two samples is missed:
    the peak is a lower bound, like sacct's.
    """
    peaks: dict[str, int] = {}
    limits: dict[str, int] = {}
    threads: dict[str, int] = {}
    cpu: dict[str, list[float]] = {}
    for name, limit, rss, pct, nthreads in samples:
        if limit:
            limits[name] = limit
        if rss is not None and rss >= 0:
            peaks[name] = max(peaks.get(name, 0), rss)
        if pct is not None and math.isfinite(pct) and pct >= 0:
            cpu.setdefault(name, []).append(pct / 100.0)
        if nthreads:
            threads[name] = nthreads
    groups: dict[tuple[str, int | None, int | None], list[str]] = {}
    for name in {*peaks, *limits, *cpu}:
        groups.setdefault((worker_group(name), limits.get(name), threads.get(name)), []).append(name)
    rows: list[EfficiencyRow] = []
    findings: list[Finding] = []
    for (key, limit, nthreads), names in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0, kv[0][2] or 0)):
        pk = [peaks[n] / GB for n in names if n in peaks]
        cp = [sum(cpu[n]) / len(cpu[n]) for n in names if cpu.get(n)]
        row = EfficiencyRow(
            key=key, kind="dask_worker", component=None, tasks=len(names), observed=len(pk) or len(cp),
            requested_memory=f"{limit / GB:.3g}G" if limit else None, requested_memory_gb=limit / GB if limit else None,
            peak_memory_gb=max(pk) if pk else None, mean_memory_gb=sum(pk) / len(pk) if pk else None,
            requested_cpus=float(nthreads) if nthreads else None, mean_cpu=sum(cp) / len(cp) if cp else None,
        )
        rows.append(row)
        findings.extend(_row_findings(row, names))
    notes = ["worker memory and CPU are heartbeat samples: a short peak between two samples is missed"]
    return EfficiencyReport(run_id=run_id, rows=rows, findings=_sorted(findings), notes=notes)


def _sorted(findings: list[Finding]) -> list[Finding]:
    rank = {"warning": 0, "info": 1}
    return sorted(findings, key=lambda f: (rank.get(f.severity, 2), f.id))


OOM_CATEGORIES = frozenset({"oom", "worker_memory"})


def oom_task_ids_of(state: Any, diag: Any) -> set[str]:
    """Task ids whose failure records are in an out-of-memory finding of ``diag``."""
    by_index = {f.index: f for f in state.failures}
    return {tid for fd in diag.findings if fd.category in OOM_CATEGORIES for i in fd.failure_indices
            if (tid := getattr(by_index.get(i), "task_id", None))}

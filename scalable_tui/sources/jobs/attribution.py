"""Which Slurm jobs belong to THIS Dask cluster: on evidence only, never on a name alone.

A user's queue holds jobs of several clusters (every dask-jobqueue cluster
names its jobs ``dask-worker`` and its workers ``SLURMCluster-0`` …) and
plain ``sbatch`` jobs.  Blaming another cluster's walltime kill or OOM on
this one is worse than saying nothing, so a job counts as this cluster's only
with one of these pieces of evidence:

- ``batch_script``: its batch script (``scontrol write batch_script ID -``, or
  ``sacct -B`` for a past run) starts ``dask worker <address>`` with this
  cluster's scheduler address;
- ``env``: a worker registered on this scheduler says its ``SLURM_JOB_ID`` is
  that job;
- ``worker``: a worker registered on this scheduler under one of the job's
  worker names, from the job's node, while the job ran, and no other job fits
  (used only when the script could not be read).

A script naming another scheduler makes the job foreign for good.  Jobs
without evidence are kept for display ("not this cluster") but never turn
into findings.  Worker deaths are tied to jobs by (scheduler, worker name,
time): ``SLURMCluster-0`` is a different job in each cluster and after each
rescale.

Headless: no distributed, no Textual, no scheduler calls.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from scalable_tui.model.jobs import TIME_SLACK_S, Job, WorkerSeen, _ran_at, job_id_from_worker_name
from scalable_tui.sources.jobs.slurm_parse import worker_names_from_script

__all__ = [
    "ScriptInfo",
    "attribute",
    "parse_script",
    "names_scheduler",
    "same_scheduler",
    "scheduler_from_script",
    "split_by_cluster",
    "worker_evidence",
]

#: Slack (s) around a job's start/end when matching a worker's registration or departure time to it.
_WORKER_CMD = re.compile(r"dask[-_ ]worker|distributed\.cli\.dask_worker|dask-cuda-worker|dask_cuda")
_ADDR = re.compile(r"""(?<![\w/])((?:tcp|tls|ucx|ws|wss)://[^\s'"]+)""")


@dataclass(slots=True, frozen=True)
class ScriptInfo:
    """What a job's batch script says: the scheduler its workers join and their names."""

    scheduler: str | None = None
    names: tuple[str, ...] = ()


def scheduler_from_script(script: str) -> str | None:
    """The scheduler address of the script's ``dask worker`` command (``None``: not a Dask worker job)."""
    for raw in script.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or not _WORKER_CMD.search(line):
            continue
        m = _ADDR.search(line)
        if m:
            return m.group(1).rstrip(";&|)")
    return None


def parse_script(script: str, job_id: str | None = None) -> ScriptInfo:
    return ScriptInfo(scheduler_from_script(script), tuple(worker_names_from_script(script, job_id)))


# -- addresses -----------------------------------------------------------------------
_host_cache: dict[str, frozenset[str]] = {}


def _split(address: str) -> tuple[str, str | None]:
    """``tcp://host:8786`` -> (``host``, ``8786``); IPv6 in brackets kept whole."""
    a = address.strip().lower()
    if "://" in a:
        a = a.split("://", 1)[1]
    a = a.split("/", 1)[0]
    if a.startswith("["):
        host, _, rest = a[1:].partition("]")
        return host, rest.lstrip(":") or None
    if a.count(":") == 1:
        host, port = a.split(":")
        return host, port or None
    return a, None


def _host_keys(host: str) -> frozenset[str]:
    """Names and addresses a host is known by (cached; failures to resolve are fine)."""
    h = host.strip().lower()
    keys = _host_cache.get(h)
    if keys is not None:
        return keys
    out = {h}
    if not re.fullmatch(r"[\d.]+|[0-9a-f:]+", h):
        out.add(h.split(".", 1)[0])
    try:  # (no setdefaulttimeout: it is process-wide and does not bound the resolver anyway)
        out.add(socket.gethostbyname(h))
    except (OSError, UnicodeError):
        pass
    if out & {"127.0.0.1", "localhost", "::1"}:
        out |= {"127.0.0.1", "localhost", "::1"}
    keys = frozenset(out)
    _host_cache[h] = keys
    return keys


def same_scheduler(a: str | None, b: str | None) -> bool:
    """Do two scheduler addresses name the same scheduler?  Same port, and hosts that resolve alike."""
    if not a or not b:
        return False
    ha, pa = _split(a)
    hb, pb = _split(b)
    if pa is None or pb is None or pa != pb:
        return False
    return ha == hb or bool(_host_keys(ha) & _host_keys(hb))


def names_scheduler(address: str | None, clusters: str | Sequence[str] | None) -> bool:
    """Is ``address`` one of ``clusters`` (one address or several aliases of the same scheduler)?"""
    if clusters is None:
        return False
    if isinstance(clusters, str):
        clusters = [clusters]
    return any(same_scheduler(address, c) for c in clusters)


def same_host(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return False
    return bool(_host_keys(_split(a)[0]) & _host_keys(_split(b)[0]))


def _nodes(nodelist: str | None) -> list[str]:
    """``node[01-03],gpu5`` -> node names (simple forms only)."""
    if not nodelist:
        return []
    out: list[str] = []
    for m in re.finditer(r"([^,\[]+)(?:\[([^\]]*)\])?", nodelist):
        prefix, ranges = m.group(1), m.group(2)
        if not ranges:
            out.append(prefix)
            continue
        for part in ranges.split(","):
            lo, _, hi = part.partition("-")
            if hi and lo.isdigit() and hi.isdigit() and int(hi) - int(lo) < 10000:
                out.extend(f"{prefix}{i:0{len(lo)}d}" for i in range(int(lo), int(hi) + 1))
            else:
                out.append(prefix + lo)
    return out


# -- evidence ------------------------------------------------------------------------
def _names_of(job: Job, script: ScriptInfo | None) -> set[str]:
    names = set(job.worker_names)
    if script is not None:
        names.update(script.names)
    return names


def worker_evidence(
    jobs: Sequence[Job], scripts: dict[str, ScriptInfo | None], workers: Iterable[WorkerSeen],
    cluster: str | Sequence[str] | None = None,
) -> dict[str, str]:
    """Job id -> ``env`` / ``worker`` from workers registered on this scheduler (see module doc).

    A job whose script names another scheduler gets no evidence here; a worker
    already explained by a job whose script names ``cluster`` lends none to others.
    """
    out: dict[str, str] = {}
    by_id = {j.job_id: j for j in jobs}
    for w in workers:
        if w.job_id and w.job_id in by_id:
            s = scripts.get(w.job_id)
            if s is None or not s.scheduler:
                out[w.job_id] = "env"
            continue
        if not w.host:
            continue  # a name alone is never enough
        fits = [j for j in jobs
                if (w.name in _names_of(j, scripts.get(j.job_id)) or job_id_from_worker_name(w.name) == j.job_id)
                and any(same_host(w.host, n) for n in _nodes(j.node))
                and _ran_at(j, w.first_seen)]
        scripted = [j for j in fits if (s := scripts.get(j.job_id)) is not None and s.scheduler]
        if any(names_scheduler(scripts[j.job_id].scheduler, cluster) for j in scripted):  # type: ignore[union-attr]
            continue  # that worker is this cluster's scripted job's
        bare = [j for j in fits if j not in scripted]
        if len(bare) == 1:
            out.setdefault(bare[0].job_id, "worker")
    return out


def attribute(
    jobs: Sequence[Job], cluster: str | Sequence[str] | None, scripts: dict[str, ScriptInfo | None],
    known: dict[str, str] | None = None,
) -> dict[str, str]:
    """Job id -> evidence for the jobs of the cluster whose scheduler is ``cluster``.

    ``scripts``: the parsed batch scripts known so far (missing or ``None``: not read);
    ``known``: evidence gathered earlier (``worker_evidence``), kept unless a script contradicts it.
    """
    out: dict[str, str] = {}
    for j in jobs:
        s = scripts.get(j.job_id)
        if s is not None and s.scheduler:
            if names_scheduler(s.scheduler, cluster):
                out[j.job_id] = "batch_script"
            continue  # the script names another scheduler: foreign, whatever else was seen
        if known and j.job_id in known:
            out[j.job_id] = known[j.job_id]
    return out


def split_by_cluster(jobs: Iterable[Job], evidence: dict[str, str]) -> tuple[list[Job], list[Job]]:
    """(this cluster's jobs, with ``cluster_evidence`` set; the others, with it cleared)."""
    mine: list[Job] = []
    other: list[Job] = []
    for j in jobs:
        ev = evidence.get(j.job_id)
        j.cluster_evidence = ev
        (mine if ev else other).append(j)
    return mine, other


@dataclass(slots=True)
class RunScope:
    """A past run's identity for ``select_run_jobs``: its scheduler(s), worker names and time window."""

    start: float
    end: float
    schedulers: list[str] = field(default_factory=list)
    worker_names: set[str] = field(default_factory=set)


def select_run_jobs(
    jobs: Sequence[Job], scope: RunScope, scripts: dict[str, ScriptInfo | None],
) -> tuple[list[Job], list[Job]]:
    """A past run's jobs: script names its scheduler, or (no script) its worker names match the run's
    workers; and the job started inside the run's window (nothing that started after the run ended)."""
    mine: list[Job] = []
    other: list[Job] = []
    for j in jobs:
        started = j.start_time if j.start_time is not None else j.submit_time
        in_window = started is None or (scope.start - TIME_SLACK_S <= started <= scope.end + TIME_SLACK_S)
        ev = None
        s = scripts.get(j.job_id)
        if in_window:
            if s is not None and s.scheduler and scope.schedulers:
                if names_scheduler(s.scheduler, scope.schedulers):
                    ev = "batch_script"
            elif scope.worker_names and _names_of(j, s) & scope.worker_names:
                ev = "worker"
        j.cluster_evidence = ev
        (mine if ev else other).append(j)
    return mine, other


# -- past runs -------------------------------------------------------------------------
_ADDR_KEYS = ("scheduler_address", "scheduler", "address")


def run_scope(state: Any) -> RunScope:
    """A ``RunState``'s window (first..last event), scheduler address(es) and worker names."""
    start = state.first_event_ts
    end = state.last_event_ts if state.last_event_ts is not None else start
    schedulers: list[str] = []
    target = getattr(state.meta, "target_name", None) or ""
    if "://" in target:
        schedulers.append(target)  # a recording: the address it was recorded from
    names: set[str] = set()
    for ev in state.worker_events:
        details = ev.details or {}
        for k in _ADDR_KEYS:
            v = details.get(k)
            if isinstance(v, str) and "://" in v and v not in schedulers:
                if k != "address" or ev.state in ("cluster_created", "scheduler_started"):
                    schedulers.append(v)
        if ev.worker_id:
            names.add(str(ev.worker_id))
    return RunScope(start=float(start or 0.0), end=float(end or 0.0), schedulers=schedulers, worker_names=names)


def run_findings_input(state: Any, source: Any, *, max_scripts: int = 64) -> tuple[Any, str | None]:
    """The run's jobs from ``source.history`` over the run's own window, attributed to the run.

    Returns the ``JobsSnapshot`` (``jobs``: the run's; ``other_jobs``: the rest of the window) and
    a note when jobs were left out.
    """
    scope = run_scope(state)
    snap = source.history(scope.start - 60.0, scope.end)
    if snap.status != "ok":
        return snap, None
    every = [*snap.jobs, *snap.other_jobs]
    scripts: dict[str, ScriptInfo | None] = {}
    get = getattr(source, "script_info", None)
    if get is not None:
        for j in every[:max_scripts]:
            scripts[j.job_id] = get(j.job_id)
    snap.jobs, snap.other_jobs = select_run_jobs(every, scope, scripts)
    snap.cluster = scope.schedulers[0] if scope.schedulers else f"run {getattr(state.meta, 'run_id', '?')}"
    note = None
    if snap.other_jobs:
        n = len(snap.other_jobs)
        note = (f"Slurm: {len(snap.jobs)} job(s) of this run joined; {n} other job{'s' if n != 1 else ''} "
                f"of the user in the run's window left out (no evidence they ran this run's workers)")
    return snap, note

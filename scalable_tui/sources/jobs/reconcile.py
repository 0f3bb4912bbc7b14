"""Which Dask worker runs in which batch job: by name, by ``SLURM_JOB_ID``, by host as a last resort.

Also what does not line up: jobs whose worker never connected, workers whose
job is gone.  Used by every ``JobSource.map_workers`` and by replay.
"""

from __future__ import annotations

import re
import socket
import time
from typing import Iterable

from scalable_tui.model.jobs import JobsSnapshot, WorkerJobMap, WorkerSeen, job_id_from_worker_name

__all__ = ["reconcile_workers"]


_host_cache: dict[str, set[str]] = {}


def _host_keys(host: str) -> set[str]:
    """Names and addresses a host is known by (cached; resolution failures are fine)."""
    h = host.strip().lower()
    if h.startswith(("tcp://", "tls://", "ucx://", "inproc://")):
        h = h.split("://", 1)[1]
    h = h.rsplit(":", 1)[0] if h.count(":") == 1 else h
    keys = _host_cache.get(h)
    if keys is not None:
        return keys
    keys = {h, h.split(".", 1)[0]}
    try:
        old = socket.getdefaulttimeout()
        socket.setdefaulttimeout(1.0)
        try:
            keys.add(socket.gethostbyname(h))
        finally:
            socket.setdefaulttimeout(old)
    except (OSError, UnicodeError):
        pass
    _host_cache[h] = keys
    return keys


def _expand_nodelist(nodes: str) -> list[str]:
    """``node[01-03,07],gpu5`` -> ``['node01', 'node02', 'node03', 'node07', 'gpu5']`` (simple forms)."""
    out: list[str] = []
    for m in re.finditer(r"([^,\[]+)(?:\[([^\]]*)\])?", nodes):
        prefix, ranges = m.group(1), m.group(2)
        if not ranges:
            out.append(prefix)
            continue
        for part in ranges.split(","):
            a, _, b = part.partition("-")
            if b and a.isdigit() and b.isdigit():
                out.extend(f"{prefix}{i:0{len(a)}d}" for i in range(int(a), int(b) + 1))
            else:
                out.append(prefix + a)
    return out


def reconcile_workers(
    snapshot: JobsSnapshot,
    workers: Iterable[WorkerSeen | str],
    *,
    grace_s: float = 60.0,
    now: float | None = None,
    ever_seen: set[str] | None = None,
) -> WorkerJobMap:
    """Map the connected Dask workers to jobs; list jobs without a worker and workers without a job.

    ``workers`` are the workers the scheduler lists now (names; hosts help the
    fallback; ``job_id`` from ``SLURM_JOB_ID`` wins when given).  A job whose
    worker never connected is an active job, running longer than ``grace_s``,
    none of whose worker names is in ``workers`` or ``ever_seen``.
    """
    now = time.time() if now is None else now
    seen = [w if isinstance(w, WorkerSeen) else WorkerSeen(name=w) for w in workers]
    names_now = {w.name for w in seen}
    ever = set(ever_seen or ()) | names_now
    jobs = snapshot.by_id()
    by_name: dict[str, str] = {}
    for j in snapshot.jobs:
        for n in j.worker_names:
            by_name.setdefault(n, j.job_id)
    out = WorkerJobMap()
    for w in seen:
        jid, how = None, None
        if w.job_id and w.job_id in jobs:
            jid, how = w.job_id, "env"
        elif w.name in by_name:
            jid, how = by_name[w.name], jobs[by_name[w.name]].mapped_by or "name"
        else:
            old = job_id_from_worker_name(w.name)
            if old and old in jobs:
                jid, how = old, "name"
        if jid is None and w.host:
            keys = _host_keys(w.host)
            cands = [
                j.job_id for j in snapshot.jobs
                if j.is_active and not j.gone and j.node
                and any(keys & _host_keys(n) for n in _expand_nodelist(j.node))
            ]
            if len(cands) == 1:
                jid, how = cands[0], "host"
        if jid is None:
            if w.job_id:  # SLURM_JOB_ID of a job this source does not list (other user/filter, or purged)
                out.workers_without_job.append(w.name)
                continue
            out.unmapped_workers.append(w.name)
            continue
        out.worker_to_job[w.name] = jid
        out.how[w.name] = how or "name"
        job = jobs[jid]
        if job.is_final or job.gone:
            out.workers_without_job.append(w.name)
    mapped_jobs = set(out.worker_to_job.values())
    for j in snapshot.jobs:
        if not j.is_active or j.gone or j.job_id in mapped_jobs:
            continue
        started = j.start_time
        if started is None or now - started < grace_s:
            continue
        if j.worker_names and any(n in ever for n in j.worker_names):
            continue
        if not j.worker_names:
            continue  # not known to run a Dask worker (no batch script with --name, no log line)
        out.jobs_without_worker.append(j.job_id)
    return out

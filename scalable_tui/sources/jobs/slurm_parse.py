"""Parsers for Slurm command output (squeue, sacct, scontrol, batch scripts).

Pure functions on text, so they are tested on recorded output from real
Slurm versions.  Every parser skips what it cannot read and counts it: a
garbage line never raises.

A little over ~400 lines: the squeue/sacct/scontrol parsers share the field
tables, state names and duration/time readers at the top; split by command
they would import each other's helpers.
"""

from __future__ import annotations

import json
import math
import re
import shlex
from datetime import datetime
from typing import Any, Iterable

from scalable_tui.model.jobs import Job

# -- fixed output formats -----------------------------------------------------
#: squeue ``-o`` fields, in order.  The job name is LAST so that a separator
#: inside a name cannot shift the other columns (split with maxsplit).
SQUEUE_FIELDS = (
    ("job_id", "%i"),
    ("state", "%T"),
    ("reason", "%r"),
    ("node", "%N"),
    ("elapsed", "%M"),
    ("time_limit", "%l"),
    ("time_left", "%L"),
    ("req_mem", "%m"),
    ("req_cpus", "%C"),
    ("nodes", "%D"),
    ("partition", "%P"),
    ("submit", "%V"),
    ("start", "%S"),
    ("end", "%e"),
    ("user", "%u"),
    ("name", "%j"),
)
SEP = "|"
SQUEUE_FORMAT = SEP.join(code for _, code in SQUEUE_FIELDS)

#: sacct ``-o`` fields (``-P``: ``|``-separated, no padding); JobName last for the same reason.
SACCT_FIELDS = (
    "JobID", "State", "ExitCode", "Reason", "NodeList", "Elapsed", "Timelimit", "ReqMem", "ReqCPUS",
    "Partition", "Submit", "Start", "End", "MaxRSS", "TotalCPU", "User", "JobName",
)
#: The fields before TotalCPU was asked for (the outputs captured in tests/slurm/data use them).
SACCT_FIELDS_V1 = tuple(f for f in SACCT_FIELDS if f != "TotalCPU")
SACCT_FORMAT = ",".join(SACCT_FIELDS)

_NONE_WORDS = frozenset({"", "N/A", "NONE", "NONE ASSIGNED", "UNKNOWN", "(NULL)", "NOT_SET", "INVALID"})
_UNLIMITED = frozenset({"UNLIMITED", "INFINITE", "PARTITION_LIMIT"})
_JOB_ID = re.compile(r"^\d+(?:_(?:\d+|\[[^\]]*\]))?(?:\+\d+)?$")
#: ``RUNNING``, ``CANCELLED by 0``, ``CANCELLED+`` (sacct, truncated), ``PD`` (compact codes).
_STATE = re.compile(r"[A-Za-z_]+\+?(?: by -?\d+)?")
_DURATION = re.compile(r"^(?:\d+-)?\d+(?::\d+){0,2}(?:\.\d+)?$")


def parse_duration(text: str | None) -> float | None:
    """Slurm's time formats to seconds.

    ``1-02:03:04`` (d-h:m:s), ``02:03:04`` (h:m:s), ``3:04`` (m:s), ``1-02``
    (d-h), ``1-02:03`` (d-h:m), ``5`` (minutes, Slurm's input convention),
    ``00:00.123`` (sacct m:s.ms).  ``UNLIMITED``/``INFINITE`` -> ``math.inf``;
    ``INVALID``, ``N/A``, ``NOT_SET``, empty or garbage -> ``None``.
    """
    if text is None:
        return None
    s = text.strip()
    up = s.upper()
    if up in _UNLIMITED:
        return math.inf
    if up in _NONE_WORDS:
        return None
    if not _DURATION.match(s):
        return None
    days, _, rest = s.rpartition("-")
    parts = rest.split(":")
    try:
        d = int(days) if days else 0
        nums = [int(x) for x in parts[:-1]] + [float(parts[-1])]
    except ValueError:
        return None
    if days:  # d-h, d-h:m, d-h:m:s
        h, mi, sec = (nums + [0, 0])[:3]
    elif len(nums) == 3:
        h, mi, sec = nums
    elif len(nums) == 2:
        h, (mi, sec) = 0, nums
    else:
        h, mi, sec = 0, nums[0], 0.0  # bare number = minutes
    return float(((d * 24 + h) * 60 + mi) * 60) + sec


def parse_time(text: str | None) -> float | None:
    """``2026-11-25T11:56:44`` (controller local time) -> epoch seconds; N/A, NONE, Unknown -> None."""
    if text is None:
        return None
    s = text.strip()
    if s.upper() in _NONE_WORDS or not s[:1].isdigit():
        return None
    try:
        return datetime.fromisoformat(s).timestamp()
    except ValueError:
        return None


_MEM = re.compile(r"^(\d+(?:\.\d+)?)([KMGTP]?)(?:i?B)?([nc]?)$", re.I)
_MEM_SCALE = {"": 1.0, "K": 1 / 1024, "M": 1.0, "G": 1024.0, "T": 1024.0**2, "P": 1024.0**3}


def parse_mem_mb(text: str | None, cpus: int | None = None, nodes: int | None = None) -> float | None:
    """Slurm memory text to MiB for the whole job.

    ``954M``, ``2G``, ``1000`` (MiB), older sacct ``1000Mn`` (per node) and
    ``4000Mc`` (per CPU: multiplied by ``cpus`` when known).
    """
    if not text:
        return None
    m = _MEM.match(text.strip())
    if not m:
        return None
    val = float(m.group(1)) * _MEM_SCALE[m.group(2).upper()]
    per = m.group(3).lower()
    if per == "c" and cpus:
        val *= cpus
    elif per == "n" and nodes:
        val *= nodes
    return val


def base_state(text: str | None) -> str:
    """``CANCELLED by 0`` -> ``CANCELLED``; ``CANCELLED+`` (truncated) -> ``CANCELLED``; ``R`` stays ``R``."""
    if not text:
        return "UNKNOWN"
    word = text.strip().split(" ", 1)[0].rstrip("+").upper()
    return word or "UNKNOWN"


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        return None


def _none(text: str | None) -> str | None:
    if text is None:
        return None
    s = text.strip()
    return None if s.upper() in _NONE_WORDS or s == "None" else s


def _split_rows(text: str, names: tuple[str, ...], sep: str) -> tuple[list[dict[str, str]], int]:
    """Separator-delimited lines -> (rows keyed by field name, lines with the wrong field count).

    The last field takes the rest of the line, so a separator inside it (a
    job name, a reason) does not shift the columns.
    """
    n = len(names)
    rows: list[dict[str, str]] = []
    bad = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = line.split(sep, n - 1)
        if len(parts) != n:
            bad += 1
            continue
        rows.append(dict(zip(names, parts)))
    return rows, bad


def parse_squeue(text: str, fields: Iterable[str] = tuple(f for f, _ in SQUEUE_FIELDS), sep: str = SEP) -> tuple[list[Job], int]:
    """``squeue -h -o SQUEUE_FORMAT`` output -> (jobs, lines skipped)."""
    jobs: list[Job] = []
    rows, bad = _split_rows(text, tuple(fields), sep)
    for row in rows:
        jid = row.get("job_id", "").strip()
        if not _JOB_ID.match(jid):
            bad += 1
            continue
        if not _STATE.fullmatch(row.get("state", "").strip()):
            bad += 1
            continue
        state = base_state(row.get("state"))
        cpus = _int(row.get("req_cpus"))
        nodes = _int(row.get("nodes"))
        limit = parse_duration(row.get("time_limit"))
        elapsed = parse_duration(row.get("elapsed"))
        job = Job(
            job_id=jid,
            name=row.get("name", ""),
            state=state,
            raw_state=row.get("state", "").strip(),
            reason=_none(row.get("reason")),
            node=_none(row.get("node")),
            elapsed_s=elapsed,
            time_limit_s=limit,
            req_mem=_none(row.get("req_mem")),
            req_cpus=cpus,
            nodes=nodes,
            partition=_none(row.get("partition")),
            submit_time=parse_time(row.get("submit")),
            start_time=parse_time(row.get("start")),
            end_time=parse_time(row.get("end")),
            user=_none(row.get("user")),
            source="squeue",
        )
        job.req_mem_mb = parse_mem_mb(job.req_mem, cpus, None)
        job.time_left_s = _time_left(job, row.get("time_left"))
        jobs.append(job)
    return jobs, bad


def _time_left(job: Job, text: str | None) -> float | None:
    if job.is_final:
        return None
    left = parse_duration(text)
    if left is None and (text or "").strip().upper() == "INVALID" and job.is_active:
        return 0.0  # running past its limit: Slurm is about to kill it
    return left


def parse_sacct(text: str, fields: Iterable[str] = SACCT_FIELDS, sep: str = "|") -> tuple[dict[str, Job], int]:
    """``sacct -n -P -o SACCT_FORMAT`` output -> ({job id: job}, lines skipped).

    Step rows (``12.batch``, ``12.extern``, ``12.0``) are folded into their
    job: the job row gives state and exit code, the steps the peak MaxRSS.
    """
    jobs: dict[str, Job] = {}
    rss: dict[str, float] = {}
    steps: dict[str, dict[str, str]] = {}
    rows, bad = _split_rows(text, tuple(fields), sep)
    for row in rows:
        full = row.get("JobID", "").strip()
        jid, _, step = full.partition(".")
        if not _JOB_ID.match(jid):
            bad += 1
            continue
        peak = parse_mem_mb(_none(row.get("MaxRSS")))
        if peak is not None:
            rss[jid] = max(rss.get(jid, 0.0), peak)
        if step:
            steps.setdefault(jid, {})[step] = base_state(row.get("State"))
            continue
        if not _STATE.fullmatch(row.get("State", "").strip()):
            bad += 1
            continue
        cpus = _int(row.get("ReqCPUS"))
        state = base_state(row.get("State"))
        job = Job(
            job_id=jid,
            name=row.get("JobName", ""),
            state=state,
            raw_state=row.get("State", "").strip(),
            reason=_none(row.get("Reason")),
            node=_none(row.get("NodeList")),
            elapsed_s=parse_duration(row.get("Elapsed")),
            time_limit_s=parse_duration(row.get("Timelimit")),
            req_mem=_none(row.get("ReqMem")),
            req_cpus=cpus,
            exit_code=_none(row.get("ExitCode")),
            partition=_none(row.get("Partition")),
            submit_time=parse_time(row.get("Submit")),
            start_time=parse_time(row.get("Start")),
            end_time=parse_time(row.get("End")),
            user=_none(row.get("User")),
            total_cpu_s=parse_duration(row.get("TotalCPU")),
            source="sacct",
        )
        job.req_mem_mb = parse_mem_mb(job.req_mem, cpus, None)
        jobs[jid] = job
    for jid, peak in rss.items():
        if jid in jobs:
            jobs[jid].max_rss_mb = peak
    for jid, st in steps.items():
        if jid in jobs:
            jobs[jid].step_states = st
    return jobs, bad


# From a run's start only (a key is the run up to "="): linear on a long word.
_KV = re.compile(r"(?<![\w/:])[/:]*(\w[\w/:]*+)=(\S*)")


def parse_scontrol_job(text: str) -> dict[str, str]:
    """``scontrol show job ID`` (one-line ``-o`` or multi-line) -> {key: value}.

    Values with spaces (rare: ``Command=``) are cut at the first space; the
    keys we read (JobState, Reason, ExitCode, RunTime, TimeLimit) have none.
    """
    out: dict[str, str] = {}
    for m in _KV.finditer(text):
        out.setdefault(m.group(1), m.group(2))
    return out


# -- batch scripts -> Dask worker names ---------------------------------------
_ENV_JOB_ID = re.compile(r"\$\{?(?:SLURM_JOB_ID|SLURM_JOBID|JOB_ID)\}?")


def worker_names_from_script(script: str, job_id: str | None = None) -> list[str]:
    """The Dask worker names a dask-jobqueue batch script starts.

    ``dask worker … --name SLURMCluster-3`` -> ``['SLURMCluster-3']``; with
    ``--nworkers 2`` (or the older ``--nprocs 2``) -> ``['SLURMCluster-3-0',
    'SLURMCluster-3-1']``; older releases' ``--name dask-worker--${JOB_ID}--``
    gets the job id filled in.  Scripts without a dask worker command -> [].
    """
    names: list[str] = []
    for raw in script.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "--name" not in line:
            continue
        if not re.search(r"dask[-_ ]worker|distributed\.cli\.dask_worker|dask_worker|dask-cuda-worker|dask_cuda", line):
            continue
        try:
            argv = shlex.split(line, comments=False, posix=True)
        except ValueError:
            argv = line.split()
        name = None
        nworkers = 1
        for i, a in enumerate(argv):
            val = None
            if a in ("--name", "--nworkers", "--nprocs") and i + 1 < len(argv):
                val = argv[i + 1]
            elif a.startswith(("--name=", "--nworkers=", "--nprocs=")):
                a, val = a.split("=", 1)
            if val is None:
                continue
            if a == "--name":
                name = val
            else:
                k = _int(val)
                if k is not None and k > 0:
                    nworkers = k
        if name is None:
            continue
        if job_id is not None:
            name = _ENV_JOB_ID.sub(job_id, name)
        if nworkers > 1:
            names.extend(f"{name}-{k}" for k in range(nworkers))
        else:
            names.append(name)
    return names


# -- squeue --json (only when the installed squeue has it) --------------------
def _json_number(v: Any) -> float | None:
    """v0.0.37 plain ints, v0.0.38+ ``{"set": …, "infinite": …, "number": …}``."""
    if isinstance(v, dict):
        if v.get("infinite"):
            return math.inf
        if v.get("set") is False:
            return None
        v = v.get("number")
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v)


def parse_squeue_json(text: str) -> tuple[list[Job], int]:
    """``squeue --json`` (openapi v0.0.37 … v0.0.40 shapes) -> (jobs, records skipped)."""
    try:
        data = json.loads(text)
    except (ValueError, TypeError):
        return [], 1
    if not isinstance(data, dict) or not isinstance(data.get("jobs"), list):
        return [], 1
    jobs: list[Job] = []
    bad = 0
    for rec in data["jobs"]:
        if not isinstance(rec, dict) or "job_id" not in rec:
            bad += 1
            continue
        st = rec.get("job_state")
        if isinstance(st, list):
            st = st[0] if st else None
        state = base_state(st if isinstance(st, str) else None)
        limit_min = _json_number(rec.get("time_limit"))
        limit = None if limit_min is None else (math.inf if limit_min == math.inf else limit_min * 60)
        start = _json_number(rec.get("start_time")) or None
        end = _json_number(rec.get("end_time")) or None
        submit = _json_number(rec.get("submit_time")) or None
        cpus = _json_number(rec.get("cpus"))
        nodes_n = _json_number(rec.get("node_count"))
        mem_node = _json_number(rec.get("memory_per_node"))
        mem_cpu = _json_number(rec.get("memory_per_cpu"))
        job = Job(
            job_id=str(rec["job_id"]),
            name=str(rec.get("name", "")),
            state=state,
            raw_state=str(st) if st is not None else None,
            reason=_none(str(rec.get("state_reason"))) if rec.get("state_reason") is not None else None,
            node=_none(str(rec.get("nodes", ""))) or None,
            time_limit_s=limit,
            req_cpus=int(cpus) if cpus not in (None, math.inf) else None,
            nodes=int(nodes_n) if nodes_n not in (None, math.inf) else None,
            partition=rec.get("partition") or None,
            submit_time=submit,
            start_time=start,
            end_time=end,
            user=rec.get("user_name") or None,
            source="json",
        )
        if mem_node and mem_node != math.inf:
            job.req_mem, job.req_mem_mb = f"{int(mem_node)}M", mem_node
        elif mem_cpu and mem_cpu != math.inf:
            job.req_mem = f"{int(mem_cpu)}Mc"
            job.req_mem_mb = mem_cpu * (job.req_cpus or 1)
        ec = rec.get("exit_code")
        if isinstance(ec, dict):  # v0.0.39+: {"status": [...], "return_code": {...}, "signal": {...}}
            rc = _json_number(ec.get("return_code"))
            sig = _json_number((ec.get("signal") or {}).get("id")) if isinstance(ec.get("signal"), dict) else None
            if rc is not None:
                job.exit_code = f"{int(rc)}:{int(sig or 0)}"
        elif isinstance(ec, int) and not isinstance(ec, bool):  # v0.0.37/38: a wait status
            job.exit_code = f"{(ec >> 8) & 0xFF}:{ec & 0x7F}"
        if job.start_time and job.is_active:
            import time as _time

            job.elapsed_s = max(0.0, _time.time() - job.start_time)
            if limit not in (None, math.inf):
                job.time_left_s = max(0.0, limit - job.elapsed_s)
        elif job.start_time and job.end_time and job.is_final:
            job.elapsed_s = max(0.0, job.end_time - job.start_time)
        elif job.is_pending:
            job.elapsed_s = 0.0
            job.time_left_s = limit
        jobs.append(job)
    return jobs, bad

"""Slurm job logs: what slurmstepd and the Dask worker wrote into a job's stdout/stderr.

dask-jobqueue writes ``<log_directory>/<job name>-<job id>.err`` and ``.out``
(``#SBATCH -e/-o …-%J.err``); plain ``sbatch`` writes ``slurm-<job id>.out``.
The lines that matter:

- ``slurmstepd: error: *** JOB 12 ON node CANCELLED AT 2026-… DUE TO TIME LIMIT ***``
- ``… DUE TO PREEMPTION ***``, ``… DUE TO NODE FAILURE …``, plain ``CANCELLED AT …`` (scancel)
- ``Detected 1 oom-kill event(s) in StepId=12.batch …`` (cgroup), ``Exceeded job memory limit``
- Dask: ``Worker name: SLURMCluster-0`` (maps the job to its worker even after the job is gone),
  ``Worker process 123 was killed by signal 9`` (a kill inside a still-running job: often the cgroup).

Only the head and the tail of each file are read (worker logs can be huge),
and files are re-read only when their size or mtime changed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from scalable_tui.model.jobs import JobLog, JobLogEvent

HEAD_BYTES = 64 * 1024
TAIL_BYTES = 256 * 1024

#: (kind, regex).  First match per line wins; kinds are the assistant's vocabulary.
LOG_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("walltime", re.compile(r"DUE TO TIME LIMIT|exceeded (?:its )?time ?limit", re.I)),
    ("preemption", re.compile(r"DUE TO PREEMPTION")),
    ("node_fail", re.compile(r"DUE TO NODE FAIL|\bNODE_FAIL\b|node failure", re.I)),
    ("oom", re.compile(
        r"oom-kill event|oom_kill event|Exceeded (?:job|step) memory limit|exceeded memory limit \(|"
        r"out-of-memory handler", re.I)),
    ("cancelled", re.compile(r"\*\*\* (?:JOB|STEP) \S+ ON \S+ CANCELLED AT \S+(?: DUE TO [^*]*?)? \*\*\*")),
    ("killed_signal_9", re.compile(r"Worker process \d+ was killed by signal 9")),
)
_JOB_IN_LINE = re.compile(r"\*\*\* (?:JOB|STEP) (\d+)|StepId=(\d+)|step (\d+)\.|[Jj]ob (\d+) exceeded")
_STEPD_TIME = re.compile(r"CANCELLED AT (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)")
_DASK_TIME = re.compile(r"^(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d)")
_WORKER_NAME = re.compile(r"Worker name:\s+(\S+)")
_FILE_JOB_ID = re.compile(r"(?:^slurm-|-)(\d+)(?:_\d+)?\.(?:err|out|log)$")


def job_id_from_filename(name: str) -> str | None:
    m = _FILE_JOB_ID.search(name)
    return m.group(1) if m else None


def _read_head_tail(path: Path) -> tuple[str, int]:
    """Text of the head and tail of a file, and the line number the tail starts at (0 = whole file)."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size <= HEAD_BYTES + TAIL_BYTES:
            return fh.read().decode("utf-8", "replace"), 0
        head = fh.read(HEAD_BYTES)
        fh.seek(size - TAIL_BYTES)
        tail = fh.read()
    head = head[: head.rfind(b"\n") + 1]
    tail = tail[tail.find(b"\n") + 1 :]
    return head.decode("utf-8", "replace") + "\n" + tail.decode("utf-8", "replace"), -1


def parse_log_text(text: str, path: str = "", job_id: str | None = None, into: JobLog | None = None) -> JobLog:
    """Scan one log's text for the lines in ``LOG_PATTERNS`` and the Dask worker names."""
    log = into if into is not None else JobLog(job_id=job_id)
    if path and path not in log.paths:
        log.paths.append(path)
    for no, line in enumerate(text.splitlines(), 1):
        if "Worker name:" in line:
            m = _WORKER_NAME.search(line)
            if m and m.group(1) not in log.worker_names:
                log.worker_names.append(m.group(1))
            continue
        for kind, rx in LOG_PATTERNS:
            if not rx.search(line):
                continue
            jm = _JOB_IN_LINE.search(line)
            jid = next((g for g in jm.groups() if g), None) if jm else None
            jid = jid or job_id
            if log.job_id is None and jid is not None:
                log.job_id = jid
            ts = _STEPD_TIME.search(line) or _DASK_TIME.search(line)
            log.events.append(
                JobLogEvent(kind=kind, line=line.strip()[:500], path=path, line_no=no, job_id=jid,
                            timestamp=ts.group(1) if ts else None)
            )
            break
    return log


class LogScanner:
    """Scans a log directory; caches each file by (size, mtime) so polling is cheap."""

    def __init__(self, log_dir: str | os.PathLike[str], max_files: int = 5000) -> None:
        self.log_dir = Path(log_dir)
        self.max_files = max_files
        self._cache: dict[str, tuple[tuple[int, int], JobLog]] = {}

    def scan(self, job_ids: set[str] | None = None) -> dict[str, JobLog]:
        """{job id: JobLog} for the files whose name carries a job id (only ``job_ids`` when given)."""
        out: dict[str, JobLog] = {}
        try:
            entries = sorted(os.scandir(self.log_dir), key=lambda e: e.name)
        except OSError:
            return out
        n = 0
        for entry in entries:
            if n >= self.max_files:
                break
            jid = job_id_from_filename(entry.name)
            if jid is None or (job_ids is not None and jid not in job_ids):
                continue
            try:
                st = entry.stat()
            except OSError:
                continue
            if not entry.is_file():
                continue
            n += 1
            key = (st.st_size, st.st_mtime_ns)
            hit = self._cache.get(entry.path)
            if hit is None or hit[0] != key:
                try:
                    text, _ = _read_head_tail(Path(entry.path))
                except OSError:
                    continue
                hit = (key, parse_log_text(text, entry.path, jid))
                self._cache[entry.path] = hit
            one = hit[1]
            merged = out.setdefault(jid, JobLog(job_id=jid))
            merged.paths.extend(p for p in one.paths if p not in merged.paths)
            merged.worker_names.extend(w for w in one.worker_names if w not in merged.worker_names)
            merged.events.extend(one.events)
        return out


def scan_log_dir(log_dir: str | os.PathLike[str], job_ids: set[str] | None = None) -> dict[str, JobLog]:
    """One-shot scan of a dask-jobqueue ``log_directory`` (or any dir of ``slurm-<id>.out`` files)."""
    return LogScanner(log_dir).scan(job_ids)

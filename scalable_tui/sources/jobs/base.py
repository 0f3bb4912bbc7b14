"""The batch-job source protocol and what every implementation shares.

``JobSource`` is what the sessions and screens talk to (``poll``,
``map_workers``, ``logs``); ``SlurmSource`` (``slurm.py``) is the one
implementation today, PBS/SGE/LSF would sit beside it.  Also here: running a
scheduler command with a timeout (``run_command``; never raises) and what a
failed command means ("slow" or "down").
"""

from __future__ import annotations

import abc
import os
import re
import subprocess
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from scalable_tui.model.jobs import Job, JobsSnapshot, WorkerJobMap, WorkerSeen, format_duration
from scalable_tui.sources.jobs.reconcile import reconcile_workers
from scalable_tui.model.jobs import JobLog

__all__ = ["CmdResult", "DEFAULT_POLL_INTERVAL_S", "JobSource", "Runner", "run_command", "time_left_text"]

DEFAULT_POLL_INTERVAL_S = 20.0


# -- running commands ----------------------------------------------------------
@dataclass(slots=True)
class CmdResult:
    argv: list[str]
    returncode: int | None
    stdout: str = ""
    stderr: str = ""
    duration_s: float = 0.0
    timed_out: bool = False
    #: The program is not installed / not on PATH.
    missing: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out and not self.missing

    def error_text(self) -> str:
        if self.missing:
            return f"{self.argv[0]} not found on PATH"
        if self.timed_out:
            return f"{self.argv[0]} gave no answer within {self.duration_s:.0f} s"
        text = (self.stderr or self.stdout).strip().splitlines()
        return text[-1][:300] if text else f"{self.argv[0]} exited with {self.returncode}"


Runner = Callable[[Sequence[str], float], CmdResult]

#: Environment variables that change what squeue/sacct print: dropped for our calls.
_ENV_DROP = re.compile(r"^(SQUEUE_|SACCT_|SLURM_TIME_FORMAT$|SLURM_CLUSTERS$|SINFO_)")


def _command_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not _ENV_DROP.match(k)}
    env["SLURM_TIME_FORMAT"] = "standard"
    env["LC_ALL"] = "C"
    return env


def run_command(argv: Sequence[str], timeout: float) -> CmdResult:
    """Run one scheduler command with a timeout; never raises for a missing, failing or hung command."""
    t0 = time.monotonic()
    try:
        proc = subprocess.run(
            list(argv), capture_output=True, text=True, errors="replace", timeout=timeout,
            env=_command_env(), stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        return CmdResult(list(argv), None, duration_s=time.monotonic() - t0, missing=True)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode("utf-8", "replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return CmdResult(list(argv), None, stdout=out, duration_s=time.monotonic() - t0, timed_out=True)
    except OSError as exc:
        return CmdResult(list(argv), None, stderr=str(exc), duration_s=time.monotonic() - t0)
    return CmdResult(list(argv), proc.returncode, proc.stdout, proc.stderr, time.monotonic() - t0)


_SLOW = re.compile(r"Socket timed out|timed out|Resource temporarily unavailable|Slurm backup controller in standby", re.I)


def _classify_failure(res: CmdResult) -> tuple[str, str]:
    if res.missing:
        return "down", res.error_text()
    if res.timed_out:
        return "slow", res.error_text() + " (slurmctld busy or unreachable)"
    err = res.error_text()
    if _SLOW.search(err):
        return "slow", err
    return "down", err


def _job_sort_key(j: Job) -> tuple[int, int, str]:
    order = 0 if j.is_active else 1 if j.is_pending else 2
    num = re.match(r"\d+", j.job_id)
    return (order, -int(num.group(0)) if num else 0, j.job_id)


# -- the interface -------------------------------------------------------------
class JobSource(abc.ABC):
    """A batch scheduler's view of the jobs behind the Dask workers.

    Implementations must never raise from ``poll``: a scheduler that is slow
    or down is ``JobsSnapshot.status``.  ``poll`` blocks (subprocesses), so a
    UI calls it from a worker thread.
    """

    scheduler: str = "?"

    @abc.abstractmethod
    def poll(self) -> JobsSnapshot:
        """One gentle look at the scheduler (one listing call for all jobs)."""

    def map_workers(
        self, snapshot: JobsSnapshot, workers: Iterable[WorkerSeen | str], *, grace_s: float = 60.0,
        now: float | None = None,
    ) -> WorkerJobMap:
        """Tie Dask workers to jobs and report what does not line up (default: names and hosts only)."""
        return reconcile_workers(snapshot, workers, grace_s=grace_s, now=now)

    def logs(self, job_ids: set[str] | None = None) -> dict[str, JobLog]:
        """What the job logs say ({} when the source has no log directory)."""
        return {}


def time_left_text(job: Job) -> str:
    """Walltime left for a status column (``00:12:34``, ``UNLIMITED``, ``-``)."""
    if job.time_left_s is None:
        return "-"
    return format_duration(job.time_left_s)

"""Advice in dask-jobqueue terms for the Slurm findings: pending reasons, walltime, lifetime, memory.

The numbers here (lifetime margins, the 1.5x walltime) are also what the
retry plan proposes, so both say the same thing.
"""

from __future__ import annotations

import math

from assistant.hpc_facts import JobFact
from scalable_tui.model.jobs import format_duration

__all__ = ["PENDING_ADVICE", "lifetime_advice"]

#: Pending reason -> (what it means, what to change).  Unknown reasons get a generic line.
PENDING_ADVICE: dict[str, tuple[str, str]] = {
    "Resources": ("the partition has no free CPUs/memory/nodes for this request right now",
                  "ask for less per job (`cores=`, `memory=`, or several smaller jobs instead of one big one), or use a "
                  "partition with idle nodes (`queue=`; `sinfo -s` shows them)"),
    "Priority": ("other jobs are ahead in the queue",
                 "wait, or make jobs easier to backfill: a shorter `walltime=` and smaller requests"),
    "PartitionTimeLimit": ("the requested walltime is above the partition's MaxTime",
                           "lower `walltime=` below the partition limit (`sinfo -o '%P %l'`) or pick another partition"),
    "PartitionNodeLimit": ("the request needs more nodes than the partition allows", "ask for fewer nodes per job"),
    "PartitionDown": ("the partition is down", "use another partition (`queue=`) or wait for the admins"),
    "PartitionInactive": ("the partition is inactive", "use another partition (`queue=`)"),
    "ReqNodeNotAvail": ("the nodes it needs are unavailable (down, drained or reserved; maintenance?)",
                        "use another partition, or drop node constraints (`--nodelist`, `--constraint`)"),
    "NodeDown": ("a node it needs is down", "use another partition or drop `--nodelist`"),
    "BadConstraints": ("no node satisfies the constraints", "fix `--constraint`/`--gres` in `job_extra_directives`"),
    "Dependency": ("it waits for another job", "check the `--dependency` in `job_extra_directives`"),
    "DependencyNeverSatisfied": ("its dependency can never be met", "cancel it and drop the `--dependency`"),
    "JobHeldUser": ("it is held by its owner", "`scontrol release <job id>`"),
    "JobHeldAdmin": ("it is held by an administrator", "ask the admins why"),
    "BeginTime": ("it has a future start time", "drop `--begin` from `job_extra_directives`"),
    "Reservation": ("it waits for its reservation", "check `--reservation`"),
    "InvalidAccount": ("the account is invalid", "fix `account=`"),
    "InvalidQOS": ("the QOS is invalid", "fix the `--qos` in `job_extra_directives`"),
    "Licenses": ("it waits for licenses", "request fewer licenses or wait"),
}
_QOS_LIMIT = ("QOS", "Assoc", "MaxJobs", "MaxCpu", "MaxNode", "MaxMem", "MaxSubmit", "Grp", "MaxTRES")


def _pending_advice(reason: str) -> tuple[str, str]:
    if reason in PENDING_ADVICE:
        return PENDING_ADVICE[reason]
    if reason.startswith(_QOS_LIMIT) or "Limit" in reason:
        return (f"a QOS or association limit holds it ({reason})",
                "run fewer workers at once (`cluster.scale(n)` / `adapt(maximum=n)`) or smaller jobs, or use a QOS "
                "with higher limits (`job_extra_directives=['--qos=…']`; `sacctmgr show qos` / "
                "`sacctmgr show assoc user=$USER` list the limits)")
    return (f"Slurm's reason is {reason}", "see `scontrol show job <id>` and the site's documentation for this reason")


# -- advice --------------------------------------------------------------------
def _dask_time(seconds: float) -> str:
    s = max(1, int(seconds))
    if s % 3600 == 0:
        return f"{s // 3600}h"
    if s % 60 == 0:
        return f"{s // 60}m"
    return f"{s}s"


def lifetime_advice(walltime_s: float) -> tuple[str, str]:
    """(``--lifetime``, ``--lifetime-stagger``) that retire a worker a few minutes before its walltime.

    lifetime + stagger stays below the walltime: 5 min margin and 2 min stagger for
    walltimes of 20 min or more, otherwise 75 % of it and a 5 % stagger.
    """
    if walltime_s >= 1200:
        return _dask_time((walltime_s - 300) // 60 * 60), "2m"
    return _dask_time(walltime_s * 0.75), _dask_time(max(1.0, walltime_s * 0.05))


def _margin(walltime_s: float) -> str:
    """How far below the walltime ``lifetime_advice`` retires workers, in words that fit its size."""
    if walltime_s >= 1200:
        return "about 5 minutes"
    life = walltime_s * 0.75
    gap = walltime_s - life
    return f"about {round(gap)} s" if gap < 90 else f"about {round(gap / 60)} minutes"


def _longer(walltime_s: float) -> str:
    return format_duration(math.ceil(walltime_s * 1.5 / 60) * 60)


def _mem_text(mb: float) -> str:
    return f"{mb / 1024:g}G" if mb >= 1024 and mb % 1024 == 0 else f"{int(math.ceil(mb))}M"


def _walls(facts: list[JobFact]) -> list[float]:
    return sorted({f.job.time_limit_s for f in facts if f.job.time_limit_s and math.isfinite(f.job.time_limit_s)})


def _suggest(kind: str, facts: list[JobFact], reason: str | None = None) -> str:
    ids = ", ".join(f.job.job_id for f in facts[:10]) + (" …" if len(facts) > 10 else "")
    if kind == "walltime":
        walls = _walls(facts)
        if walls:
            w = walls[0]
            life, stagger = lifetime_advice(w)
            return (
                f"Slurm killed job(s) {ids} at their walltime ({format_duration(w)}), so their workers vanished "
                f"with whatever they were running, and dask-jobqueue does not resubmit them. Request a longer "
                f"walltime (`walltime='{_longer(w)}'`), or let workers retire before the limit: "
                f"`worker_extra_args=['--lifetime', '{life}', '--lifetime-stagger', '{stagger}']` ({_margin(w)} "
                f"below the walltime) together with adaptive scaling (`cluster.adapt(minimum=…, maximum=…)`) so new "
                f"jobs replace the retired ones and their tasks move instead of failing."
            )
        return (
            f"Slurm killed job(s) {ids} at their walltime. Request a longer `walltime=`, or use "
            f"`worker_extra_args=['--lifetime', '<walltime minus 5 min>', '--lifetime-stagger', '2m']` with "
            f"`cluster.adapt(...)` so jobs are replaced before they are killed."
        )
    if kind in ("oom", "oom_suspected"):
        mems = sorted({f.job.req_mem_mb for f in facts if f.job.req_mem_mb})
        peak = max((f.job.max_rss_mb for f in facts if f.job.max_rss_mb), default=None)
        req = f" (job memory {_mem_text(mems[0])}" + (f", peak RSS {peak:.0f}M" if peak else "") + ")" if mems else ""
        nxt = f"e.g. `memory='{_mem_text(mems[0] * 2)}'`" if mems else "e.g. twice the current value"
        head = (f"The cgroup memory limit of job(s) {ids} was hit{req}: the kernel OOM killer killed the worker "
                f"process, which Dask sees as a worker dying (KilledWorker after repeated deaths).")
        if kind == "oom_suspected":
            head = (f"Worker processes inside job(s) {ids} were killed by signal 9 while the job kept running{req}: "
                    f"under Slurm that is usually the job's cgroup memory limit (Slurm reports the oom-kill event "
                    f"only when the job ends).")
        return (
            f"{head} Raise `memory=` ({nxt}), which raises `#SBATCH --mem` with it; or keep Dask's memory limit "
            f"below the cgroup's so the nanny restarts or spills before the kernel kills: request more for the job "
            f"than for Dask with `job_mem=` (e.g. `memory='1GB', job_mem='1300M'`) or lower "
            f"`distributed.worker.memory.target/spill/pause`. Fewer threads per worker also lowers the peak."
        )
    if kind == "preemption":
        return (
            f"Job(s) {ids} were preempted by higher-priority work: transient, a rerun is likely to work. Use "
            f"`job_extra_directives=['--requeue']` so Slurm requeues them, a non-preemptible partition/QOS for long "
            f"tasks, adaptive scaling so replacements are requested, and checkpoint long tasks so they resume."
        )
    if kind == "node_fail":
        return (
            f"The node under job(s) {ids} failed (NODE_FAIL): not caused by the tasks, rerun them. "
            f"`job_extra_directives=['--requeue']` lets Slurm restart such jobs; if the same node fails repeatedly, "
            f"exclude it (`--exclude=<node>`) and tell the admins."
        )
    if kind == "failed_start":
        codes = sorted({f.job.exit_code for f in facts if f.job.exit_code})
        return (
            f"Worker job(s) {ids} exited ({', '.join(codes) or 'non-zero'}) before a Dask worker connected: the job "
            f"script itself fails (python/env not found on the node, module load, wrong scheduler address or "
            f"firewall). Read the job's .err file in dask-jobqueue's `log_directory`, run `cluster.job_script()` by "
            f"hand on a compute node, and check `python=`, `job_script_prologue=` and `scheduler_options`."
        )
    if kind == "failed":
        return (
            f"Job(s) {ids} failed while their workers ran (non-zero exit). Read the job's .err file for the last "
            f"worker/nanny lines; a kill at the memory limit or a crashing native library are the usual causes."
        )
    # pending
    meaning, change = _pending_advice(reason or "?")
    return f"Job(s) {ids} have been PENDING ({reason}): {meaning}. To start sooner: {change}."

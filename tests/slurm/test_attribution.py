"""Which jobs are this cluster's: on evidence only (no Slurm here: recorded outputs in data/).

The queue below is what one user's squeue showed on a real single-node Slurm
with three dask-jobqueue clusters and plain ``sbatch`` jobs side by side:
every cluster names its jobs ``dask-worker`` and its first worker
``SLURMCluster-0``.  Only a job's batch script (the scheduler address of its
``dask worker`` line), or a worker of this scheduler, ties it to a cluster.
"""

from __future__ import annotations

import json
from pathlib import Path

from assistant.hpc import hpc_findings
from scalable_tui.session.slurm_join import slurm_join
from scalable_tui.model.jobs import Job, WorkerDeparture, WorkerSeen, departure_job
from scalable_tui.sources.rundir.reader import load_run
from scalable_tui.sources.jobs.slurm import SlurmSource
from scalable_tui.sources.jobs.attribution import (
    parse_script,
    same_scheduler,
    scheduler_from_script,
)

from .test_parsers import DATA, read, sacct_now
from .test_source import FakeSlurm

A, B, C = "tcp://127.0.0.1:40001", "tcp://127.0.0.1:40002", "tcp://127.0.0.1:40003"
F = "|localhost|{el}|1:00|{left}|954M|1|1|debug|2026-11-25T12:06:00|2026-11-25T12:06:02|{end}|root|dask-worker"
QUEUE = "\n".join([
    "30|TIMEOUT|TimeLimit" + F.format(el="1:24", left="INVALID", end="2026-11-25T12:07:26"),
    "31|RUNNING|None" + F.format(el="1:30", left="0:30", end="2026-11-25T12:07:02"),
    "40|OUT_OF_MEMORY|OutOfMemory" + F.format(el="0:10", left="0:50", end="2026-11-25T12:06:12"),
    "41|RUNNING|None" + F.format(el="1:30", left="0:30", end="2026-11-25T12:07:02"),
    "50|RUNNING|None" + F.format(el="1:30", left="0:30", end="2026-11-25T12:07:02"),
    # plain sbatch jobs of the same user (recorded): a walltime kill and an OOM that are nobody's cluster's
    "17|OUT_OF_MEMORY|OutOfMemory|localhost|0:00|UNLIMITED|UNLIMITED|100M|1|1|debug|2026-11-25T12:06:20|"
    "2026-11-25T12:06:24|2026-11-25T12:06:24|root|oomy",
    "16|TIMEOUT|TimeLimit|localhost|1:24|1:00|INVALID|1000M|1|1|debug|2026-11-25T12:06:20|2026-11-25T12:06:20|"
    "2026-11-25T12:07:44|root|tlim",
]) + "\n"
#: job id -> (scheduler, worker name)
DASK_JOBS = {"30": (A, "SLURMCluster-0"), "31": (A, "SLURMCluster-1"), "40": (B, "SLURMCluster-0"),
             "41": (B, "SLURMCluster-1"), "50": (C, "SLURMCluster-0")}


def script(address: str, name: str) -> str:
    """The recorded dask-jobqueue batch script, pointed at ``address`` with worker ``name``."""
    text = read("batch_script_dask_p1.txt")
    return text.replace("tcp://127.0.0.1:32771", address).replace("--name SLURMCluster-1 ", f"--name {name} ")


def fake_queue() -> FakeSlurm:
    fake = FakeSlurm()
    fake.squeue = [QUEUE]
    fake.sacct = CmdFail()
    for jid, (addr, name) in DASK_JOBS.items():
        fake.scripts[jid] = script(addr, name)
    fake.scripts["16"] = fake.scripts["17"] = read("batch_script_sbatch_wrap.txt")
    return fake


class CmdFail:
    """sacct without accounting (the job states come from squeue alone)."""

    def __new__(cls):  # noqa: D102 - a CmdResult, built lazily to keep the import list short
        from scalable_tui.sources.jobs.base import CmdResult

        return CmdResult(["sacct"], 1, "", "sacct: error: Slurm accounting storage is disabled\n")


def attached(cluster: str) -> tuple[SlurmSource, object]:
    src = SlurmSource(user="root", runner=fake_queue(), cluster=cluster)
    return src, src.poll()


def test_scheduler_address_is_read_from_the_batch_script() -> None:
    assert scheduler_from_script(read("batch_script_dask_p1.txt")) == "tcp://127.0.0.1:32771"
    assert scheduler_from_script(read("batch_script_dask_p2.txt")).startswith("tcp://127.0.0.1:")
    assert scheduler_from_script(read("batch_script_sbatch_wrap.txt")) is None  # not a Dask worker job
    info = parse_script(script("tls://10.0.0.5:8786", "SLURMCluster-7"))
    assert info.scheduler == "tls://10.0.0.5:8786" and info.names == ("SLURMCluster-7",)
    assert same_scheduler("tcp://localhost:40001", A) and not same_scheduler(A, B)
    assert not same_scheduler("tcp://127.0.0.1", A) and not same_scheduler(None, A)


def test_each_cluster_sees_only_its_own_jobs_and_findings() -> None:
    findings = {}
    for addr, own in ((A, {"30", "31"}), (B, {"40", "41"}), (C, {"50"})):
        src, snap = attached(addr)
        assert snap.status == "ok" and snap.cluster == addr
        assert {j.job_id for j in snap.jobs} == own
        assert {j.job_id for j in snap.other_jobs} == {"16", "17", "30", "31", "40", "41", "50"} - own
        assert {j.cluster_evidence for j in snap.jobs} == {"batch_script"}
        assert all(j.cluster_evidence is None for j in snap.other_jobs)
        assert all(j.scheduler_address == addr for j in snap.jobs)
        findings[addr] = hpc_findings(snap)
        # the recorder stores to_dict(): this cluster's jobs only, and how many others it left out
        doc = snap.to_dict()
        assert {j["job_id"] for j in doc["jobs"]} == own and doc["not_this_cluster"] == 7 - len(own)
    (wall,) = findings[A]
    assert wall.category == "walltime" and wall.title.endswith("job 30"), wall.title
    (oom,) = findings[B]
    assert oom.category == "oom" and oom.title.endswith("job 40"), oom.title
    assert findings[C] == []  # another cluster's failures and the plain sbatch jobs are not C's


def test_nothing_listening_means_no_jobs_and_no_findings() -> None:
    src, snap = attached("tcp://127.0.0.1:1")
    assert snap.jobs == [] and len(snap.other_jobs) == 7
    assert hpc_findings(snap) == []
    # even a snapshot that lists them all (a caller's mistake) gives no finding without evidence
    snap.jobs = snap.other_jobs
    assert hpc_findings(snap) == []


def test_a_death_is_mapped_by_cluster_name_and_time_never_by_name_alone() -> None:
    _, snap_a = attached(A)
    _, snap_b = attached(B)
    j30 = snap_a.job("30")
    # A's SLURMCluster-0 died when its job hit the walltime
    dep = WorkerDeparture("SLURMCluster-0", ts=j30.end_time + 2, expected=False)
    (wall,) = hpc_findings(snap_a, [dep])
    assert wall.workers == ["SLURMCluster-0"] and any("left (expected=False" in e.text for e in wall.evidence)
    # B's OOM finding names only B's own worker (from B's job script), never A's departure
    dep_b = WorkerDeparture("SLURMCluster-0", ts=snap_b.job("40").end_time + 1, expected=False)
    (oom,) = hpc_findings(snap_b, [dep_b])
    assert oom.workers == ["SLURMCluster-0"] and "40" in oom.title and "30" not in oom.title
    # a rescale reuses the name: the death goes to the job that ran at that time
    later = Job("32", "dask-worker", "RUNNING", node="localhost", start_time=j30.end_time + 60,
                worker_names=["SLURMCluster-0"])
    jobs = [j30, later]
    assert departure_job(jobs, "SLURMCluster-0", j30.end_time + 5) == "30"
    assert departure_job(jobs, "SLURMCluster-0", later.start_time + 600) == "32"
    assert departure_job(jobs, "SLURMCluster-9", j30.end_time) is None  # not this cluster's name
    assert departure_job(jobs, "SLURMCluster-0", None, job_id="32") == "32"  # SLURM_JOB_ID wins


def test_a_registered_worker_is_evidence_when_the_script_cannot_be_read() -> None:
    fake = fake_queue()
    del fake.scripts["31"]  # purged or unreadable: no script
    src = SlurmSource(user="root", runner=fake, cluster=A)
    snap = src.poll()
    assert {j.job_id for j in snap.jobs} == {"30"}
    j31 = next(j for j in snap.other_jobs if j.job_id == "31")
    j31.worker_names = ["SLURMCluster-1"]  # e.g. from its log
    # a name alone is not enough (B has an SLURMCluster-1 too)
    src.map_workers(snap, [WorkerSeen("SLURMCluster-1")])
    assert {j.job_id for j in snap.jobs} == {"30"}
    # name + host + registered while the job ran: evidence ("worker"), and it sticks across polls
    src.map_workers(snap, [WorkerSeen("SLURMCluster-1", host="127.0.0.1", first_seen=j31.start_time + 3)])
    assert {j.job_id: j.cluster_evidence for j in snap.jobs} == {"30": "batch_script", "31": "worker"}
    assert {j.job_id for j in src.poll().jobs} == {"30", "31"}
    # a worker's SLURM_JOB_ID is evidence; but never for a job whose script names another scheduler
    src.map_workers(snap, [WorkerSeen("x", job_id="40")])
    assert "40" not in {j.job_id for j in src.poll().jobs}


def _run(tmp_path: Path, scheduler: str | None, workers: list[str]) -> Path:
    run = tmp_path / "run-20261125T120600Z-hpc-0000beef"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"run_id": run.name, "provider_name": "slurm", "status": "completed",
                                              "started_at": "2026-11-25T12:06:00Z", "schema_version": 1}))
    events = [{"event_type": "worker", "state": "cluster_created", "provider": "slurm",
               "timestamp": "2026-11-25T12:06:00Z",
               "details": {"cluster_kwargs": {"walltime": "00:01:00"},
                           **({"scheduler_address": scheduler} if scheduler else {})}}]
    events += [{"event_type": "worker", "state": "worker_lost", "provider": "slurm", "worker_id": w,
                "timestamp": "2026-11-25T12:07:50Z", "details": {}} for w in workers]
    (run / "workers.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    return run


SACCT = sacct_now("\n".join([
    # the run's own walltime kill, another cluster's OOM, a plain sbatch TIMEOUT, and a job of the
    # run's scheduler that started after the run ended (12:07:50)
    "30|TIMEOUT|0:0|None|localhost|00:01:24|00:01:00|954M|1|debug|2026-11-25T12:06:00|2026-11-25T12:06:02|"
    "2026-11-25T12:07:26||root|dask-worker",
    "40|OUT_OF_MEMORY|0:125|None|localhost|00:00:10|00:01:00|954M|1|debug|2026-11-25T12:06:00|"
    "2026-11-25T12:06:02|2026-11-25T12:06:12||root|dask-worker",
    "16|TIMEOUT|0:0|None|localhost|00:01:24|00:01:00|1000M|1|debug|2026-11-25T12:06:20|2026-11-25T12:06:20|"
    "2026-11-25T12:07:44||root|tlim",
    "60|TIMEOUT|0:0|None|localhost|00:01:24|00:01:00|954M|1|debug|2026-11-25T12:20:00|2026-11-25T12:20:00|"
    "2026-11-25T12:21:24||root|dask-worker",
]) + "\n")  # written in the field list before TotalCPU


def test_past_run_joins_only_its_own_jobs_inside_its_own_window(tmp_path: Path) -> None:
    fake = fake_queue()
    fake.sacct = SACCT
    fake.scripts["60"] = script(A, "SLURMCluster-0")
    state = load_run(_run(tmp_path, A, ["SLURMCluster-0"]))
    joined = slurm_join(state, "auto", source=SlurmSource(user="root", runner=fake))
    (wall,) = joined.findings
    assert wall.category == "walltime" and wall.title.endswith("job 30"), [f.title for f in joined.findings]
    assert "3 other jobs" in (joined.note or ""), joined.note
    sacct = next(c for c in fake.calls if c[0] == "sacct" and "-S" in c)
    assert sacct[sacct.index("-E") + 1] == "2026-11-25T12:07:50"  # the run's end, not end + 600 s

    # a run that does not know its scheduler: its worker names (in the window) are the evidence
    other = tmp_path / "b"
    other.mkdir()
    fake2 = fake_queue()
    fake2.sacct = SACCT
    state2 = load_run(_run(other, None, ["SLURMCluster-0"]))
    titles = sorted(f.title for f in slurm_join(state2, "auto", source=SlurmSource(user="root", runner=fake2)).findings)
    assert not any("16" in t or "60" in t for t in titles), titles  # plain sbatch, and after the run


def test_recorded_three_cluster_queue_is_split_by_batch_script() -> None:
    """Real output (data/three_clusters, captured by test_real_slurm_clusters.py): three clusters whose jobs
    are all ``dask-worker`` running ``SLURMCluster-0``, and a plain sbatch job that ran out of memory."""
    data = DATA / "three_clusters"
    meta = json.loads((data / "clusters.json").read_text())
    plain = meta["plain_oom_job"]

    def fake() -> FakeSlurm:
        f = FakeSlurm()
        f.squeue = [(data / "squeue.txt").read_text()]
        f.sacct = CmdFail()
        f.scripts = {p.stem.rsplit("_", 1)[1]: p.read_text() for p in data.glob("batch_script_*.txt")}
        return f

    every = set()
    for key, addr in meta["schedulers"].items():
        snap = SlurmSource(user="root", runner=fake(), cluster=addr).poll()
        own = set(meta["jobs"][key])
        every |= own
        assert {j.job_id for j in snap.jobs} == own, key
        assert plain in {j.job_id for j in snap.other_jobs}
        assert all(j.worker_names == ["SLURMCluster-0"] for j in snap.jobs)
        titles = " / ".join(f.title for f in hpc_findings(snap))
        if key == "A":
            (f,) = hpc_findings(snap)
            assert f.category == "walltime" and f.title.endswith(f"job {meta['jobs']['A'][0]}")
        for other in every - own | {plain}:
            assert f"job {other}" not in titles and f"jobs {other}" not in titles, (key, titles)
    # the plain job's OUT_OF_MEMORY is in the queue, but nothing listening at :1 owns it
    snap = SlurmSource(user="root", runner=fake(), cluster="tcp://127.0.0.1:1").poll()
    assert snap.jobs == [] and hpc_findings(snap) == []
    assert next(j for j in snap.other_jobs if j.job_id == plain).state == "OUT_OF_MEMORY"

"""SlurmSource polling, status and worker mapping, with recorded output behind a fake runner."""

from __future__ import annotations

import contextlib

import subprocess
import sys
import time

import pytest

from scalable_tui.model.jobs import Job, JobsSnapshot, WorkerSeen
from scalable_tui.sources.jobs.slurm_parse import parse_squeue
from scalable_tui.sources.jobs.base import CmdResult, JobSource, _command_env, run_command, time_left_text
from scalable_tui.sources.jobs.reconcile import reconcile_workers
from scalable_tui.sources.jobs.slurm import SlurmSource, job_source

from .test_parsers import ids, read


class FakeSlurm:
    """Answers squeue/sacct/scontrol from recorded files; counts calls per command."""

    def __init__(self) -> None:
        self.squeue: list[CmdResult | str] = []
        self.sacct: CmdResult | str = ""
        self.scripts: dict[str, str] = {}
        self.scontrol_show: dict[str, str] = {}
        self.calls: list[list[str]] = []

    def __call__(self, argv, timeout):
        argv = list(argv)
        self.calls.append(argv)
        cmd = argv[0]
        if cmd == "squeue":
            if "--help" in argv:
                return CmdResult(argv, 0, "  --json   Produce JSON output\n")
            if "--version" in argv:
                return CmdResult(argv, 0, "slurm-wlm 22.05.8\n")
            out = self.squeue.pop(0) if len(self.squeue) > 1 else self.squeue[0]
            return out if isinstance(out, CmdResult) else CmdResult(argv, 0, out, duration_s=0.05)
        if cmd == "sacct":
            return self.sacct if isinstance(self.sacct, CmdResult) else CmdResult(argv, 0, self.sacct)
        if cmd == "scontrol" and argv[1] == "write":
            jid = argv[3]
            if jid in self.scripts:
                return CmdResult(argv, 0, self.scripts[jid])
            return CmdResult(argv, 1, "", "job script retrieval failed: Invalid job id specified\n")
        if cmd == "scontrol" and "show" in argv:
            jid = argv[-1]
            if jid in self.scontrol_show:
                return CmdResult(argv, 0, self.scontrol_show[jid])
            return CmdResult(argv, 1, "", "slurm_load_jobs error: Invalid job id specified\n")
        raise AssertionError(argv)

    def count(self, *prefix: str) -> int:
        return sum(1 for c in self.calls if c[: len(prefix)] == list(prefix))


@contextlib.contextmanager
def jobqueue_named_cluster(name: str = "SLURMCluster-1"):  # type: ignore[no-untyped-def]
    """A real LocalCluster (127.0.0.1) whose one worker is named as a dask-jobqueue worker of the recorded
    jobs (``dask_fake``): (cluster, client); the worker is up on entry."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=0, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, memory_limit="512MiB")
    cluster.worker_spec[name] = next(iter(cluster.new_worker_spec().values()))
    cluster.sync(cluster._correct_state)
    client = Client(cluster, set_as_default=False)
    try:
        client.wait_for_workers(1, timeout=30)
        yield cluster, client
    finally:
        client.close()
        cluster.close()


def dask_fake() -> tuple[FakeSlurm, dict[str, str]]:
    fake = FakeSlurm()
    fake.squeue = [read("squeue_22.05_dask_p1.txt")]
    workers = dict(line.split() for line in read("workers_dask_p1.txt").splitlines())
    script = read("batch_script_dask_p1.txt")
    (own,) = [n for n in workers if f"--name {n} " in script]
    for name, jid in workers.items():
        fake.scripts[jid] = script.replace(f"--name {own} ", f"--name {name} ")
    return fake, workers


def test_poll_maps_jobs_to_worker_names_from_batch_scripts() -> None:
    fake, workers = dask_fake()
    src = SlurmSource(user="root", name="dask-worker", runner=fake)
    snap = src.poll()
    assert snap.status == "ok" and snap.message is None and snap.parse_errors == 0
    assert {j.job_id: j.worker_names for j in snap.jobs} == {jid: [n] for n, jid in workers.items()}
    assert all(j.mapped_by == "batch_script" for j in snap.jobs)
    argv = fake.calls[0]
    assert argv[:7] == ["squeue", "-h", "-t", "all", "-u", "root", "--name=dask-worker"] and "-o" in argv
    src.poll()
    src.poll()
    assert fake.count("scontrol", "write") == 3  # once per job id, never per poll
    assert fake.count("squeue", "-h") == 3 and fake.count("sacct") == 0  # nothing ended
    assert fake.count("squeue", "--version") == 1 and snap.version == "22.05.8"
    assert snap.pending_summary() == "1 job PENDING: Resources"
    assert [j.state for j in snap.jobs] == ["RUNNING", "RUNNING", "PENDING"]  # active first


def test_map_workers_reports_what_does_not_line_up() -> None:
    fake, workers = dask_fake()
    src = SlurmSource(user="root", runner=fake)
    snap = src.poll()
    running = [j for j in snap.jobs if j.is_active]
    name_a = running[0].worker_names[0]
    later = running[0].start_time + 3600
    m = src.map_workers(snap, [WorkerSeen(name_a, host="127.0.0.1"), WorkerSeen("local-x", host="10.9.9.9")], now=later)
    assert m.worker_to_job == {name_a: running[0].job_id} and m.how[name_a] == "batch_script"
    assert m.jobs_without_worker == [running[1].job_id]  # running an hour, its worker never came
    assert m.unmapped_workers == ["local-x"] and m.workers_without_job == []
    # within the grace period it is not reported yet
    assert src.map_workers(snap, [name_a], now=running[1].start_time + 5).jobs_without_worker == []
    # a worker seen once and gone since is not "never connected" (the source remembers names)
    assert src.map_workers(snap, [running[1].worker_names[0]], now=later).jobs_without_worker == []
    assert src.map_workers(snap, [], now=later).jobs_without_worker == []
    # the pure function without that memory
    assert reconcile_workers(snap, [], now=later).jobs_without_worker == [j.job_id for j in running]


def test_workers_whose_job_is_gone() -> None:
    fake, workers = dask_fake()
    src = SlurmSource(user="root", runner=fake)
    src.poll()
    fake.squeue = [read("squeue_22.05_dask_p2.txt")]  # the p1 jobs are CANCELLED now
    fake.sacct = CmdResult(["sacct"], 1, "", "Slurm accounting storage is disabled\n")
    snap = src.poll()
    names = list(workers)
    m = src.map_workers(snap, names)
    assert sorted(m.workers_without_job) == sorted(names)
    assert snap.accounting is False


def test_env_job_id_host_and_old_names() -> None:
    jobs, _ = parse_squeue(read("synthetic_older_squeue.txt"))
    snap = JobsSnapshot(jobs=jobs)
    m = reconcile_workers(snap, [
        WorkerSeen("anything", job_id="4247"),
        WorkerSeen("dask-worker--4247---1"),
        WorkerSeen("byhost", host="node03"),
        WorkerSeen("amb", host="nowhere.example"),
        WorkerSeen("elsewhere", job_id="999"),
    ])
    assert m.worker_to_job == {"anything": "4247", "dask-worker--4247---1": "4247", "byhost": "4248_3"}
    assert m.how == {"anything": "env", "dask-worker--4247---1": "name", "byhost": "host"}
    assert m.unmapped_workers == ["amb"] and m.workers_without_job == ["elsewhere"]
    # node[01-02] expands: a worker on node02 belongs to job 4247
    assert reconcile_workers(snap, [WorkerSeen("w", host="node02")]).worker_to_job == {"w": "4247"}


def test_scalable_job_names_map_without_scripts() -> None:
    fake = FakeSlurm()
    fake.squeue = ["71|RUNNING|None|n1|0:10|1:00:00|59:50|4000M|4|1|p|2026-01-01T00:00:00|2026-01-01T00:00:01|2026-01-01T01:00:01|u|gcam-3-job\n"]
    snap = SlurmSource(user="u", runner=fake).poll()
    assert snap.jobs[0].worker_names == ["gcam-3"] and snap.jobs[0].mapped_by == "job_name"
    assert fake.count("scontrol", "write") == 0


def test_controller_down_is_a_status_and_keeps_jobs() -> None:
    fake, _ = dask_fake()
    clock = [1000.0]
    src = SlurmSource(user="root", runner=fake, clock=lambda: clock[0])
    ok = src.poll()
    clock[0] = 1030.0
    fake.squeue = [CmdResult(["squeue"], 1, "", read("squeue_controller_down.stderr"), duration_s=9.0)]
    down = src.poll()
    assert down.status == "down" and "Unable to contact slurm controller" in down.message
    assert [j.job_id for j in down.jobs] == [j.job_id for j in ok.jobs]
    assert down.last_ok == 1000.0 and down.polled_at == 1030.0
    fake.squeue = [CmdResult(["squeue"], None, duration_s=15.0, timed_out=True)]
    slow = src.poll()
    assert slow.status == "slow" and "no answer within 15 s" in slow.message and len(slow.jobs) == 3
    fake.squeue = [CmdResult(["squeue"], 0, read("squeue_22.05_dask_p1.txt"), duration_s=7.5)]
    busy = src.poll()
    assert busy.status == "slow" and "7.5 s" in busy.message
    fake.squeue = [CmdResult(["squeue"], 1, "", "slurm_load_jobs error: Socket timed out on send/recv operation\n")]
    assert src.poll().status == "slow"
    fake.squeue = [CmdResult(["squeue"], None, missing=True)]
    gone = src.poll()
    assert gone.status == "down" and gone.message == "squeue not found on PATH"


def test_garbage_lines_are_counted_in_the_snapshot() -> None:
    fake = FakeSlurm()
    fake.squeue = [read("garbage.txt") + read("squeue_22.05_past_limit.txt")]
    snap = SlurmSource(user="root", runner=fake, resolve_worker_names=False).poll()
    assert snap.status == "ok" and snap.parse_errors == 7 and "7 line(s)" in snap.message
    assert [j.job_id for j in snap.jobs] == ["3"] and time_left_text(snap.jobs[0]) == "00:00:00"


def test_sacct_gives_final_states_and_is_asked_once_per_job() -> None:
    i = ids()
    fake = FakeSlurm()
    fake.squeue = [read("squeue_22.05_sbatch_running.txt")]
    src = SlurmSource(user="root", runner=fake, resolve_worker_names=False)
    src.poll()
    # every job vanishes from squeue (MinJobAge passed); accounting knows how they ended
    fake.squeue = [""]
    fake.sacct = read("sacct_22.05_sbatch.txt")
    snap = src.poll()
    by = snap.by_id()
    assert snap.accounting is True
    assert by[i["timeout"]].state == "TIMEOUT" and by[i["timeout"]].gone and by[i["timeout"]].source == "sacct"
    assert by[i["timeout"]].time_left_s is None and by[i["timeout"]].max_rss_mb
    assert by[i["cancelled"]].state == "CANCELLED" and by[i["pending"]].state == "COMPLETED"
    assert by[i["failed"]].exit_code == "3:0"
    n = fake.count("sacct")
    src.poll()
    src.poll()
    # 13 and 14 were not in that sacct answer: asked a few more times, then never again
    assert fake.count("sacct") <= n + 2
    for _ in range(6):
        src.poll()
    m = fake.count("sacct")
    src.poll()
    assert fake.count("sacct") == m


def test_no_accounting_is_remembered_and_scontrol_fills_exit_codes() -> None:
    i = ids()
    fake = FakeSlurm()
    fake.squeue = [read("squeue_22.05_sbatch_final.txt")]
    fake.sacct = CmdResult(["sacct"], 1, "", read("sacct_disabled.stderr"))
    fake.scontrol_show = {i["timeout"]: read("scontrol_show_job_timeout.txt"),
                          i["failed"]: read("scontrol_show_job_failed.txt")}
    src = SlurmSource(user="root", runner=fake, resolve_worker_names=False)
    snap = src.poll()
    for _ in range(3):
        snap = src.poll()
    assert snap.accounting is False and fake.count("sacct") == 1
    by = snap.by_id()
    assert by[i["timeout"]].exit_code == "0:15" and by[i["failed"]].exit_code == "3:0"
    assert by[i["timeout"]].state == "TIMEOUT"
    assert fake.count("scontrol", "-o", "show") == len([j for j in snap.jobs if j.is_final])  # once each


def test_json_listing_when_asked_and_available() -> None:
    fake = FakeSlurm()
    fake.squeue = [read("squeue_22.05_all.json")]
    src = SlurmSource(user="root", name="tlim", use_json=True, runner=fake, resolve_worker_names=False)
    snap = src.poll()
    assert "--json" in fake.calls[-1] or any("--json" in c for c in fake.calls)
    # 22.05's --json ignores --name/-u: the source filters itself
    assert [j.name for j in snap.jobs] == ["tlim"] and snap.jobs[0].state == "TIMEOUT"


def test_noconvert_fallback_for_old_squeue() -> None:
    fake = FakeSlurm()
    fake.squeue = [CmdResult(["squeue"], 1, "", "squeue: unrecognized option '--noconvert'\n"),
                   read("squeue_22.05_past_limit.txt")]
    snap = SlurmSource(user="root", runner=fake, resolve_worker_names=False).poll()
    assert snap.status == "ok" and len(snap.jobs) == 1
    assert "--noconvert" in fake.calls[0] and "--noconvert" not in fake.calls[1]


def test_logs_name_workers_when_scripts_are_gone(tmp_path) -> None:
    fake = FakeSlurm()
    fake.squeue = [read("squeue_22.05_dask_p2.txt")]
    (tmp_path / "dask-worker-21.err").write_text(read("dask-worker-21.err"))
    snap = SlurmSource(user="root", runner=fake, log_dir=tmp_path).poll()
    j = snap.by_id()["21"]
    assert j.worker_names == ["SLURMCluster-1"] and j.mapped_by == "log"


def test_run_command_timeout_missing_and_env(monkeypatch) -> None:
    t0 = time.monotonic()
    r = run_command([sys.executable, "-c", "import time; time.sleep(5)"], 0.3)
    assert r.timed_out and not r.ok and time.monotonic() - t0 < 3
    assert "no answer" in r.error_text()
    m = run_command(["definitely-not-a-slurm-command-xyz"], 1)
    assert m.missing and m.error_text().endswith("not found on PATH")
    monkeypatch.setenv("SQUEUE_FORMAT", "%i")
    monkeypatch.setenv("SLURM_TIME_FORMAT", "relative")
    monkeypatch.setenv("SLURM_CONF", "/etc/slurm/slurm.conf")
    env = _command_env()
    assert "SQUEUE_FORMAT" not in env and env["SLURM_TIME_FORMAT"] == "standard" and env["SLURM_CONF"]
    ok = run_command([sys.executable, "-c", "print('hi')"], 10)
    assert ok.ok and ok.stdout == "hi\n"


def test_job_source_factory(monkeypatch) -> None:
    assert job_source(None) is None and job_source("none") is None
    monkeypatch.setattr("scalable_tui.sources.jobs.slurm.slurm_available", lambda: False)
    assert job_source("auto") is None
    assert isinstance(job_source("auto", force=True), SlurmSource)
    assert isinstance(job_source("slurm"), JobSource)
    with pytest.raises(ValueError):
        job_source("pbs")


def test_snapshot_helpers() -> None:
    jobs = [Job("1", "w", "PENDING", reason="Resources"), Job("2", "w", "PENDING", reason="Priority"),
            Job("3", "w", "PENDING", reason="Resources"), Job("4", "w", "RUNNING", worker_names=["a"])]
    snap = JobsSnapshot(jobs=jobs)
    assert snap.pending_summary() == "3 jobs PENDING: Resources (2), Priority (1)"
    assert snap.job_for_worker("a").job_id == "4" and snap.counts_by_state() == {"PENDING": 3, "RUNNING": 1}
    assert JobsSnapshot().pending_summary() is None
    d = JobsSnapshot(jobs=[Job("5", "w", "RUNNING", time_limit_s=float("inf"))]).to_dict()
    assert d["jobs"][0]["unlimited"] is True and d["jobs"][0]["time_limit_s"] is None


def test_assistant_hpc_stays_headless() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "import assistant.hpc, scalable_tui.sources.jobs.slurm, sys; "
         "print(','.join(sorted({m.split('.')[0] for m in sys.modules})))"],
        capture_output=True, text=True, check=True,
    ).stdout
    assert not {"textual", "distributed", "openai", "dask_jobqueue"} & set(out.strip().split(","))


def test_history_for_review_from_accounting(tmp_path) -> None:
    i = ids()
    fake = FakeSlurm()
    fake.sacct = read("sacct_22.05_sbatch.txt")
    (tmp_path / f"dask-worker-{i['timeout']}.err").write_text("Worker name: SLURMCluster-4\n")
    src = SlurmSource(user="root", runner=fake, log_dir=tmp_path)
    snap = src.history(1_000_000.0, 2_000_000.0)
    argv = fake.calls[-1]
    assert argv[:5] == ["sacct", "-n", "-P", "-u", "root"] and "-S" in argv and "-E" in argv
    assert snap.accounting is True and snap.status == "ok"
    by = snap.by_id()
    assert by[i["timeout"]].state == "TIMEOUT" and by[i["timeout"]].worker_names == ["SLURMCluster-4"]
    fake.sacct = CmdResult(["sacct"], 1, "", read("sacct_disabled.stderr"))
    off = src.history(1_000_000.0)
    assert off.accounting is False and off.jobs == [] and off.status == "ok" and "no accounting" in off.message

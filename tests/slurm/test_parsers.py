"""Fast tests of the Slurm parsers on recorded real output (tests/slurm/data/README.md)."""

from __future__ import annotations

import math
import os
import time
from datetime import datetime

import pytest

from scalable_tui.model.jobs import format_duration, job_id_from_worker_name
from scalable_tui.sources.jobs.slurm_logs import LogScanner, job_id_from_filename, parse_log_text, scan_log_dir
from scalable_tui.sources.jobs.slurm_parse import (
    SQUEUE_FORMAT,
    base_state,
    parse_duration,
    parse_mem_mb,
    parse_sacct,
    parse_scontrol_job,
    parse_squeue,
    parse_squeue_json,
    parse_time,
    worker_names_from_script,
)

from .conftest import DATA


def read(name: str) -> str:
    """A captured output; sacct ones are given in today's field list (see ``sacct_now``)."""
    text = (DATA / name).read_text(encoding="utf-8", errors="replace")
    return sacct_now(text) if name.startswith(("sacct_", "synthetic_older_sacct")) else text


def sacct_now(text: str) -> str:
    """sacct output captured with ``SACCT_FIELDS_V1`` in the layout of ``SACCT_FIELDS``: an empty TotalCPU
    inserted before User (JobName is last and may hold a ``|``, so split from the left)."""
    from scalable_tui.sources.jobs.slurm_parse import SACCT_FIELDS, SACCT_FIELDS_V1

    at = SACCT_FIELDS.index("TotalCPU")
    out = []
    for line in text.splitlines():
        parts = line.split("|", len(SACCT_FIELDS_V1) - 1)
        if len(parts) == len(SACCT_FIELDS_V1):
            parts.insert(at, "")
        out.append("|".join(parts))
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def ids() -> dict[str, str]:
    return dict(line.split() for line in read("sbatch_ids.txt").splitlines())


@pytest.mark.parametrize(
    "text,seconds",
    [
        ("1-02:03:04", 93784.0),
        ("02:03:04", 7384.0),
        ("3:04", 184.0),
        ("0:00", 0.0),
        ("5:00", 300.0),
        ("1:00", 60.0),
        ("1-02", 93600.0),
        ("1-02:03", 93780.0),
        ("365-00:00:00", 365 * 86400.0),
        ("5", 300.0),
        ("00:00.123", 0.123),
        ("UNLIMITED", math.inf),
        ("INFINITE", math.inf),
        ("Partition_Limit", math.inf),
        ("INVALID", None),
        ("N/A", None),
        ("NOT_SET", None),
        ("", None),
        (None, None),
        ("soon", None),
        ("1:2:3:4", None),
    ],
)
def test_parse_duration(text, seconds) -> None:
    got = parse_duration(text)
    assert got == pytest.approx(seconds) if seconds is not None else got is None


def test_format_duration_round_trips() -> None:
    for s in (0, 59, 60, 3599, 3600, 86399, 93784):
        assert parse_duration(format_duration(s)) == s
    assert format_duration(math.inf) == "UNLIMITED" and format_duration(None) == "?"


@pytest.mark.parametrize(
    "text,cpus,mb",
    [("954M", None, 954.0), ("2G", None, 2048.0), ("1000", None, 1000.0), ("4000Mc", 4, 16000.0),
     ("16Gn", 2, 16384.0), ("1328K", None, 1328 / 1024), ("476.84MiB", None, 476.84), ("lots", None, None),
     ("", None, None), (None, None, None)],
)
def test_parse_mem(text, cpus, mb) -> None:
    got = parse_mem_mb(text, cpus)
    assert got == pytest.approx(mb) if mb is not None else got is None


def test_states_and_times() -> None:
    assert base_state("CANCELLED by 0") == "CANCELLED"
    assert base_state("CANCELLED+") == "CANCELLED"
    assert base_state("") == "UNKNOWN"
    assert parse_time("2026-11-25T12:06:20") == datetime(2026, 11, 25, 12, 6, 20).timestamp()
    for none in ("N/A", "NONE", "Unknown", "None", "", None, "soon"):
        assert parse_time(none) is None


def test_squeue_running_sbatch_jobs() -> None:
    jobs, bad = parse_squeue(read("squeue_22.05_sbatch_running.txt"))
    assert bad == 0
    by = {j.job_id: j for j in jobs}
    i = ids()
    pend = by[i["pending"]]
    assert pend.name == "big wait|pipe"  # a separator inside the (last) name column
    assert (pend.state, pend.reason, pend.node, pend.start_time, pend.req_cpus) == ("PENDING", "Resources", None, None, 2)
    assert pend.is_pending and pend.time_left_s == math.inf
    tl = by[i["timeout"]]
    assert tl.state == "RUNNING" and tl.time_limit_s == 60 and tl.time_left_s == 47 and tl.elapsed_s == 13
    assert tl.walltime_warning() and tl.end_time is not None and tl.reason is None
    assert by[i["cancelled"]].time_limit_s == math.inf and by[i["cancelled"]].end_time is None  # NONE
    assert by[i["ok"]].time_limit_s == 365 * 86400  # this Slurm shows some unlimited jobs so
    assert by[i["oom"]].req_mem == "100M" and by[i["oom"]].req_mem_mb == 100
    assert by[i["oom"]].state == "OUT_OF_MEMORY" and by[i["oom"]].reason == "OutOfMemory"
    assert all(j.user == "root" and j.partition == "debug" for j in jobs)


def test_squeue_final_states() -> None:
    jobs, bad = parse_squeue(read("squeue_22.05_sbatch_final.txt"))
    by = {j.job_id: j for j in jobs}
    i = ids()
    assert bad == 0
    assert {by[i[k]].state for k in ("timeout", "oom", "failed", "cancelled", "ok")} == {
        "TIMEOUT", "OUT_OF_MEMORY", "FAILED", "CANCELLED", "COMPLETED"}
    t = by[i["timeout"]]
    assert t.reason == "TimeLimit" and t.elapsed_s == 84 and t.time_left_s is None  # INVALID, but over
    assert all(j.time_left_s is None for j in jobs if j.is_final)
    assert by[i["failed"]].reason == "NonZeroExitCode" and by[i["failed"]].is_failed
    assert not by[i["cancelled"]].is_failed and by[i["cancelled"]].is_final


def test_squeue_running_past_its_limit_has_zero_left() -> None:
    (job,), _ = parse_squeue(read("squeue_22.05_past_limit.txt"))
    assert job.state == "RUNNING" and job.time_left_s == 0.0 and job.elapsed_s == 63


def test_squeue_dask_jobs() -> None:
    jobs, bad = parse_squeue(read("squeue_22.05_dask_p1.txt"))
    assert bad == 0 and len(jobs) == 3
    assert {j.name for j in jobs} == {"dask-worker"}
    assert all(j.req_mem == "954M" and j.req_cpus == 1 and j.time_limit_s == 300 for j in jobs)
    assert sorted(j.state for j in jobs) == ["PENDING", "RUNNING", "RUNNING"]
    assert [j.reason for j in jobs if j.is_pending] == ["Resources"]


def test_squeue_older_and_odd_values() -> None:
    jobs, bad = parse_squeue(read("synthetic_older_squeue.txt"))
    assert bad == 0
    by = {j.job_id: j for j in jobs}
    assert by["4246"].reason == "QOSMaxJobsPerUserLimit" and by["4246"].req_mem_mb == 16000
    r = by["4247"]
    assert r.elapsed_s == 93784 and r.time_limit_s == 3 * 86400 and r.node == "node[01-02]" and r.nodes == 2
    arr = by["4248_3"]
    assert arr.time_limit_s is None and arr.end_time is None and arr.req_mem_mb == 1024 and arr.name == "array job"


def test_squeue_garbage_is_counted_not_raised() -> None:
    jobs, bad = parse_squeue(read("garbage.txt"))
    assert jobs == [] and bad == 7
    assert parse_squeue("") == ([], 0)


def test_format_string_has_name_last() -> None:
    assert SQUEUE_FORMAT.endswith("%j") and SQUEUE_FORMAT.count("|") == 15


def test_sacct_real_output() -> None:
    jobs, bad = parse_sacct(read("sacct_22.05_sbatch.txt"))
    i = ids()
    assert bad == 0 and set(jobs) == set(i.values())
    t = jobs[i["timeout"]]
    assert (t.state, t.exit_code, t.time_limit_s, t.elapsed_s) == ("TIMEOUT", "0:0", 60, 84)
    assert t.max_rss_mb == pytest.approx(3104 / 1024)  # from the batch step
    assert jobs[i["oom"]].state == "OUT_OF_MEMORY" and jobs[i["oom"]].exit_code == "0:125"
    assert jobs[i["failed"]].exit_code == "3:0"
    c = jobs[i["cancelled"]]
    assert c.state == "CANCELLED" and c.raw_state == "CANCELLED by 0"
    assert jobs[i["pending"]].name == "big wait|pipe" and jobs[i["pending"]].req_mem_mb == 2000
    assert all(j.source == "sacct" for j in jobs.values())


def test_sacct_older_format() -> None:
    jobs, bad = parse_sacct(read("synthetic_older_sacct.txt"))
    assert bad == 0
    assert jobs["4242"].state == "CANCELLED" and jobs["4242"].req_mem_mb == 16000  # 4000Mc x 4 CPUs
    assert jobs["4242"].max_rss_mb == pytest.approx(2000000 / 1024)
    assert jobs["4243"].state == "NODE_FAIL" and jobs["4243"].req_mem_mb == 16384
    assert jobs["4244"].node is None and jobs["4244"].start_time is None
    assert jobs["4245"].time_limit_s == 2 * 86400
    assert parse_sacct(read("garbage.txt"))[0] == {}


def test_scontrol_show_job() -> None:
    kv = parse_scontrol_job(read("scontrol_show_job_timeout.txt"))
    assert kv["JobState"] == "TIMEOUT" and kv["ExitCode"] == "0:15" and kv["Reason"] == "TimeLimit"
    assert parse_scontrol_job(read("scontrol_show_job_oom.txt"))["JobState"] == "OUT_OF_MEMORY"


def test_worker_names_from_real_batch_scripts() -> None:
    p1 = read("batch_script_dask_p1.txt")
    (name,) = worker_names_from_script(p1)
    assert name in {line.split()[0] for line in read("workers_dask_p1.txt").splitlines()}
    assert worker_names_from_script(read("batch_script_dask_p2.txt")) == ["SLURMCluster-0-0", "SLURMCluster-0-1"]
    assert worker_names_from_script(read("batch_script_sbatch_wrap.txt")) == []


def test_worker_names_older_jobqueue_and_variants() -> None:
    old = "#!/bin/bash\n#SBATCH -J dask-worker\n/opt/py/bin/python -m distributed.cli.dask_worker tcp://10.0.0.1:8786 --nthreads 4 --nprocs 2 --memory-limit 8GB --name dask-worker--${JOB_ID}-- --death-timeout 60\n"
    assert worker_names_from_script(old, "77") == ["dask-worker--77---0", "dask-worker--77---1"]
    eq = "dask-worker tcp://h:1 --name=w7 --nworkers=1\n# --name commented\n"
    assert worker_names_from_script(eq) == ["w7"]
    assert worker_names_from_script("echo --name x\n") == []
    assert job_id_from_worker_name("dask-worker--1234---0") == "1234"
    assert job_id_from_worker_name("SLURMCluster-3") is None


def test_squeue_json_real_output() -> None:
    jobs, bad = parse_squeue_json(read("squeue_22.05_all.json"))
    assert bad == 0
    by = {j.job_id: j for j in jobs}
    text_jobs = {j.job_id: j for j in parse_squeue(read("squeue_22.05_sbatch_final.txt"))[0]}
    i = ids()
    for k in ("timeout", "oom", "failed", "cancelled", "ok"):
        assert by[i[k]].state == text_jobs[i[k]].state, k
    assert by[i["timeout"]].time_limit_s == 60 and by[i["timeout"]].exit_code == "0:15"
    assert by[i["failed"]].exit_code == "3:0"
    assert by[i["pending"]].name == "big wait|pipe"
    assert by[i["oom"]].req_mem_mb == 100
    assert parse_squeue_json("not json") == ([], 1)
    assert parse_squeue_json('{"jobs": [{"name": "no id"}, 3]}') == ([], 2)


def test_job_logs() -> None:
    i = ids()
    t = parse_log_text(read(f"slurm-{i['timeout']}.timeout.out"), "t.out", i["timeout"])
    (ev,) = t.events
    assert (ev.kind, ev.job_id, ev.timestamp, ev.line_no) == ("walltime", i["timeout"], ev.timestamp, 1)
    assert ev.timestamp and ev.timestamp.startswith("2026-11-25T")
    assert parse_log_text(read(f"slurm-{i['oom']}.oom.out")).kinds() == {"oom"}
    assert parse_log_text(read(f"slurm-{i['cancelled']}.cancelled.out")).kinds() == {"cancelled"}
    assert parse_log_text(read(f"slurm-{i['failed']}.failed.out")).events == []
    w = parse_log_text(read("dask-worker-21.err"))
    assert w.worker_names == ["SLURMCluster-1"] and w.kinds() == {"cancelled"} and w.job_id == "21"
    lines = [
        "slurmstepd: error: *** JOB 5 ON n1 CANCELLED AT 2026-01-01T00:00:00 DUE TO PREEMPTION ***",
        "slurmstepd: error: *** JOB 6 ON n1 CANCELLED AT 2026-01-01T00:00:00 DUE TO NODE FAILURE, SEE SLURMCTLD LOG FOR DETAILS ***",
        "slurmstepd: error: Exceeded job memory limit at some point.",
        "slurmstepd: error: Job 8 exceeded memory limit (1100000 > 1024000), being killed",
        "2026-11-25 12:00:00,000 - distributed.nanny - WARNING - Worker process 4242 was killed by signal 9",
    ]
    log = parse_log_text("\n".join(lines))
    assert [e.kind for e in log.events] == ["preemption", "node_fail", "oom", "oom", "killed_signal_9"]
    assert [e.job_id for e in log.events][:2] == ["5", "6"] and log.events[3].job_id == "8"
    assert log.events[4].timestamp == "2026-11-25 12:00:00"


def test_log_file_names() -> None:
    assert job_id_from_filename("dask-worker-123.err") == "123"
    assert job_id_from_filename("slurm-77.out") == "77"
    assert job_id_from_filename("slurm-77_3.out") == "77"
    assert job_id_from_filename("notes.txt") is None


def test_log_scanner_reads_changed_files_only(tmp_path) -> None:
    (tmp_path / "dask-worker-5.err").write_text("Worker name: A-0\n")
    (tmp_path / "dask-worker-6.err").write_text("hello\n")
    (tmp_path / "other.log").write_text("*** JOB 1 ON x CANCELLED AT 2026-01-01T00:00:00 DUE TO TIME LIMIT ***\n")
    sc = LogScanner(tmp_path)
    got = sc.scan()
    assert set(got) == {"5", "6"} and got["5"].worker_names == ["A-0"]
    assert set(sc.scan({"6"})) == {"6"}
    f = tmp_path / "dask-worker-5.err"
    with open(f, "a") as fh:
        fh.write("slurmstepd: error: *** JOB 5 ON n CANCELLED AT 2026-01-01T00:00:00 DUE TO TIME LIMIT ***\n")
    os.utime(f, (time.time() + 5, time.time() + 5))
    assert sc.scan()["5"].kinds() == {"walltime"}
    assert scan_log_dir(tmp_path / "missing") == {}


def test_big_log_reads_head_and_tail(tmp_path) -> None:
    f = tmp_path / "dask-worker-9.err"
    with open(f, "w") as fh:
        fh.write("2026-01-01 00:00:00,000 - distributed.worker - INFO - Worker name: big-0\n")
        for _ in range(20000):
            fh.write("2026-01-01 00:00:00,000 - distributed.worker - INFO - chatter chatter chatter\n")
        fh.write("slurmstepd: error: *** JOB 9 ON n CANCELLED AT 2026-01-01T00:00:00 DUE TO TIME LIMIT ***\n")
    got = scan_log_dir(tmp_path)["9"]
    assert got.worker_names == ["big-0"] and got.kinds() == {"walltime"}

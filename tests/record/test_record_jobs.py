"""Slurm jobs in recordings: the additive ``jobs`` table, ``RecordingWriter.write_jobs``, ``Recording.jobs_at``,
and the ``record`` loop polling a job source (FakeSlurm with recorded squeue output; no Slurm, no cluster)."""

from __future__ import annotations

import asyncio
import math
import sqlite3
from collections import deque
from pathlib import Path

from scalable_tui.cli import build_parser
from scalable_tui.model.jobs import Job, JobsSnapshot
from scalable_tui.model.live import LiveSnapshot
from scalable_tui.session.record import record
from scalable_tui.sources.recording.format import decode_jobs, encode_jobs
from scalable_tui.sources.recording.reader import Recording
from scalable_tui.sources.recording.writer import RecordingWriter
from scalable_tui.sources.jobs.slurm import SlurmSource
from tests.slurm.test_parsers import read
from tests.slurm.test_source import dask_fake

T0 = 1_800_000_000.0


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _frames(w: RecordingWriter, n: int = 10, step: float = 5.0) -> None:
    s = LiveSnapshot(address="tcp://127.0.0.1:8786", events=deque(maxlen=100), attached_at=T0)
    s.connected, s.link = True, "ok"
    for i in range(n):
        s.polls += 1
        s.last_poll_ok = T0 + i * step
        w.write(s.copy(), t=T0 + i * step)


def write_with_jobs(path: Path) -> RecordingWriter:
    """Frames every 5 s for 50 s; jobs polled at +1 s (p1), +21 s (p1 again, unchanged) and +41 s (p2)."""
    fake, _ = dask_fake()
    clock = Clock(T0 + 1)
    src = SlurmSource(user="root", name="dask-worker", runner=fake, clock=clock)
    w = RecordingWriter.create(path, address="tcp://127.0.0.1:8786", interval=5.0)
    _frames(w)
    assert w.write_jobs(src.poll()) is True
    clock.t = T0 + 21
    assert w.write_jobs(src.poll()) is False  # nothing changed but the poll time: not stored again
    clock.t = T0 + 41
    fake.squeue = [read("squeue_22.05_dask_p2.txt")]  # the p1 jobs are CANCELLED, a new one runs
    assert w.write_jobs(src.poll()) is True
    w.close("scheduler closed")
    return w


def _states(snap: JobsSnapshot) -> dict[str, str]:
    return {j.job_id: j.state for j in snap.jobs}


def test_jobs_at_gives_each_poll_at_its_time(tmp_path) -> None:
    path = tmp_path / "jobs.rec"
    w = write_with_jobs(path)
    assert w.jobs_stored == 2
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT count(*) FROM jobs").fetchone()[0] == 2
        assert [r[0] for r in con.execute("SELECT t FROM jobs ORDER BY id")] == [T0 + 1, T0 + 41]
    with Recording(path) as rec:
        assert rec.has_jobs and rec.jobs_times() == [T0 + 1, T0 + 41]
        assert rec.jobs_at(T0) is None  # before the first poll
        first = rec.jobs_at(T0 + 1)
        assert _states(first) == {"21": "RUNNING", "22": "RUNNING", "23": "PENDING"}
        assert first.polled_at == T0 + 1 and first.status == "ok" and first.pending_summary() == "1 job PENDING: Resources"
        assert all(j.worker_names for j in first.jobs)  # worker names from the batch scripts are kept
        assert _states(rec.jobs_at(T0 + 40.9)) == _states(first)  # the unchanged poll at +21 s: same jobs
        later = rec.jobs_at(T0 + 41)
        assert _states(later) == {"21": "CANCELLED", "22": "CANCELLED", "23": "CANCELLED", "24": "RUNNING"}
        assert _states(rec.jobs_at(T0 + 10_000)) == _states(later)
        assert rec.jobs_at(T0 + 41) is not rec.jobs_at(T0 + 41)  # fresh objects: callers may adjust them
        assert len(rec) == 10 and rec.state_at(T0 + 20).polls == 5  # frames unaffected


def test_jobs_round_trip_unlimited_and_unknown_keys() -> None:
    snap = JobsSnapshot(jobs=[Job("7", "dask-worker", "RUNNING", time_limit_s=math.inf, elapsed_s=12.0,
                                  worker_names=["w-7"], step_states={"batch": "RUNNING"})],
                        polled_at=T0, last_ok=T0, commands=["squeue -h"], version="22.05.8")
    doc = encode_jobs(snap)
    doc["future_field"] = 1
    doc["jobs"][0]["future_job_field"] = "x"
    back = decode_jobs(doc)
    assert back.jobs[0].time_limit_s == math.inf and back.jobs[0].worker_names == ["w-7"]
    assert back.jobs[0].step_states == {"batch": "RUNNING"} and back.commands == ["squeue -h"]
    assert back.version == "22.05.8" and back.polled_at == T0


def test_status_change_is_stored(tmp_path) -> None:
    w = RecordingWriter.create(tmp_path / "s.rec")
    jobs = [Job("1", "dask-worker", "RUNNING", elapsed_s=1.0)]
    assert w.write_jobs(JobsSnapshot(jobs=jobs, polled_at=T0), t=T0)
    assert not w.write_jobs(JobsSnapshot(jobs=[Job("1", "dask-worker", "RUNNING", elapsed_s=21.0)], polled_at=T0 + 20))
    assert w.write_jobs(JobsSnapshot(jobs=jobs, status="down", message="slurmctld down", polled_at=T0 + 40))
    w.close()
    with Recording(tmp_path / "s.rec") as rec:
        assert rec.jobs_times() == [T0, T0 + 40] and rec.jobs_at(T0 + 50).status == "down"


def test_old_recording_without_jobs_table(tmp_path) -> None:
    path = tmp_path / "old.rec"
    w = RecordingWriter.create(path, interval=5.0)
    _frames(w, 4)
    w.close("scheduler closed")
    with sqlite3.connect(path) as con:  # as written before the jobs table existed
        con.execute("DROP TABLE jobs")
    with Recording(path) as rec:
        assert len(rec) == 4 and not rec.has_jobs and rec.jobs_at(T0 + 100) is None and not rec.notices
        assert rec.state_at(T0 + 10).polls == 3
    # --append to it adds the table (additively) and stores jobs
    w = RecordingWriter.create(path, mode="append")
    assert w.write_jobs(JobsSnapshot(jobs=[Job("5", "dask-worker", "PENDING")], polled_at=T0 + 30))
    w.close("stopped")
    with Recording(path) as rec:
        assert rec.meta["format_version"] == 1 and len(rec) == 4
        assert _states(rec.jobs_at(T0 + 30)) == {"5": "PENDING"}


def test_record_loop_polls_the_job_source(tmp_path) -> None:
    """``record`` with a job source: it is polled in a thread even while the scheduler never answers."""
    fake, _ = dask_fake()
    src = SlurmSource(user="root", name="dask-worker", runner=fake)
    path = tmp_path / "loop.rec"
    res = asyncio.run(record("tcp://127.0.0.1:1", path, interval=0.2, give_up_after=1.0, handle_signals=False,
                             call_timeout=0.5, job_source=src, jobs_interval=0.2))
    assert res.exit_code == 2 and res.jobs == 1  # polled several times, stored once (nothing changed)
    assert fake.count("squeue", "-h") >= 2
    with Recording(path) as rec:
        assert _states(rec.jobs_at(rec.jobs_times()[0])) == {"21": "RUNNING", "22": "RUNNING", "23": "PENDING"}


def test_record_cli_slurm_options() -> None:
    args = build_parser().parse_args(["record", "-o", "x.rec", "--slurm", "force", "--slurm-name", "dw",
                                      "--slurm-interval", "30s"])
    assert (args.slurm, args.slurm_name, args.slurm_interval) == ("force", "dw", 30.0)
    args = build_parser().parse_args(["record", "-o", "x.rec"])
    assert (args.slurm, args.slurm_name, args.slurm_interval) == ("auto", None, 20.0)


def test_attach_record_stores_polled_jobs(tmp_path) -> None:
    """``attach --record``: each jobs poll the Jobs screen gets goes to the recorder too (its thread)."""
    from scalable_tui.session.monitor import MonitorSession

    fake, _ = dask_fake()
    src = SlurmSource(user="root", name="dask-worker", runner=fake)
    w = RecordingWriter.create(tmp_path / "attach.rec")
    session = MonitorSession(None, recorder=w, job_source=src)  # headless: attach's monitor without the app
    snap = src.poll()
    session.got_jobs(snap, None, True)
    session.got_jobs(snap, None, False)  # a re-map without a poll: not recorded again
    assert session.record_pool is not None
    session.record_pool.shutdown(wait=True)
    w.close("monitor closed")
    assert w.jobs_stored == 1
    with Recording(tmp_path / "attach.rec") as rec:
        assert _states(rec.jobs_at(snap.polled_at)) == _states(snap)


def test_stop_does_not_wait_for_a_hung_job_poll(tmp_path) -> None:
    """squeue hanging on an unreachable controller must not hold up the end of a recording."""
    import threading

    class Hung:
        def __init__(self) -> None:
            self.entered = threading.Event()
            self.release = threading.Event()
            self.returned = False

        def poll(self) -> JobsSnapshot:
            self.entered.set()
            self.release.wait(20)
            self.returned = True
            return JobsSnapshot(jobs=[], polled_at=T0)

    src = Hung()
    try:
        res = asyncio.run(record("tcp://127.0.0.1:1", tmp_path / "hung.rec", interval=0.2, give_up_after=0.5,
                                 handle_signals=False, call_timeout=0.3, job_source=src, jobs_interval=0.2))
        # record() (and asyncio.run's executor shutdown) returned while the poll was still blocked
        assert src.entered.is_set() and not src.returned
        assert res.exit_code == 2 and res.jobs == 0
    finally:
        src.release.set()


def test_a_failing_squeue_is_not_counted_as_recorded_jobs(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """squeue on PATH but no Slurm behind it (a login node's broken config, a laptop): the summary said
    "1 Slurm jobs snapshot(s) (only jobs of this cluster)" for a poll that had failed."""
    from scalable_tui.sources.jobs.base import CmdResult
    from tests.slurm.test_source import FakeSlurm

    fake = FakeSlurm()
    fake.squeue = [CmdResult(["squeue"], 1, "", "squeue: fatal: Could not establish a configuration source"
                                                "\x1b]52;c;cHduZWQ=\x07\x1b[2J " + "x" * 100_000 + "\n")]
    src = SlurmSource(user="root", name="dask-worker", runner=fake)
    res = asyncio.run(record("tcp://127.0.0.1:1", tmp_path / "r.rec", interval=0.2, give_up_after=1.0,
                             handle_signals=False, call_timeout=0.5, job_source=src, jobs_interval=0.2))
    assert fake.count("squeue", "-h") >= 1 and res.jobs == 0
    assert res.jobs_error is not None and "Could not establish a configuration source" in res.jobs_error
    line = res.line()
    assert "Slurm jobs snapshot" not in line and "no Slurm jobs recorded (" in line, line
    assert "\x1b" not in line and "\x07" not in line and len(line) < 1000, line  # literal, one line, bounded
    err = capsys.readouterr().err
    assert "\x1b" not in err
    assert err.count("note: Slurm jobs not recorded so far: ") == 1, err  # said once, not per poll
    # and a squeue that works later counts again
    ok, _ = dask_fake()
    ok.squeue = [fake.squeue[0], read("squeue_22.05_dask_p1.txt")]
    src = SlurmSource(user="root", name="dask-worker", runner=ok)
    res = asyncio.run(record("tcp://127.0.0.1:1", tmp_path / "r2.rec", interval=0.2, give_up_after=1.0,
                             handle_signals=False, call_timeout=0.5, job_source=src, jobs_interval=0.2))
    assert res.jobs == 1 and res.jobs_error is None and "1 Slurm jobs snapshot(s)" in res.line()

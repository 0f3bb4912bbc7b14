"""Issue 14 on a real Slurm: three dask-jobqueue clusters and a plain sbatch job of one user.

Cluster A's worker job hits its walltime, cluster B's worker is killed by the
job's cgroup OOM killer, cluster C has no failure, and a plain ``sbatch`` job
runs out of memory.  All three clusters use dask-jobqueue's defaults where it
matters: job name ``dask-worker``, worker ``SLURMCluster-0``, and one shared
log directory.  Each cluster's attach-side findings (the attach app's code
path: a ``SlurmSource`` for that scheduler, its attribution, and
the session pipeline inside ``build_live_snapshot``), its recording
(``record``) and ``diagnose`` of that recording must show its own failure
and nothing else; C none.

Set ``SCALABLE_TUI_FINDINGS_OUT=DIR`` to keep each cluster's Findings as text.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from scalable_tui.model.jobs import JobsSnapshot, WorkerSeen
from scalable_tui.sources.jobs.slurm import SlurmSource

from .conftest import cancel_jobs, wait_until
from .test_real_slurm import jobqueue_cluster, poll_until

pytestmark = pytest.mark.slow


class Recorders:
    """``scalable_tui.session.record.record`` for several schedulers at once, in one background event loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.stops: list[asyncio.Event] = []
        self.results: dict[str, object] = {}
        self.tasks: list[asyncio.Future] = []
        self.thread = threading.Thread(target=self.loop.run_forever, name="recorders", daemon=True)
        self.thread.start()

    def start(self, key: str, address: str, path: Path, source: SlurmSource) -> None:
        from scalable_tui.session.record import record

        async def go() -> None:
            stop = asyncio.Event()
            self.stops.append(stop)
            self.results[key] = await record(address, path, interval=1.0, stop=stop, handle_signals=False,
                                             job_source=source, jobs_interval=2.0, give_up_after=60)

        self.tasks.append(asyncio.run_coroutine_threadsafe(go(), self.loop))

    def stop(self) -> None:
        for ev in self.stops:
            self.loop.call_soon_threadsafe(ev.set)
        for t in self.tasks:
            t.result(timeout=60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


def recorded_jobs(path: Path) -> JobsSnapshot | None:
    from scalable_tui.sources.recording.reader import Recording

    with Recording(path) as rec:
        return rec.jobs_at(float("inf")) if rec.has_jobs else None


def slurm_findings(findings) -> list:
    return [f for f in findings if f.id.startswith("slurm:")]


def attach_side(address: str, logs: Path, recording: Path):
    """The attach app's path for this scheduler: its SlurmSource (poll + map_workers, as ``_poll_jobs``),
    then ``build_live_snapshot`` with those jobs (the session pipeline), over the scheduler's live state."""
    from scalable_tui.session.monitor import build_live_snapshot
    from scalable_tui.sources.recording.reader import Recording

    with Recording(recording) as rec:
        live = rec.state_at(rec.end)
    src = SlurmSource(cluster=address, log_dir=logs)
    snap = src.poll()
    src.add_cluster_address(live.scheduler_address)
    src.map_workers(snap, [WorkerSeen(w.name, host=w.host, address=w.address, first_seen=w.first_seen)
                           for w in live.alive_workers])
    run_snap = build_live_snapshot(live, 1, jobs=snap, log_dir=logs)
    return snap, run_snap.diagnosis


def diagnose_recording(path: Path, out: Path) -> tuple[dict, str]:
    """``scalable-tui diagnose RECORDING`` (json and text), in a subprocess like a user runs it."""
    env = {**os.environ}
    js = subprocess.run([sys.executable, "-m", "scalable_tui.cli", "diagnose", str(path), "--no-ai", "--format", "json"],
                        capture_output=True, text=True, timeout=120, env=env)
    assert js.returncode in (0, 1), js.stderr
    text = subprocess.run([sys.executable, "-m", "scalable_tui.cli", "diagnose", str(path), "--no-ai", "--color",
                           "never"], capture_output=True, text=True, timeout=120, env=env)
    out.write_text(text.stdout)
    return json.loads(js.stdout), text.stdout


def test_three_clusters_and_a_plain_oom_job_each_see_only_their_own_failures(slurm, tmp_path) -> None:
    logs = tmp_path / "logs"  # shared by all three clusters: their logs sit side by side
    mine: dict[str, set[str]] = {"A": set(), "B": set(), "C": set()}
    plain: set[str] = set()
    recorders = Recorders()
    stopped = False
    # the nanny must not terminate B's worker before the cgroup kills it (this test is about the cgroup)
    prologue = ["export DASK_DISTRIBUTED__WORKER__MEMORY__TERMINATE=False"]
    with contextlib.ExitStack() as stack:
        A = stack.enter_context(jobqueue_cluster(tmp_path, job_name="dask-worker", walltime="00:01:00",
                                                 log_directory=logs))
        B = stack.enter_context(jobqueue_cluster(tmp_path, job_name="dask-worker", job_script_prologue=prologue,
                                                 log_directory=logs))
        C = stack.enter_context(jobqueue_cluster(tmp_path, job_name="dask-worker", log_directory=logs))
        stack.callback(lambda: cancel_jobs(plain))
        clusters = {"A": A, "B": B, "C": C}
        addr = {k: c[0].scheduler_address for k, c in clusters.items()}
        assert len(set(addr.values())) == 3
        rec = {k: tmp_path / f"{k}.sqlite" for k in clusters}
        sources = {k: SlurmSource(cluster=addr[k], log_dir=logs) for k in clusters}
        try:
            for k in clusters:
                recorders.start(k, addr[k], rec[k], sources[k])
            A[0].scale(1)
            B[0].scale(1)
            A[1].wait_for_workers(1, timeout=90)
            B[1].wait_for_workers(1, timeout=90)
            for k in ("A", "B"):
                ids = {str(j.job_id) for j in clusters[k][0].workers.values()}
                mine[k] |= ids
                clusters[k][0].submitted_job_ids |= ids
            assert {w["name"] for w in A[1].scheduler_info()["workers"].values()} == {"SLURMCluster-0"}
            assert {w["name"] for w in B[1].scheduler_info()["workers"].values()} == {"SLURMCluster-0"}
            (b_job,) = mine["B"]

            # B: a task far past the job's 954M cgroup limit; the kernel kills the worker process
            def hog() -> int:
                return len(b"x" * (3 * 1024**3))

            fut = B[1].submit(hog, pure=False)
            probe = SlurmSource(log_dir=logs)
            killed = wait_until(lambda: "killed_signal_9" in (probe.logs({b_job}).get(b_job) or _NoLog).kinds(), 90, 1)
            assert killed, "B's worker process was not killed by the cgroup"
            fut.cancel()
            cancel_jobs({b_job})  # Slurm writes the oom-kill event when the job ends (batch step OUT_OF_MEMORY)

            # a plain sbatch job of the same user runs out of memory too: nobody's cluster's
            out = subprocess.run(
                ["sbatch", "--parsable", "--mem=100M", "-c", "1", "-t", "00:02:00", "-J", "plain-oom",
                 "-o", str(tmp_path / "plain-%j.out"),
                 "--wrap", f"{sys.executable} -c 'b = bytearray(2 * 1024**3); print(len(b))'"],
                capture_output=True, text=True, timeout=30, check=True)
            plain.add(out.stdout.strip().split(";")[0])
            (plain_id,) = plain
            # C: a healthy cluster
            C[0].scale(1)
            C[1].wait_for_workers(1, timeout=120)
            mine["C"] |= {str(j.job_id) for j in C[0].workers.values()}
            C[0].submitted_job_ids |= mine["C"]
            assert C[1].submit(sum, [1, 2, 3]).result(timeout=60) == 6

            def final(jid: str):
                return lambda s: (j := (s.job(jid) or next((o for o in s.other_jobs if o.job_id == jid), None))) \
                    and j.is_final and j

            watch = SlurmSource(cluster=addr["A"])
            assert poll_until(watch, final(plain_id), 90, 2), "the plain sbatch job did not end"
            (a_job,) = mine["A"]
            got = poll_until(watch, final(a_job), 150, 3)  # Slurm enforces the limit up to ~30 s late
            assert got is not None and got.job(a_job).state == "TIMEOUT", got and got.job(a_job)
            assert next(o for o in got.other_jobs if o.job_id == plain_id).state == "OUT_OF_MEMORY"
            # the recorders have stored A's TIMEOUT and B's end (the departures come with the frames)
            assert wait_until(lambda: (j := recorded_jobs(rec["A"])) and j.job(a_job) and
                              j.job(a_job).state == "TIMEOUT", 30, 1)
            assert wait_until(lambda: (j := recorded_jobs(rec["B"])) and j.job(b_job) and
                              j.job(b_job).is_final, 30, 1)
            recorders.stop()
            stopped = True
            if os.environ.get("SCALABLE_TUI_SLURM_CAPTURE"):  # refresh tests/slurm/data/three_clusters
                capture(Path(os.environ["SCALABLE_TUI_SLURM_CAPTURE"]), addr, mine, plain_id)
        finally:
            if not stopped:
                with contextlib.suppress(Exception):
                    recorders.stop()

        # -- what each cluster shows --------------------------------------------------------
        expect = {"A": ("walltime", mine["A"]), "B": ("oom", mine["B"]), "C": (None, set())}
        texts = {}
        for k in clusters:
            snap, diag = attach_side(addr[k], logs, rec[k])
            assert {j.job_id for j in snap.jobs} == mine[k], (k, [(j.job_id, j.state) for j in snap.jobs])
            assert plain_id not in {j.job_id for j in snap.jobs}
            cat, ids = expect[k]
            found = slurm_findings(diag.findings)
            if cat is None:
                assert found == [], (k, [f.title for f in found])
            else:
                (f,) = found
                assert f.category == cat and f.resources["job_ids"] == ", ".join(sorted(ids)), (k, f.title)
                assert f.workers == ["SLURMCluster-0"]
            if k == "A":  # the walltime story: Slurm's state, its log line, and what to change
                ev = "\n".join(e.text for e in f.evidence)
                assert f"job {a_job} (worker SLURMCluster-0): TIMEOUT" in ev, ev
                assert f"JOB {a_job} ON localhost CANCELLED AT" in ev and "DUE TO TIME LIMIT" in ev, ev
                assert "--lifetime" in f.suggestion and "--lifetime-stagger" in f.suggestion
                assert snap.job(a_job).time_limit_s == 60
                if slurm.accounting:  # the final facts come from sacct once accounting has them
                    src = SlurmSource(cluster=addr["A"])
                    done = poll_until(src, lambda s: (j := s.job(a_job)) is not None and j.source == "sacct", 30)
                    assert done is not None and done.accounting is True and done.job(a_job).state == "TIMEOUT"
            # record: only this cluster's jobs were stored
            stored = recorded_jobs(rec[k])
            assert stored is not None and {j.job_id for j in stored.jobs} == mine[k], (k, stored.jobs)
            assert all(j.cluster_evidence == "batch_script" for j in stored.jobs)
            line = recorders.results[k].line()  # type: ignore[attr-defined]
            assert "only jobs of this cluster" in line, line
            # diagnose of the recording
            doc, text = diagnose_recording(rec[k], tmp_path / f"{k}.txt")
            dfound = [f for f in doc["findings"] if f["id"].startswith("slurm:")]
            if cat is None:
                assert dfound == [], (k, [f["title"] for f in dfound])
            else:
                assert [f["category"] for f in dfound] == [cat], (k, [f["title"] for f in dfound])
                assert dfound[0]["resources"]["job_ids"] == ", ".join(sorted(ids))
            for other in set(clusters) - {k}:
                for jid in mine[other] | plain:
                    assert f"job {jid}" not in text and f"jobs {jid}" not in text, (k, jid)
            from assistant.render import render_text

            texts[k] = render_text(diag, width=100)
        keep = os.environ.get("SCALABLE_TUI_FINDINGS_OUT")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            for k in clusters:
                Path(keep, f"cluster-{k}-attach.txt").write_text(f"{addr[k]}\n{texts[k]}")
                Path(keep, f"cluster-{k}-diagnose.txt").write_text((tmp_path / f"{k}.txt").read_text())

        # attach to an address where nothing listens: the same user's jobs, no findings
        nobody = SlurmSource(cluster="tcp://127.0.0.1:1", log_dir=logs)
        snap = nobody.poll()
        from scalable_tui.session.slurm_join import job_findings

        assert snap.jobs == [] and len(snap.other_jobs) >= 4 and job_findings(snap, [], logs) == []


def capture(out: Path, addr: dict[str, str], mine: dict[str, set[str]], plain_id: str) -> None:
    """What squeue and scontrol said at the end, for the unit tests of the attribution (test_attribution.py)."""
    from scalable_tui.sources.jobs.slurm_parse import SACCT_FORMAT, SQUEUE_FORMAT

    out.mkdir(parents=True, exist_ok=True)
    listing = subprocess.run(["squeue", "-h", "-t", "all", "-u", "root", "--noconvert", "-o", SQUEUE_FORMAT],
                             capture_output=True, text=True, timeout=30).stdout
    (out / "squeue.txt").write_text(listing)
    ids = [ln.split("|", 1)[0] for ln in listing.splitlines() if ln.strip()]
    acct = subprocess.run(["sacct", "-n", "-P", "-j", ",".join(ids), "-o", SACCT_FORMAT], capture_output=True,
                          text=True, timeout=30)
    if acct.returncode == 0:
        (out / "sacct.txt").write_text(acct.stdout)
    for jid in ids:
        script = subprocess.run(["scontrol", "write", "batch_script", jid, "-"], capture_output=True, text=True,
                                timeout=30)
        if script.returncode == 0:
            (out / f"batch_script_{jid}.txt").write_text(script.stdout)
    (out / "clusters.json").write_text(json.dumps(
        {"schedulers": addr, "jobs": {k: sorted(v) for k, v in mine.items()}, "plain_oom_job": plain_id},
        indent=1) + "\n")


class _NoLog:
    @staticmethod
    def kinds() -> set[str]:
        return set()

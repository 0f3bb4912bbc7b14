"""Record real Slurm output for the parser tests (tests/slurm/data/).

Needs the single-node Slurm of tools/slurm/start.sh with accounting
(``WITH_DBD=1``) and no other jobs of this user.  Takes about two minutes
(one job has to hit its one-minute walltime).  Run:

    WITH_DBD=1 tools/slurm/start.sh
    SLURM_CONF=/tmp/scalable-tui-slurmd/etc/slurm.conf python tools/slurm/capture_outputs.py [OUT_DIR]

It submits plain sbatch jobs that complete, time out, run out of memory,
fail, get cancelled and wait, plus dask-jobqueue SLURMCluster jobs (one
process and two processes per job), and writes what squeue, sacct and
scontrol print for them in the exact formats scalable_tui's Slurm source asks
for, plus their job logs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scalable_tui.sources.jobs.slurm_parse import SACCT_FORMAT, SQUEUE_FORMAT

OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "tests" / "slurm" / "data"


def sh(*argv: str, check: bool = False) -> str:
    p = subprocess.run(list(argv), capture_output=True, text=True, timeout=60)
    if check and p.returncode:
        raise SystemExit(f"{argv}: {p.stderr}")
    return p.stdout + p.stderr


def sbatch(work: Path, *args: str) -> str:
    out = sh("sbatch", "--parsable", "-D", str(work), *args, check=True)
    return out.strip().split(";")[0]


def state(jid: str) -> str:
    return sh("squeue", "-h", "-t", "all", "-j", jid, "-o", "%T").strip()


def wait(pred, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end and not pred():
        time.sleep(1)


def squeue(name: str | None = None) -> str:
    argv = ["squeue", "-h", "-t", "all", "--noconvert", "-o", SQUEUE_FORMAT]
    if name:
        argv.insert(1, f"--name={name}")
    return sh(*argv)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="slurm-capture-"))
    (OUT / "VERSION.txt").write_text(sh("squeue", "--version"))

    # -- plain sbatch jobs in every final state ------------------------------
    ids = {
        "ok": sbatch(work, "-J", "ok", "--wrap", "sleep 2"),
        "timeout": sbatch(work, "-J", "tlim", "-t", "1", "--wrap", "sleep 300"),
        "oom": sbatch(work, "-J", "oomy", "--mem=100M", "--wrap",
                      "python3 -c 'x = bytearray(600 * 1024 * 1024); import time; time.sleep(2)'"),
        "failed": sbatch(work, "-J", "failer", "--wrap", "echo about to fail >&2; exit 3"),
        "cancelled": sbatch(work, "-J", "canc", "--wrap", "sleep 300"),
    }
    wait(lambda: state(ids["cancelled"]) == "RUNNING", 60)
    ids["pending"] = sbatch(work, "-J", "big wait|pipe", "-c", "2", "--wrap", "sleep 5")
    time.sleep(3)
    (OUT / "squeue_22.05_sbatch_running.txt").write_text(squeue())
    sh("scancel", ids["cancelled"])
    wait(lambda: state(ids["timeout"]) == "TIMEOUT", 150)
    wait(lambda: state(ids["pending"]) == "COMPLETED", 60)
    time.sleep(6)  # let slurmdbd catch up
    (OUT / "squeue_22.05_sbatch_final.txt").write_text(squeue())
    (OUT / "sacct_22.05_sbatch.txt").write_text(sh("sacct", "-n", "-P", "-j", ",".join(ids.values()), "-o", SACCT_FORMAT))
    (OUT / "squeue_22.05_all.json").write_text(sh("squeue", "--json"))
    for kind in ("timeout", "oom", "failed"):
        (OUT / f"scontrol_show_job_{kind}.txt").write_text(sh("scontrol", "-o", "show", "job", ids[kind]))
    for kind, jid in ids.items():
        log = work / f"slurm-{jid}.out"
        if log.exists():
            shutil.copy(log, OUT / f"slurm-{jid}.{kind}.out")
    (OUT / "sbatch_ids.txt").write_text("".join(f"{k} {v}\n" for k, v in ids.items()))

    # -- dask-jobqueue jobs ---------------------------------------------------
    from dask_jobqueue import SLURMCluster
    from distributed import Client

    logs = work / "dask-logs"
    for processes, cores in ((1, 1), (2, 2)):
        cluster = SLURMCluster(cores=cores, memory="1GB", processes=processes, walltime="00:05:00",
                               log_directory=str(logs), scheduler_options={"host": "127.0.0.1"})
        try:
            n = 3 if processes == 1 else 1
            cluster.scale(jobs=n)
            submitted: set[str] = set()
            with Client(cluster) as client:
                client.wait_for_workers(2, timeout=90)
                submitted.update(str(j.job_id) for j in cluster.workers.values() if j.job_id)
                time.sleep(2)
                suffix = f"p{processes}"
                (OUT / f"squeue_22.05_dask_{suffix}.txt").write_text(squeue("dask-worker"))
                first = next(iter(cluster.workers.values())).job_id
                (OUT / f"batch_script_dask_{suffix}.txt").write_text(
                    sh("scontrol", "write", "batch_script", first, "-"))
                (OUT / f"workers_dask_{suffix}.txt").write_text(
                    "".join(f"{name} {job.job_id}\n" for name, job in cluster.workers.items()))
                cluster.scale(0)
                time.sleep(3)
        finally:
            try:
                cluster.close(timeout=30)
            except Exception:  # dask-jobqueue 0.9 asserts on jobs that never started
                pass
            if submitted:  # only the jobs this script submitted, by id (never --name/--user)
                sh("scancel", *sorted(submitted))
    for f in sorted(logs.glob("*.err"))[:2]:
        shutil.copy(f, OUT / f.name)
    sh("scontrol", "write", "batch_script", ids["ok"], "-")
    (OUT / "batch_script_sbatch_wrap.txt").write_text(sh("scontrol", "write", "batch_script", ids["ok"], "-"))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

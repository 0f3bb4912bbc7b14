"""A past run made on Slurm is joined with sacct's final job states."""

from __future__ import annotations

import json
from pathlib import Path

from scalable_tui.session import diagnose_run
from assistant.diagnose import diagnose_state
from scalable_tui.session.slurm_join import merge_findings, ran_on_slurm, slurm_join
from scalable_tui.sources.rundir.reader import load_run
from scalable_tui.sources.jobs.slurm import SlurmSource

from .test_parsers import read
from .test_source import FakeSlurm


def _slurm_run(tmp_path: Path) -> Path:
    run = tmp_path / "run-20261125T120600Z-hpc-0000beef"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"run_id": run.name, "provider_name": "slurm", "status": "completed",
                                              "started_at": "2026-11-25T12:06:00Z", "schema_version": 1}))
    (run / "workers.jsonl").write_text(json.dumps({
        "event_type": "worker", "state": "cluster_created", "provider": "slurm", "timestamp": "2026-11-25T12:06:00Z",
        "details": {"cluster_kwargs": {"walltime": "00:01:00", "memory": "1GB"}}}) + "\n")
    (run / "tasks.jsonl").write_text(json.dumps({
        "task_id": "a" * 32, "state": "succeeded", "task_name": "run_gcam", "timestamp": "2026-11-25T12:08:00Z"}) + "\n")
    return run


def test_plain_sbatch_jobs_in_the_window_are_not_the_runs_findings(tmp_path: Path) -> None:
    """Issue 14: the user's other jobs (TIMEOUT, OUT_OF_MEMORY, …) were blamed on the run."""
    run = _slurm_run(tmp_path)
    state = load_run(run)
    assert ran_on_slurm(state)
    fake = FakeSlurm()
    fake.sacct = read("sacct_22.05_sbatch.txt")  # recorded on a real Slurm: TIMEOUT, OUT_OF_MEMORY, …
    joined = slurm_join(state, "auto", source=SlurmSource(user="root", runner=fake, resolve_worker_names=False))
    assert joined.findings == [] and joined.jobs == 0
    assert "left out (no evidence they ran this run's workers)" in (joined.note or ""), joined.note
    assert any(c[0] == "sacct" for c in fake.calls)
    diag = merge_findings(diagnose_state(state), joined.findings, joined.note)
    assert "Slurm:" not in diag.summary and any("left out" in n for n in diag.notices)


def test_runs_not_on_slurm_never_ask_slurm(tmp_path: Path) -> None:
    run = _slurm_run(tmp_path)
    (run / "run.json").write_text(json.dumps({"run_id": run.name, "provider_name": "local", "status": "completed"}))
    (run / "workers.jsonl").unlink()
    fake = FakeSlurm()
    joined = slurm_join(load_run(run), "auto", source=SlurmSource(user="root", runner=fake))
    assert joined.findings == [] and fake.calls == []
    assert diagnose_run(run).findings == []


def test_a_machine_without_slurm_configured_is_said_so(tmp_path: Path) -> None:
    """A Slurm run read where the Slurm client is installed but not configured (a laptop): the note was only
    "Slurm: sacct: fatal: Could not establish a configuration source", on every diagnosis."""
    from scalable_tui.sources.jobs.base import CmdResult

    state = load_run(_slurm_run(tmp_path))
    fake = FakeSlurm()
    fake.sacct = CmdResult(["sacct"], 1, "", "sacct: fatal: Could not establish a configuration source" + " x" * 2500)
    joined = slurm_join(state, "auto", source=SlurmSource(user="root", runner=fake, resolve_worker_names=False))
    assert joined.findings == [] and joined.jobs == 0
    note = joined.note or ""
    assert note.startswith("the run used Slurm, but Slurm is not configured on this machine (sacct: fatal: Could "
                           "not establish a configuration source"), note
    assert note.endswith("job states not joined (--slurm off leaves Slurm out)") and len(note) < 400
    down = FakeSlurm()
    down.sacct = CmdResult(["sacct"], 1, "", "sacct: error: Unable to contact slurm controller (connect failure)\n")
    other = slurm_join(state, "auto", source=SlurmSource(user="root", runner=down, resolve_worker_names=False)).note
    assert other is not None and other.startswith("Slurm: ") and "Unable to contact" in other

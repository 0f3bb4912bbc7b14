"""A run written by the REAL Scalable library whose failures cover every retry-plan action."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
WORKFLOW = HERE / "retry_workflow.py"


def scalable_env(workdir: Path, runs: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCALABLE_", "DASK_", "OPENAI_"))}
    env.update(SCALABLE_RUNS_DIR=str(runs), SCALABLE_TELEMETRY="1", SCALABLE_TELEMETRY_PARQUET="0",
               PYTHONUNBUFFERED="1", **extra)
    return env


@pytest.fixture(scope="session")
def retry_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tests/retry/retry_workflow.py`` run by ``scalable.ScalableSession`` on a local target."""
    work = tmp_path_factory.mktemp("retry-demo")
    runs = work / "runs"
    proc = subprocess.run([sys.executable, str(WORKFLOW)], cwd=work, env=scalable_env(work, runs),
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = sorted(runs.glob("run-*"))
    assert len(found) == 1, found
    return found[0]

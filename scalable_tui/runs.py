"""Find run directories the way Scalable users name them.

A path, ``--latest`` or ``--run-id`` under ``--runs-dir`` (default
``$SCALABLE_RUNS_DIR``, else ``./.scalable/runs``).  "Latest" is the last
name in sort order, as in Scalable itself (names start with a UTC stamp).
"""

from __future__ import annotations

import os
from pathlib import Path


class RunNotFound(Exception):
    """A run could not be located; the message is one line for the user."""


def default_runs_dir() -> Path:
    return Path(os.environ.get("SCALABLE_RUNS_DIR") or "./.scalable/runs")


def list_runs(runs_dir: str | Path | None = None) -> list[Path]:
    """Run directories, newest first."""
    root = Path(runs_dir) if runs_dir is not None else default_runs_dir()
    try:
        entries = [p for p in root.iterdir() if p.is_dir() and p.name.startswith("run-")]
    except FileNotFoundError:
        raise RunNotFound(f"runs directory {root} does not exist (set --runs-dir or $SCALABLE_RUNS_DIR)") from None
    except NotADirectoryError:
        raise RunNotFound(f"runs directory {root} is not a directory") from None
    except PermissionError:
        raise RunNotFound(f"runs directory {root} is not readable (permission denied)") from None
    return sorted(entries, key=lambda p: p.name, reverse=True)


def resolve_run(
    path: str | Path | None = None,
    *,
    latest: bool = False,
    run_id: str | None = None,
    runs_dir: str | Path | None = None,
) -> Path:
    """Turn the user's way of naming a run into a run directory, or raise RunNotFound."""
    root = Path(runs_dir) if runs_dir is not None else default_runs_dir()
    if path is not None:
        p = Path(path)
        if not p.exists():
            # Accept a bare run id where a path was expected.
            if (root / str(path)).is_dir():
                return root / str(path)
            raise RunNotFound(f"run directory {p} does not exist")
        if not p.is_dir():
            raise RunNotFound(f"{p} is not a directory (expected a Scalable run directory)")
        if not os.access(p, os.R_OK | os.X_OK):
            raise RunNotFound(f"run directory {p} is not readable (permission denied)")
        if not any((p / n).exists() for n in ("run.json", "tasks.jsonl", "failures.jsonl", "tasks.parquet")):
            runs = [c for c in p.iterdir() if c.is_dir() and c.name.startswith("run-")] if p.is_dir() else []
            hint = f"; it holds {len(runs)} runs: use --runs-dir {p} --latest" if runs else ""
            raise RunNotFound(f"{p} does not look like a Scalable run directory (no run.json or *.jsonl){hint}")
        return p
    if run_id is not None:
        p = root / run_id
        if not p.is_dir():
            raise RunNotFound(f"run {run_id!r} not found in {root}")
        return p
    if latest:
        runs = list_runs(root)
        if not runs:
            raise RunNotFound(f"no runs in {root}")
        return runs[0]
    raise RunNotFound("name a run: RUN_DIR, --latest or --run-id ID (see --help)")

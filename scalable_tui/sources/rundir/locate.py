"""Find run directories the way Scalable users name them.

A path, ``--latest`` or ``--run-id`` under ``--runs-dir`` (default
``$SCALABLE_RUNS_DIR``, else ``./.scalable/runs``).  "Latest" is the last
name in sort order, as in Scalable itself (names start with a UTC stamp).
``--run-id`` takes any unique prefix of a run's name (with or without the
``run-``).  When a runs directory holds no runs, the directories one level
below it are looked at (``DIR/sub`` and ``DIR/sub/.scalable/runs``, as when
``--runs-dir`` names a project instead of its runs) and the message says
where the runs are.
"""

from __future__ import annotations

import os
from pathlib import Path

from scalable_tui.model.words import plural


class RunNotFound(Exception):
    """A run could not be located; the message is one line for the user."""


def default_runs_dir() -> Path:
    return Path(os.environ.get("SCALABLE_RUNS_DIR") or "./.scalable/runs")


#: Directories looked at below an empty runs directory (bounded: a hint, not a crawl).
MAX_NEARBY_DIRS = 200


def _runs_in(d: Path) -> int:
    try:
        return sum(1 for c in d.iterdir() if c.name.startswith("run-") and c.is_dir())
    except OSError:
        return 0


def nearby_runs(root: Path) -> list[tuple[Path, int]]:
    """Run directories one level below ``root``: (directory holding runs, how many), most first."""
    found: list[tuple[Path, int]] = []
    candidates = [root / ".scalable" / "runs"]
    try:
        subs = sorted(c for c in root.iterdir() if c.is_dir() and not c.name.startswith("run-"))[:MAX_NEARBY_DIRS]
    except OSError:
        subs = []
    for sub in subs:
        candidates += [sub, sub / ".scalable" / "runs", sub / "runs"]
    for c in candidates:
        n = _runs_in(c) if c.is_dir() else 0
        if n:
            found.append((c, n))
    return sorted(found, key=lambda x: -x[1])


def no_runs_message(root: Path) -> str:
    """"no runs in DIR", plus where runs are one level down (and the option that opens them)."""
    near = nearby_runs(root)
    if not near:
        return f"no runs in {root}"
    where, n = near[0]
    msg = f"no runs in {root}; found {n} run{'s' if n != 1 else ''} in {where} — use --runs-dir {where}"
    if len(near) > 1:
        msg += f" (and {len(near) - 1} more director{'ies' if len(near) > 2 else 'y'} with runs below {root})"
    return msg


def match_run_id(root: Path, run_id: str) -> Path:
    """The run named ``run_id`` under ``root``: its full name, or a unique prefix of it (with or without ``run-``)."""
    exact = root / run_id
    if exact.is_dir():
        return exact
    runs = list_runs(root)
    want = run_id if run_id.startswith("run-") else f"run-{run_id}"
    hits = [p for p in runs if p.name.startswith(want) or p.name.startswith(run_id)]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        msg = f"run {run_id!r} not found in {root}"
        if not runs:
            msg += f" ({no_runs_message(root)})"
        raise RunNotFound(msg)
    names = ", ".join(p.name for p in hits[:5]) + (f", … ({len(hits) - 5} more)" if len(hits) > 5 else "")
    raise RunNotFound(f"run id {run_id!r} matches {len(hits)} runs in {root}: {names}; give more of the id")


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
            text = str(path)
            if "://" in text and not text.startswith("file://"):  # Path() would show "tcp:/host:port"
                raise RunNotFound(f"{text} is an address, not a run directory: this command reads a run directory; "
                                  f"to watch a live scheduler, run: scalable-tui attach {text}")
            raise RunNotFound(f"run directory {p} does not exist")
        if not p.is_dir():
            raise RunNotFound(f"{p} is not a directory (expected a Scalable run directory)")
        if not os.access(p, os.R_OK | os.X_OK):
            raise RunNotFound(f"run directory {p} is not readable (permission denied)")
        if not any((p / n).exists() for n in ("run.json", "tasks.jsonl", "failures.jsonl", "tasks.parquet")):
            runs = [c for c in p.iterdir() if c.is_dir() and c.name.startswith("run-")] if p.is_dir() else []
            hint = f"; it holds {plural(len(runs), 'run')}: use --runs-dir {p} --latest" if runs else ""
            raise RunNotFound(f"{p} does not look like a Scalable run directory (no run.json or *.jsonl){hint}")
        return p
    if run_id is not None:
        return match_run_id(root, run_id)
    if latest:
        runs = list_runs(root)
        if not runs:
            raise RunNotFound(no_runs_message(root))
        return runs[0]
    raise RunNotFound("name a run: RUN_DIR, --latest or --run-id ID (see --help)")

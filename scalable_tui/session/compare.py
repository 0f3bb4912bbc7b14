"""Load what ``diagnose --compare PREV`` compares with, and the runs before it.

PREV is a run directory (or a run id under the runs directory), a recording
made by ``scalable-tui record``, a diagnosis saved with ``diagnose --format
json`` (its signature version is kept, which is how a version change shows
up), or ``previous``: the last earlier run of the same project under the
runs directory.  The other runs before the diagnosed one (same project, same
runs directory; PREV's own when the diagnosed run is not among them) are read
through the summary cache to tell a regressed group from a new one.
The comparison itself is ``assistant.compare`` (no file reading there).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from assistant.compare import EarlierRun, compare
from scalable_tui.model.diagnosis import Diagnosis
from scalable_tui.sources.rundir.files import read_regular

#: Earlier runs looked at for "regressed" (newest first); cached summaries make each one cheap.
MAX_EARLIER_RUNS = 200


class CompareError(Exception):
    """PREV could not be found or read; the message is one line for the user."""


@dataclass(slots=True)
class Previous:
    diagnosis: Diagnosis
    #: The run directory PREV is (None for a recording or a saved diagnosis whose run is not here).
    run_dir: Path | None
    #: Where the runs before PREV are looked for (None: no history, so nothing can be called regressed).
    runs_root: Path | None
    #: PREV's sort name among the runs (a run directory's name, or the saved run id).
    name: str


def _meta(run_dir: Path) -> dict[str, Any]:
    try:
        obj = orjson.loads(read_regular(run_dir / "run.json"))
    except (OSError, orjson.JSONDecodeError):
        return {}
    return obj if isinstance(obj, dict) else {}


def _holds_other_runs(d: Path, run_dir: Path) -> bool:
    try:
        return any(c.name.startswith("run-") and c.name != run_dir.name for c in d.iterdir())
    except OSError:
        return False


def _runs_root(run_dir: Path | None, runs_dir: str | Path | None) -> Path | None:
    """``--runs-dir`` when given, else the run's own parent when it holds other runs, else the default when it exists."""
    if runs_dir is not None:
        return Path(runs_dir) if Path(runs_dir).is_dir() else None
    if run_dir is not None and _holds_other_runs(run_dir.resolve().parent, run_dir):
        return run_dir.resolve().parent
    from scalable_tui.sources.rundir.locate import default_runs_dir

    root = default_runs_dir()
    return root if root.is_dir() else None


def _earlier(root: Path, before_name: str, project: str | None, exclude: set[str]) -> list[Path]:
    """Runs of ``project`` in ``root`` sorted before ``before_name``, newest first."""
    from scalable_tui.sources.rundir.locate import RunNotFound, list_runs

    try:
        runs = list_runs(root)
    except RunNotFound:
        return []
    out = []
    for r in runs:
        if r.name >= before_name or os.path.realpath(r) in exclude:
            continue
        if _meta(r).get("project_name") == project:
            out.append(r)
    return out


def previous_run(current: Path, runs_dir: str | Path | None = None) -> Path:
    """``--compare previous``: the last run of the same project that sorts before ``current`` (names start with a UTC stamp)."""
    root = _runs_root(current, runs_dir)
    if root is None:
        raise CompareError(f"--compare previous: no runs directory around {current} (use --runs-dir or name PREV)")
    project = _meta(current).get("project_name")
    found = _earlier(root, current.name, project, {os.path.realpath(current)})
    if not found:
        who = f"project {project!r}" if project else "this run (no project name)"
        raise CompareError(f"--compare previous: no earlier run of {who} in {root}")
    return found[0]


def _saved_diagnosis(path: Path) -> Diagnosis | None:
    """A diagnosis saved by ``diagnose --format json``, or None when the file is not JSON (then it may be a recording)."""
    try:
        with open(path, "rb") as f:
            head = f.read(64).lstrip()
    except OSError as exc:
        raise CompareError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not head.startswith(b"{"):
        return None
    from pydantic import ValidationError

    try:
        return Diagnosis.model_validate_json(path.read_bytes())
    except (ValidationError, ValueError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CompareError(f"{path} is JSON but not a diagnosis saved by 'diagnose --format json' ({first})") from None


def load_previous(
    spec: str,
    *,
    current_run_dir: Path | None,
    runs_dir: str | Path | None = None,
    slurm: str = "off",
    log_dir: str | None = None,
    stale_after_s: float | None = None,
) -> Previous:
    from scalable_tui.sources.rundir.locate import RunNotFound, match_run_id, resolve_run
    from scalable_tui.session.pipeline import diagnose_run

    if spec == "previous":
        if current_run_dir is None:
            raise CompareError("--compare previous needs a run directory; for a recording name PREV explicitly")
        prev = previous_run(current_run_dir, runs_dir)
        diag = diagnose_run(prev, slurm=slurm, log_dir=log_dir, stale_after_s=stale_after_s)
        return Previous(diag, prev, _runs_root(prev, runs_dir), prev.name)
    p = Path(spec)
    if p.is_file():
        saved = _saved_diagnosis(p)
        if saved is not None:
            d = Path(saved.run_dir) if saved.run_dir else None
            run_dir = d if d is not None and d.is_dir() else None
            return Previous(saved, run_dir, _runs_root(run_dir, runs_dir), saved.run_id)
        from scalable_tui.session.pipeline import NothingRecorded, diagnose_recording_file
        from scalable_tui.sources.recording.reader import RecordingError

        try:
            _, diag, _ = diagnose_recording_file(p, slurm=slurm, log_dir=log_dir, stale_after_s=stale_after_s)
        except NothingRecorded as exc:
            raise CompareError(f"{p}: {exc}; there is nothing to compare with") from None
        except RecordingError as exc:
            raise CompareError(f"--compare {p}: {exc}; expected a run directory, a recording or a saved "
                               "diagnosis (diagnose --format json)") from None
        return Previous(diag, None, None, diag.run_id)
    try:
        if not p.exists() and "/" not in spec:  # a run id, or a unique start of one, under the runs directory
            root = _runs_root(current_run_dir, runs_dir)
            if root is None:
                raise RunNotFound(f"run directory {spec} does not exist (and no runs directory to look for it in)")
            prev = match_run_id(root, spec)
        else:
            prev = resolve_run(spec, runs_dir=runs_dir)
    except RunNotFound as exc:
        raise CompareError(f"--compare: {exc}") from None
    if current_run_dir is not None and os.path.realpath(prev) == os.path.realpath(current_run_dir):
        raise CompareError(f"--compare: {prev} is the run being diagnosed; name an earlier run")
    diag = diagnose_run(prev, slurm=slurm, log_dir=log_dir, stale_after_s=stale_after_s)
    return Previous(diag, prev, _runs_root(prev, runs_dir), prev.name)


def earlier_runs(prev: Previous, project: str | None, exclude: set[str], before: str | None = None) -> list[EarlierRun]:
    """The runs before the diagnosed run (``before``, its sort name; PREV's when None), PREV and the diagnosed
    run excluded, as group counts (cached summaries), newest first.

    Not only the runs before PREV: with an older PREV named explicitly, a group that came up in the runs
    between PREV and this one is back, not new.
    """
    if prev.runs_root is None:
        return []
    from scalable_tui.session import summary_cache

    out = []
    upto = before if before is not None and before > prev.name else prev.name
    for r in _earlier(prev.runs_root, upto, project, exclude)[:MAX_EARLIER_RUNS]:
        try:
            s, _ = summary_cache.summary(r)
        except Exception:  # noqa: BLE001 - an unreadable old run only means less history
            continue
        out.append(EarlierRun(s["run_id"], int(s["signature_version"]), {k: v[0] for k, v in s["groups"].items()}))
    return out


def compare_with(
    diag: Diagnosis,
    spec: str,
    *,
    current_run_dir: Path | None,
    runs_dir: str | Path | None = None,
    slurm: str = "off",
    log_dir: str | None = None,
    stale_after_s: float | None = None,
) -> Diagnosis:
    """``diag`` compared with PREV (see the module docstring); raises CompareError with a one-line message."""
    prev = load_previous(spec, current_run_dir=current_run_dir, runs_dir=runs_dir, slurm=slurm, log_dir=log_dir,
                         stale_after_s=stale_after_s)
    project = _meta(current_run_dir).get("project_name") if current_run_dir is not None else None
    theirs = _meta(prev.run_dir).get("project_name") if prev.run_dir is not None else None
    if project is None:
        project = theirs
    exclude = {os.path.realpath(p) for p in (current_run_dir, prev.run_dir) if p is not None}
    earlier = earlier_runs(prev, project, exclude, current_run_dir.name if current_run_dir is not None else None)
    out = compare(diag, prev.diagnosis, earlier,
                  previous_run_dir=str(prev.run_dir) if prev.run_dir is not None else spec)
    if project is not None and theirs is not None and theirs != project:
        out.notices.append(f"compared with a run of another project ({theirs!r}; this run is of {project!r}): "
                           "the same failure groups are not expected")
    return out

"""Per-run failure-group summaries in the user cache: what makes ``history`` over thousands of runs fast.

A summary is the run's meta (id, project, start, status) and its failure
groups (signature -> count, title, category, severity): a few hundred bytes
where the diagnosis needs the whole run read.  It lives beside the run index,
in ``$XDG_CACHE_HOME/scalable-tui/summaries/<hash of the run's real path>.json``
(directories 0700, files 0600; never in the run directory), with the key it
was built from: the run's real path, the (name, size, mtime, inode) of every
file in it (as the index's key), the summary format and the
``SIGNATURE_VERSION``.  Any change to a file, or a new signature version,
misses the key and the run is diagnosed again.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import orjson

from assistant.signature import SIGNATURE_VERSION
from scalable_tui.sources.rundir.index.cache import file_key
from scalable_tui.private_cache import write_private
from scalable_tui.session.keyed_json import read_keyed
from scalable_tui.sources.rundir.index.engine import cache_root, private_dir

#: Bump when the summary's content or meaning changes: old summaries are then rebuilt.
FORMAT = 2  # 2: failures counted per failed task (assistant.diagnose.counted_failures)
#: Longest group title kept (a title is a label; the diagnosis has the rest).
MAX_TITLE = 200
#: Summaries kept; beyond this the least recently written are dropped (they are rebuilt on demand).
MAX_SUMMARIES = 50_000


def summaries_dir() -> Path:
    return cache_root() / "summaries"


def _entry(run_dir: Path) -> Path:
    real = os.path.realpath(run_dir)
    return summaries_dir() / (hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:32] + ".json")


def run_key(run_dir: Path) -> dict[str, Any]:
    return {"path": os.path.realpath(run_dir), "files": file_key(run_dir), "format": FORMAT,
            "signature_version": SIGNATURE_VERSION}


def build_summary(run_dir: Path) -> dict[str, Any]:
    """Read and diagnose the run (heuristics only: no Slurm, no AI) and keep what history needs."""
    from scalable_tui.session.pipeline import diagnose
    from scalable_tui.sources.rundir.reader import load_run

    state = load_run(run_dir, store_index=False)  # a listing reads the index, never fills it
    diag = diagnose(state, slurm="off")
    m = state.meta
    groups: dict[str, list[Any]] = {}
    for f in diag.findings:
        k = f.signature or f.id
        if k in groups:
            groups[k][0] += f.count
        else:
            groups[k] = [f.count, f.title[:MAX_TITLE], f.category, f.severity]
    return {
        "run_id": m.run_id or run_dir.name,
        "run_dir": str(run_dir),
        "project": m.project_name,
        "started_at": m.started_at,
        "status": diag.status + (" (abandoned?)" if diag.abandoned else ""),
        "failures_total": diag.failures_total,
        "signature_version": diag.signature_version,
        "incomplete": bool(diag.incomplete),
        "groups": groups,
    }


def lookup(run_dir: Path, key: dict[str, Any]) -> dict[str, Any] | None:
    """The stored summary when its key is ``key``, else None (a damaged entry is rebuilt, never trusted)."""
    doc = read_keyed(_entry(run_dir), key)
    if doc is None or not isinstance(doc.get("summary"), dict):
        return None
    return doc["summary"]


def store(run_dir: Path, key: dict[str, Any], summary: dict[str, Any]) -> bool:
    """Save atomically and privately, unless the run changed while it was read (then it is read next time)."""
    if run_key(run_dir) != key:
        return False
    try:
        private_dir(summaries_dir())
        write_private(_entry(run_dir), orjson.dumps({"key": key, "summary": summary}))
    except OSError:
        return False  # an unwritable cache only costs speed: the next listing reads the run again
    return True


def summary(run_dir: Path, *, use_cache: bool = True) -> tuple[dict[str, Any], bool]:
    """``(summary, from_cache)`` of one run."""
    key = run_key(run_dir)
    if use_cache:
        hit = lookup(run_dir, key)
        if hit is not None:
            return hit, True
    s = build_summary(run_dir)
    if use_cache:
        store(run_dir, key, s)
    return s, False


def prune(keep: int = MAX_SUMMARIES) -> int:
    """Drop the oldest summaries beyond ``keep``; returns how many were dropped."""
    d = summaries_dir()
    try:
        entries = [(e.stat().st_mtime, e.path) for e in os.scandir(d) if e.name.endswith(".json")]
    except OSError:
        return 0
    if len(entries) <= keep:
        return 0
    entries.sort(reverse=True)
    dropped = 0
    for _, p in entries[keep:]:
        try:
            os.unlink(p)
            dropped += 1
        except OSError:
            pass
    return dropped

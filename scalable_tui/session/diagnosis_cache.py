"""The heuristic diagnosis of a big finished run, kept beside its persistent index entry.

Reopening a 300k-task run from the index takes ~0.3 s; diagnosing its
failures again took as long again (0.2 s for 15k failures, 1.3 s for 100k).
For a finished run the diagnosis is a function of the files and of the
assistant's code alone (``now`` and ``stale_after_s`` only matter while a run
says "running"), so it is stored once, as plain JSON, in
``<index entry>/diagnosis.json`` and read back when nothing it depends on moved.

The key, all of which must match:

- the index entry's own key (path, size, mtime and inode of every file in the
  run directory), and that entry must exist: runs the index does not hold
  (small runs, listings) are never cached here, so nothing else churns the cache;
- the lines the state was built from (``RunState.lines_read``): a first slice
  of a big run is never answered with, nor stored as, the whole run's diagnosis;
- the code: ``scalable_tui`` version, ``SIGNATURE_VERSION`` and the size and
  mtime of every module under ``assistant/`` and ``scalable_tui/model/``;
- the run directory as it was given (the diagnosis names it);
- ``stale_after_s``, to be safe.

Only the assistant's part is cached (``diagnose_state``); Slurm findings are
joined afresh by the pipeline.  Anything unreadable is a miss, never an error.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import Any

import orjson

from scalable_tui.model.diagnosis import Diagnosis
from scalable_tui.model.run import RunState
from scalable_tui.session.keyed_json import read_entry, write_keyed

log = logging.getLogger(__name__)

#: Bump when what is stored changes.
FORMAT = 1
NAME = "diagnosis.json"


@functools.cache
def code_fingerprint() -> list[Any]:
    """What the diagnosis is computed by: versions plus (module, size, mtime) of the assistant and the models."""
    import assistant
    import scalable_tui
    import scalable_tui.model
    from assistant.signature import SIGNATURE_VERSION

    files = []
    for pkg in (assistant, scalable_tui.model):
        root = Path(pkg.__file__).parent  # type: ignore[arg-type]
        for dirpath, _dirs, names in sorted(os.walk(root)):
            for n in sorted(names):
                if n.endswith(".py"):
                    p = os.path.join(dirpath, n)
                    try:
                        st = os.stat(p)
                    except OSError:
                        continue
                    files.append([os.path.relpath(p, root.parent), st.st_size, st.st_mtime_ns])
    return [scalable_tui.__version__, SIGNATURE_VERSION, files]


def entry_key(state: RunState, stale_after_s: float | None) -> tuple[Path, dict[str, Any]] | None:
    """(index entry directory, the diagnosis key) when the index holds this finished run as it is now."""
    if state.meta.status == "running" or not state.run_dir or not state.lines_read:
        return None
    from scalable_tui.sources.rundir.index import policy
    from scalable_tui.sources.rundir.index.cache import entry_dir, valid_key

    if policy.mode() == "python":  # "the Python reader and no cache"
        return None
    run_dir = Path(state.run_dir)
    index_key = valid_key(run_dir)
    if index_key is None:
        return None
    d = entry_dir(run_dir)
    # lines per stream; a stream with none read adds nothing (the Python reader lists absent files with 0
    # lines, a reader from the index leaves them out)
    lines = {k: v for k, v in sorted(state.lines_read.items()) if v}
    # the path as given: the diagnosis names it (``run_dir``), and another spelling of it must not read back
    # the first one's
    return d, {"format": FORMAT, "index": index_key, "run_dir": str(state.run_dir), "lines": lines,
               "code": code_fingerprint(), "stale_after_s": stale_after_s}


def lookup(state: RunState, stale_after_s: float | None) -> Diagnosis | None:
    """The stored diagnosis of exactly this state, or None."""
    stored = read_entry(entry_key(state, stale_after_s), NAME)
    if stored is None:
        return None
    try:
        diag = Diagnosis.model_validate(stored["diagnosis"])
        indices = stored["indices"]
        if len(indices) != len(diag.findings) or not all(
                type(idx) is list and all(type(i) is int for i in idx) for idx in indices):
            return None
        for f, idx in zip(diag.findings, indices):
            f.failure_indices = idx
        return diag
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # damaged or from another layout: diagnosed again


def store(state: RunState, stale_after_s: float | None, diag: Diagnosis) -> bool:
    """Keep ``diag`` (``diagnose_state`` of ``state``) when the index holds the run; never raises."""
    found = entry_key(state, stale_after_s)
    if found is None:
        return False
    d, key = found
    try:
        write_keyed(d / NAME, {"key": key, "diagnosis": diag.model_dump(mode="json"),
                               "indices": [f.failure_indices for f in diag.findings]})
        return True
    except (OSError, ValueError, TypeError, orjson.JSONEncodeError) as exc:
        log.debug("diagnosis not cached: %s", exc)
        return False

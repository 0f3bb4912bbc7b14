"""The Overview's bars and timelines of a big finished run, kept beside its persistent index entry.

With the index and the cached diagnosis, what was left of a reopen of a
300k-task run was counting: the bars per task group (0.15-0.3 s: 300k
per-task names are grouped) and the completion timelines (~0.12 s), computed
by ``session.snapshot`` for every final publish although a finished run's
table never changes.  They are stored once, as JSON, in
``<index entry>/overview.json``, under the diagnosis cache's key (the index
entry's file key, the lines read, the run directory as given, the code) plus
the size and mtime of ``session/snapshot.py``, which computes them.
Anything unreadable or from another key is a miss, never an error.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import orjson

from scalable_tui.model.run import RunState
from scalable_tui.session import diagnosis_cache
from scalable_tui.session.keyed_json import read_entry, write_keyed

log = logging.getLogger(__name__)

#: Bump when what is stored changes.
FORMAT = 1
NAME = "overview.json"

#: (completions, failures timeline, top groups, number of groups, grouped by)
Overview = tuple[list[int], list[int], list[tuple[str, dict[str, int]]], int, str]


def of_snapshot(snap: Any) -> Overview:
    """What a ``RunSnapshot`` holds of the overview, in the order ``build_snapshot(overview=…)`` takes it."""
    return snap.completions, snap.failures_timeline, snap.top_groups, snap.groups, snap.groups_by


def _key(state: RunState) -> tuple[Any, dict[str, Any]] | None:
    from scalable_tui.session import snapshot

    found = diagnosis_cache.entry_key(state, None)
    if found is None:
        return None
    d, key = found
    try:
        st = os.stat(snapshot.__file__)
    except OSError:
        return None
    return d, {"format": FORMAT, "diagnosis_key": key, "snapshot_code": [st.st_size, st.st_mtime_ns]}


def lookup(state: RunState) -> Overview | None:
    """The stored overview of exactly this state, or None."""
    stored = read_entry(_key(state), NAME)
    if stored is None:
        return None
    try:
        done, failed, top, n_groups, by = stored["overview"]
        if not (isinstance(done, list) and isinstance(failed, list) and all(type(x) is int for x in done + failed)
                and type(n_groups) is int and type(by) is str and isinstance(top, list)):
            return None
        groups: list[tuple[str, dict[str, int]]] = []
        for name, counts in top:
            if type(name) is not str or not isinstance(counts, dict) or not all(
                    type(k) is str and type(v) is int for k, v in counts.items()):
                return None
            groups.append((name, counts))
        return done, failed, groups, n_groups, by
    except (ValueError, KeyError, TypeError):
        return None  # damaged or from another layout: counted again


def store(state: RunState, overview: Overview) -> bool:
    """Keep the overview of ``state`` when the index holds the run; never raises."""
    found = _key(state)
    if found is None:
        return False
    d, key = found
    try:
        write_keyed(d / NAME, {"key": key, "overview": list(overview)})
        return True
    except (OSError, ValueError, TypeError, orjson.JSONEncodeError) as exc:
        log.debug("overview not cached: %s", exc)
        return False

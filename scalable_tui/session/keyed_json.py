"""A JSON document in the user's cache, stored under the key of what it was computed from.

The caches beside a run's index entry (diagnosis, overview) and the run
summaries all answer only when the stored key equals the key of now, and treat
anything unreadable as a miss (rebuilt, never trusted).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson


def read_keyed(path: Path, key: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON document stored at ``path`` under exactly ``key``, or None (absent, damaged, another key)."""
    try:
        stored = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return stored if isinstance(stored, dict) and stored.get("key") == key else None


def read_entry(found: tuple[Path, dict[str, Any]] | None, name: str) -> dict[str, Any] | None:
    """``read_keyed`` of file ``name`` in an index entry found with its key (None: no entry, a miss)."""
    if found is None:
        return None
    d, key = found
    return read_keyed(d / name, key)


def write_keyed(path: Path, doc: dict[str, Any]) -> None:
    """Write ``doc`` (with its ``key``) privately, unless the file already holds it byte for byte."""
    from scalable_tui.private_cache import write_private

    blob = orjson.dumps(doc)
    try:
        if path.read_bytes() == blob:
            return  # already there (a damaged entry with this key is written again)
    except OSError:
        pass
    write_private(path, blob)

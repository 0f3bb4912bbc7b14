"""One DuckDB connection set up the way the index needs it.

Threads follow the CPUs this process may run on (``sched_getaffinity``, not
``cpu_count``: a Slurm job or a container sees fewer), and the engine's own
``memory_limit`` bounds what it buffers, so a 300k-task run stays within a
login node's budget.  Both can be overridden from the environment for
debugging (``SCALABLE_TUI_INDEX_THREADS``, ``SCALABLE_TUI_INDEX_MEMORY``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from scalable_tui.private_cache import private_dirs

#: Default engine memory limit: with Python's share this keeps a 300k-task load under ~300 MB.
DEFAULT_MEMORY_LIMIT = "250MB"


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/scalable-tui`` (``~/.cache`` by default): the index never goes into a run directory."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "scalable-tui"


def private_dir(path: Path) -> Path:
    """Create ``path`` and every missing directory from the cache root down, readable by the user only."""
    return private_dirs(path, public_up_to=cache_root().parent)


def connect(database: str = ":memory:") -> Any:
    """A connection with thread and memory limits set; imports duckdb lazily (CLI start-up stays light).

    Spills (when the memory limit is reached) go to a private directory in
    the user cache.
    """
    import duckdb

    con = duckdb.connect(database)
    spill = private_dir(cache_root() / "spill")
    con.execute(f"SET temp_directory = '{str(spill).replace(chr(39), chr(39) * 2)}'")
    threads = int(os.environ.get("SCALABLE_TUI_INDEX_THREADS") or available_cores())
    memory = os.environ.get("SCALABLE_TUI_INDEX_MEMORY") or DEFAULT_MEMORY_LIMIT
    con.execute(f"SET threads = {max(1, threads)}")
    con.execute(f"SET memory_limit = '{_safe(memory)}'")
    con.execute("SET preserve_insertion_order = true")
    con.execute("SET enable_progress_bar = false")
    return con


def _safe(value: str) -> str:
    """A memory limit like ``250MB``; anything else falls back to the default (no SQL from the environment)."""
    v = value.strip()
    return v if v and all(c.isalnum() or c == "." for c in v) else DEFAULT_MEMORY_LIMIT

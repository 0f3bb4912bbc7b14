"""A columnar run index on DuckDB: finished runs load in native code, on every core.

``load_indexed`` returns a ``RunDirReader`` whose ``RunState`` equals what
the Python reader builds (the Python reader stays the reference; lines the
engine cannot vouch for are decoded by it).  ``Fallback`` means "use the
Python reader"; nothing here imports duckdb until a run is actually indexed.
"""

from __future__ import annotations

from scalable_tui.sources.index.build import Fallback

__all__ = ["Fallback", "available", "load_indexed"]


def available() -> bool:
    """Is the engine installed?  (``find_spec``: answering does not import it.)"""
    from importlib.util import find_spec

    return find_spec("duckdb") is not None


def load_indexed(run_dir, *, use_cache: bool = True):  # type: ignore[no-untyped-def]
    """A loaded ``RunDirReader`` from the index, or None when the Python reader should load this run."""
    from scalable_tui.sources.index.policy import open_reader

    return open_reader(run_dir, use_cache=use_cache)

"""A columnar run index on DuckDB: finished runs load in native code, on every core.

``load_indexed`` returns a ``RunDirReader`` whose ``RunState`` equals what
the Python reader builds (the Python reader stays the reference; lines the
engine cannot vouch for are decoded by it).  ``Fallback`` means "use the
Python reader"; nothing here imports duckdb until a run is actually indexed.
"""

from __future__ import annotations

from scalable_tui.sources.rundir.index.build import Fallback

__all__ = ["Fallback", "adopt_cached", "available", "load_indexed", "remember"]


def available() -> bool:
    """Is the engine installed?  (``find_spec``: answering does not import it.)"""
    from importlib.util import find_spec

    return find_spec("duckdb") is not None


def load_indexed(run_dir, *, use_cache: bool = True, store: bool = True):  # type: ignore[no-untyped-def]
    """A loaded ``RunDirReader`` from the index, or None when the Python reader should load this run."""
    from scalable_tui.sources.rundir.index.policy import open_reader

    return open_reader(run_dir, use_cache=use_cache, store=store)


def adopt_cached(reader) -> bool:  # type: ignore[no-untyped-def]
    """Fill a fresh ``RunDirReader`` from the persistent index when it holds this run (no cold build here:
    the caller's own, possibly sliced, read stays in charge of that).  True when adopted."""
    from scalable_tui.sources.rundir.index.policy import cached_reader

    hit = cached_reader(reader.path)
    if hit is None:
        return False
    reader.__dict__.update(hit.__dict__)
    reader._index_checked = reader._index_stored = True
    return True


def remember(reader) -> None:  # type: ignore[no-untyped-def]
    """Store a fully read big finished run in the persistent index (once; never raises)."""
    from scalable_tui.sources.rundir.index.policy import remember as _remember

    _remember(reader)

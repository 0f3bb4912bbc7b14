"""Which reader loads a run: the index for big finished runs, the Python reader otherwise.

``SCALABLE_TUI_READER=python`` forces the Python reader and no cache
(debugging, or to rule the index out); ``=index`` builds with the engine, for
any run, finished or not, small or big (tests compare the two that way).

The default (``auto``), for a finished run whose JSONL is big enough to be
worth it: the persistent index when its key still matches, else one cold
build, stored for the next open.  The cold build is done by the reader that
is faster on this machine today: measured (bench/bench_load.py, 2 loaded
cores) the engine's certified build is still slower than the Python reader,
so ``COLD_BUILD`` is ``"python"`` until the engine pass wins; both give the
same state (tests/index).  A run still being written is tailed by the Python
reader, which is incremental.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import orjson

from scalable_tui.sources.rundir.reader import RunDirReader
from scalable_tui.sources.rundir.files import read_regular

log = logging.getLogger(__name__)

ENV = "SCALABLE_TUI_READER"
#: Below this many bytes of JSONL the Python reader is as fast as the engine's start-up.
MIN_INDEX_BYTES = 16 << 20
FINISHED = frozenset({"completed", "failed"})
#: Who builds a cold index in ``auto`` mode: "python" or "engine" (see the module docstring).
COLD_BUILD = "python"


def mode() -> str:
    v = (os.environ.get(ENV) or "auto").strip().lower()
    return v if v in ("python", "index", "auto") else "auto"


def finished(run_dir: Path) -> bool:
    """run.json says the session closed (status completed/failed with a finished_at)."""
    try:
        meta = orjson.loads(read_regular(run_dir / "run.json"))
    except (OSError, orjson.JSONDecodeError):
        return False
    return isinstance(meta, dict) and meta.get("status") in FINISHED and isinstance(meta.get("finished_at"), str)


def jsonl_bytes(run_dir: Path) -> int:
    total = 0
    try:
        for e in os.scandir(run_dir):
            if e.name.endswith(".jsonl"):
                try:
                    total += e.stat().st_size
                except OSError:
                    pass
    except OSError:
        pass
    return total


def wants_index(run_dir: Path) -> bool:
    m = mode()
    if m == "python":
        return False
    if m == "index":
        from scalable_tui.sources.rundir.index import available

        return available()
    return finished(run_dir) and jsonl_bytes(run_dir) >= MIN_INDEX_BYTES


def open_reader(run_dir: str | Path, *, use_cache: bool = True, store: bool = True) -> RunDirReader | None:
    """A loaded reader from the persistent index or the engine; None means "use the Python reader".

    ``use_cache=False``: the index is neither read nor written.  ``store=False``: a valid entry is
    read, a cold build is not written (a listing over many runs must not churn the cache).
    """
    path = Path(run_dir)
    if not wants_index(path):
        return None
    from scalable_tui.sources.rundir.index.cache import current_key, lookup
    from scalable_tui.sources.rundir.index.cache import store as store_entry

    persist = use_cache and finished(path)
    if persist:
        hit = lookup(path)
        if hit is not None:
            return hit
    persist = persist and store
    if mode() == "index" or COLD_BUILD == "engine":
        key = current_key(path)
        reader = build_reader(path)
        if persist:
            try:
                store_entry(path, key, reader)
            except OSError as exc:  # a full or read-only cache is not the user's problem
                log.debug("index cache not written: %s", exc)
        return reader
    reader = RunDirReader(path, store_index=persist)
    reader.load()  # stores itself in the index when it is done (``remember``), if ``persist``
    return reader


def cached_reader(run_dir: str | Path) -> RunDirReader | None:
    """The persistent index's reader when it is valid for this run, without building anything."""
    path = Path(run_dir)
    if mode() != "auto" or not wants_index(path) or not finished(path):
        return None
    from scalable_tui.sources.rundir.index.cache import lookup

    return lookup(path)


def remember(reader: RunDirReader) -> None:
    """Store a reader that read a big finished run to its end, unless the index already holds it."""
    path = reader.path
    if mode() != "auto" or not wants_index(path) or not finished(path):
        return
    from scalable_tui.sources.rundir.index.cache import current_key, store, valid_key

    try:
        # Only a reader that consumed every stream to its end, with run.json as it is now, is the
        # run the key describes (the key is taken after the read).
        if any(t.pending_bytes() for t in reader.tails.values()):
            return
        if reader._run_json_mtime != (path / "run.json").stat().st_mtime:
            return
        if valid_key(path) is not None:
            return  # already holds the run as it is now
        store(path, current_key(path), reader)
    except (OSError, ValueError) as exc:
        log.debug("index cache not written: %s", exc)


def build_reader(path: Path) -> RunDirReader:
    """The engine's reader, or the Python reader's when the engine cannot vouch for a file."""
    from scalable_tui.sources.rundir.index.build import Fallback
    from scalable_tui.sources.rundir.index.engine import connect
    from scalable_tui.sources.rundir.index.merge import load_reader

    import duckdb

    con = connect()
    try:
        return load_reader(con, path)
    except (Fallback, duckdb.Error) as exc:  # e.g. the memory limit: the Python reader needs no engine memory
        log.debug("index fallback for %s: %s", path, exc)
    finally:
        con.close()
    reader = RunDirReader(path, store_index=False)  # the caller decides whether the build is stored
    reader.load()
    return reader

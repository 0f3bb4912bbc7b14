"""The persistent index of finished runs, in the user cache (never in the run directory).

``$XDG_CACHE_HOME/scalable-tui/index/<hash of the run's real path>/`` holds a
snapshot of the loaded state and the key it was built from: path, size,
mtime and inode of every file in the run directory.  Any change to any of
them (a file appended, replaced, touched, added or removed) misses the key
and the run is read again.  Directories are 0700 and files 0600: run data
may be private.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import orjson

from scalable_tui.private_cache import write_private
from scalable_tui.sources.rundir.index import snapshot
from scalable_tui.sources.rundir.index.engine import cache_root, private_dir
from scalable_tui.sources.rundir.reader import RunDirReader


def file_key(run_dir: Path) -> list[list[Any]]:
    """(name, size, mtime_ns, inode) of every regular file in the run directory, sorted by name."""
    out = []
    try:
        entries = sorted(os.scandir(run_dir), key=lambda e: e.name)
    except OSError:
        return []
    for e in entries:
        try:
            st = e.stat()
        except OSError:
            continue
        if e.is_file():
            out.append([e.name, st.st_size, st.st_mtime_ns, st.st_ino])
    return out


def entry_dir(run_dir: Path) -> Path:
    real = os.path.realpath(run_dir)
    return cache_root() / "index" / hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def _key(run_dir: Path) -> dict[str, Any]:
    return {"path": os.path.realpath(run_dir), "files": file_key(run_dir), "format": snapshot.FORMAT}


#: Entries kept (least recently opened dropped first): a snapshot of a 300k-task run is ~50 MB.
MAX_ENTRIES = 16


def valid_key(run_dir: Path) -> dict[str, Any] | None:
    """The entry's stored key when it still matches every file of the run directory, else None."""
    try:
        key = orjson.loads((entry_dir(run_dir) / "key.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return key if key == _key(run_dir) else None


def lookup(run_dir: Path) -> RunDirReader | None:
    """The cached reader when the key still matches every file, else None."""
    d = entry_dir(run_dir)
    try:
        if valid_key(run_dir) is None:
            return None
        os.utime(d / "key.json")  # recently used: pruned last
        with open(d / "state.bin", "rb", buffering=1 << 20) as f:
            return snapshot.load(f, str(run_dir))
    except (OSError, orjson.JSONDecodeError):
        return None
    except (ValueError, EOFError, TypeError, KeyError, IndexError, AttributeError):
        return None  # a damaged snapshot is rebuilt, never trusted


def store(run_dir: Path, key_before: dict[str, Any], reader: RunDirReader) -> bool:
    """Save the snapshot if the files did not change while they were read; atomic, private."""
    if _key(run_dir) != key_before:
        return False
    d = private_dir(entry_dir(run_dir))
    write_private(d / "state.bin", lambda f: snapshot.dump(reader, f), buffering=1 << 20)
    write_private(d / "key.json", orjson.dumps(key_before))
    prune()
    return True


def prune(keep: int | None = None) -> None:
    """Drop the least recently used entries beyond ``keep`` (the cache must not grow without bound)."""
    keep = MAX_ENTRIES if keep is None else keep
    root = cache_root() / "index"
    entries = []
    for e in root.iterdir() if root.is_dir() else []:
        try:
            entries.append(((e / "key.json").stat().st_mtime, e))
        except OSError:
            entries.append((0.0, e))
    entries.sort(reverse=True)
    for _, e in entries[keep:]:
        for f in e.iterdir():
            try:
                f.unlink()
            except OSError:
                pass
        try:
            e.rmdir()
        except OSError:
            pass


def current_key(run_dir: Path) -> dict[str, Any]:
    return _key(run_dir)

"""The user's cache: directories only the user can read, files replaced atomically.

Run indexes, run summaries and LLM replies all describe the user's runs, so
every cache writes through these two functions (never into a run directory).
Standard library only: any layer may use it (``assistant.llm.cache`` too).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import IO, Callable

__all__ = ["private_dirs", "write_private"]


def private_dirs(path: Path, *, public_up_to: Path | None = None) -> Path:
    """Create ``path`` and its missing parents, each 0700; return ``path``.

    ``public_up_to``: that directory and those above it are created with the
    default mode when missing (``~/.cache`` is shared by many programs; only
    what is ours is private).
    """
    missing: list[Path] = []
    d = path
    while not d.exists():
        missing.append(d)
        if d.parent == d:
            break
        d = d.parent
    for p in reversed(missing):
        private = public_up_to is None or public_up_to in p.parents
        try:
            p.mkdir(mode=0o700 if private else 0o777)
        except FileExistsError:
            continue
        if private:
            os.chmod(p, 0o700)
    return path


def write_private(path: Path, data: bytes | Callable[[IO[bytes]], None], *, buffering: int = -1) -> None:
    """Write ``path`` (0600) through a temporary file beside it: readers see the old file or the whole new one.

    ``data`` is the bytes, or a function that writes them to the open file.
    Raises what the file system raises; the temporary file is gone then.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb", buffering=buffering) as f:
            if callable(data):
                data(f)
            else:
                f.write(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise

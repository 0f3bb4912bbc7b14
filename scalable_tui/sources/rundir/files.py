"""Opening files of a run directory that may not be files at all.

A run directory is untrusted input: ``tasks.jsonl`` can be a FIFO (``open``
blocks forever), a symlink to ``/dev/zero`` (reads never end) or a device.
Everything read from a run directory goes through here, so such an entry is
an "unreadable: not a regular file" note instead of a hang.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

#: Whole-file reads (run.json, summary.json, plan.json, manifest.yaml) larger than this are refused.
MAX_SMALL_FILE = 64 << 20


class NotRegularFile(OSError):
    """The path exists but is a FIFO, socket, device or directory."""


def open_regular(path: str | Path) -> BinaryIO:
    """``open(path, "rb")`` that refuses, without blocking, anything but a regular file."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
            raise NotRegularFile(0, kind, str(path))
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | Path, limit: int = MAX_SMALL_FILE) -> bytes:
    """The whole of a small regular file; ``OSError`` for anything else, or when it is over ``limit``."""
    with open_regular(path) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise OSError(0, f"larger than {limit >> 20} MB", str(path))
    return data

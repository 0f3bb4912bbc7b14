"""Task functions for the file-error tests, shipped to workers by value (cloudpickle).

Kept apart from ``workload.py`` so the live-ingest tests can add cases
without touching the shared workload.
"""

from __future__ import annotations

import os


def read_missing(path: str) -> bytes:
    with open(path, "rb") as fh:  # FileNotFoundError with .filename = path
        return fh.read()


def rename_missing(src: str, dst: str) -> None:
    os.rename(src, dst)  # FileNotFoundError with .filename and .filename2


def errno_only() -> None:
    # What some libraries raise: errno and text, no file name at all.
    raise FileNotFoundError(2, "No such file or directory")


def fine(i: int) -> int:
    return i

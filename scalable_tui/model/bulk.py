"""Pausing the cyclic garbage collector while hundreds of thousands of objects are made.

Reading a 300k-task run, loading its snapshot and grouping 100,000 failures
each allocate many small objects (tuples, records, strings) and make no
cycles.  Every allocation burst triggers generation scans, and a full one
walks the whole state already built: 10-15 % of a diagnosis, most of it for
nothing.  Each of those paths pauses the collector around its loop; the
collector is switched back on only if it was on, so nested pauses compose.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic collection inside the block (reference counting still frees memory)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()

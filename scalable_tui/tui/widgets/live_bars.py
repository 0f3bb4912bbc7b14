"""Text bars for the live screens: worker memory and per-prefix task progress.

Each part has its own glyph as well as its colour (readable without colour,
and in a text capture)::

    memory  ████▓▓░░░░  managed █, unmanaged ▓, free ░ (spilled is a number)
    tasks   ██████▓░░   done █, erred ▓, processing ░ (cyan), waiting/queued ░ (grey)
"""

from __future__ import annotations

from rich.text import Text

from scalable_tui.tui.fmt import mib
from scalable_tui.tui.widgets.progress import _cells, state_bar
from scalable_tui.model.live import PrefixCounts, WorkerInfo


def memory_bar(w: WorkerInfo, width: int = 10) -> Text:
    """``████▓▓░░░░ 120/334 MiB``: managed, unmanaged, free; red when near the limit; ``97 MiB (no limit)`` without one."""
    t = Text()
    limit, used = w.memory_limit, w.memory
    if used is None:
        t.append("·" * width, style="dim")
        t.append(f" {mib(used)}")
        return t
    if not limit:  # no limit to fill a bar against (memory_limit 0/None): say so, no bar
        t.append(f"{mib(used)} (no limit)")
        return t
    managed = max(0, min(w.managed or 0, used))
    unmanaged = max(0, used - managed)
    free = max(0, limit - used)
    frac = used / limit
    hot = "bold red" if frac >= 0.8 else ("yellow" if frac >= 0.6 else "")
    parts = _cells([managed, unmanaged, free], width)
    t.append("█" * parts[0], style=hot or "green")
    t.append("▓" * parts[1], style=hot or "yellow")
    t.append("░" * parts[2], style="bright_black")
    t.append(f" {used_of(used, limit)}", style=hot)
    return t


def used_of(used: float, limit: float) -> str:
    """``120/334 MiB`` or ``0.1/12 GiB``: the used part in the limit's unit ("62/12 GiB" meant 62 MiB of
    12 GiB: the used part was in MiB whatever the limit's unit was)."""
    b = mib(limit)
    if b.endswith("GiB"):
        g = used / 2**30
        return f"{g:.1f}/{b}" if g < 10 else f"{g:.0f}/{b}"
    return f"{used / 2**20:.0f}/{b}"


def prefix_counts(p: PrefixCounts) -> dict[str, int]:
    """A prefix's Dask states in the review bars' terms (done, erred, running, pending)."""
    return {
        "succeeded": p.memory + p.released + p.forgotten,
        "failed": p.erred,
        "running": p.processing,
        "submitted": p.waiting + p.queued + p.no_worker,
    }


def prefix_bar(p: PrefixCounts, width: int = 20) -> Text:
    return state_bar(prefix_counts(p), width)


def done_fraction(p: PrefixCounts) -> float:
    return p.done / p.total if p.total else 0.0

"""Memory and walltime arithmetic for a retry: parse the request, propose the next one.

Requests are read as dask and Slurm read them (``16G`` = 16e9 bytes as
``parse_bytes`` does; Slurm time limits from ``MM`` to ``D-HH:MM:SS``), and
every proposal comes with the reason it gives, so the plan can show how a
number was made.
"""

from __future__ import annotations

import math
import re

__all__ = ["GB", "format_walltime", "memory_bytes", "more_memory", "more_walltime", "walltime_s"]

#: Memory multiplier and walltime multiplier of a retry.
MEMORY_FACTOR = 2.0
WALLTIME_FACTOR = 1.5
#: Scalable (``utilities._parse_memory_to_gb``) rounds component memory up to whole GB of 10**9 bytes.
GB = 10**9

_MEM = re.compile(r"^\s*+(\d+(?:\.\d+)?)\s*+([kKmMgGtTpP]?)(i?)[bB]?\s*+$")
_WALL = re.compile(r"^(?:(\d{1,4})-)?(\d{1,6}(?::\d{1,2}){0,2})$")
_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5}


def memory_bytes(text: str | None) -> float | None:
    """``"16G"`` -> 16e9, as dask's ``parse_bytes`` reads it (``G``/``GB`` = 10**9, ``GiB`` = 2**30)."""
    if not text or len(text) > 64:
        return None
    m = _MEM.match(text)
    if not m:
        return None
    unit = m.group(2).lower()
    base = 1024 if m.group(3) else 1000
    if not unit and m.group(3):
        return None
    return float(m.group(1)) * base ** _POWERS[unit]


def more_memory(requested: str | None, observed_peak_gb: float | None) -> tuple[str | None, str]:
    """The memory to request on retry, and the rule in words.

    Rule: ``ceil(2 × max(requested, observed peak))`` in whole gigabytes
    (10**9 bytes), written ``"<n>G"``: the unit Scalable's manifest uses
    (``components.<name>.memory``; Scalable rounds it up to whole GB anyway).
    The observed peak matters when it is above the request (a nanny that
    allowed more, a different node); for a task killed at its limit it is a
    lower bound (sacct under-reads OOM-killed jobs), hence twice, not a margin.
    """
    req = memory_bytes(requested)
    obs = observed_peak_gb * GB if observed_peak_gb is not None else None
    base = max((x for x in (req, obs) if x), default=None)
    if base is None:
        return None, "requested memory unknown: set components.<name>.memory explicitly"
    new = max(1, math.ceil(MEMORY_FACTOR * base / GB - 1e-9))
    parts = []
    if req:
        parts.append(f"requested {requested}")
    if obs:
        parts.append(f"observed peak {observed_peak_gb:g}G")
    return f"{new}G", f"2 × max({', '.join(parts)}) rounded up to whole GB"


def walltime_s(text: str | None) -> float | None:
    """A Slurm time limit in seconds: ``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH``, ``D-HH:MM``, ``D-HH:MM:SS``."""
    if not text or len(text) > 64:
        return None
    m = _WALL.match(text.strip())
    if not m:
        return None
    days = int(m.group(1)) if m.group(1) else 0
    parts = [int(x) for x in m.group(2).split(":")]
    if m.group(1):  # days-hours[:minutes[:seconds]]
        h, mi, s = (parts + [0, 0])[:3]
    elif len(parts) == 3:
        h, mi, s = parts
    elif len(parts) == 2:
        h, (mi, s) = 0, parts
    else:
        h, mi, s = 0, parts[0], 0
    return float(((days * 24 + h) * 60 + mi) * 60 + s)


def format_walltime(seconds: float) -> str:
    """``HH:MM:SS`` (hours may exceed 24): the only form Scalable's Slurm target accepts."""
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def more_walltime(requested: str | None, longest_s: float | None) -> tuple[str | None, str]:
    """The walltime to request on retry, and the rule in words.

    Rule: ``1.5 × max(requested, longest run time of these tasks)`` rounded up
    to whole minutes, as ``HH:MM:SS`` (the same factor the diagnosis suggests).
    """
    req = walltime_s(requested)
    base = max((x for x in (req, longest_s if longest_s and longest_s >= 60 else None) if x), default=None)
    if base is None:
        return None, "requested walltime unknown: set the target's walltime explicitly"
    new = math.ceil(WALLTIME_FACTOR * base / 60) * 60
    parts = []
    if req:
        parts.append(f"requested {requested}")
    if longest_s and longest_s >= 60:  # seconds-long failures say nothing about the limit
        parts.append(f"longest run {format_walltime(longest_s)}")
    return format_walltime(new), f"1.5 × max({', '.join(parts)}) rounded up to whole minutes"

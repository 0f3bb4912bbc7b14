"""Small value decoders shared by every stream of a run directory (and by the run index).

``parse_ts`` is cached because the same second repeats on thousands of lines.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

__all__ = ["KNOWN_SCHEMA", "parse_ts"]

#: The newest ``schema_version`` of Scalable's telemetry this reader knows (newer: counted as a notice).
KNOWN_SCHEMA = 1

_TS_CACHE: dict[str, float | None] = {}


def parse_ts(value: Any) -> float | None:
    """ISO-8601 (``…Z``) to epoch seconds; cached because seconds repeat a lot."""
    if not isinstance(value, str):
        return None
    hit = _TS_CACHE.get(value, -1.0)
    if hit != -1.0:
        return hit  # type: ignore[return-value]
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
        if dt.tzinfo is None:
            from datetime import timezone

            dt = dt.replace(tzinfo=timezone.utc)
        out: float | None = dt.timestamp()
    except ValueError:
        out = None
    if len(_TS_CACHE) > 200_000:
        _TS_CACHE.clear()
    _TS_CACHE[value] = out
    return out


def _str_or_none(v: Any) -> str | None:
    return v if isinstance(v, str) else None

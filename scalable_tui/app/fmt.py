"""Small formatting helpers shared by the screens (no Textual imports).

Everything that comes from a run (messages, tracebacks, names, paths) goes
through :func:`safe` and into ``rich.text.Text`` objects: never markup.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from typing import Any

from rich.text import Text

from assistant.textsafe import one_line, printable


def safe(value: Any) -> str:
    """Untrusted value -> printable string ('-' for None)."""
    if value is None:
        return "-"
    return printable(str(value))


def text(value: Any, style: str = "") -> Text:
    """Untrusted value -> a Text object that is never parsed as markup."""
    return Text(safe(value), style=style)


def highlight(cell: str, pattern: re.Pattern[str] | None, style: str = "") -> Text:
    """``cell`` (already printable) as Text with the filter's matches in reverse video."""
    t = Text(cell, style=style)
    if pattern is not None and pattern.pattern:
        for m in pattern.finditer(cell):
            if m.end() > m.start():
                t.stylize("reverse", m.start(), m.end())
    return t


def hl(value: Any, pattern: re.Pattern[str] | None, style: str = "") -> Text:
    """Untrusted value -> Text with the filter's matches highlighted (never markup)."""
    return highlight(safe(value), pattern, style)


def line(value: Any, limit: int = 120) -> str:
    return one_line(str(value), limit) if value is not None else "-"


def fmt_ts(ts: float | None) -> str:
    if ts is None or (isinstance(ts, float) and math.isnan(ts)):
        return "-"
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def fmt_iso(value: str | None) -> str:
    """ISO stamp as stored (shortened to seconds, 'T' replaced for readability)."""
    if not value:
        return "-"
    return safe(value.replace("T", " ")[:20])


def parse_iso(value: str | None) -> float | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def fmt_duration(seconds: float | None) -> str:
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"
    s = int(seconds)
    if s >= 86400:
        return f"{s // 86400}d {s % 86400 // 3600}h"
    if s >= 3600:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 60}m {s % 60:02d}s"

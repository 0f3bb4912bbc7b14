"""Formatting shared by every screen (no Textual imports): one place for each.

Severity styles, clocks, durations, ISO stamps, memory sizes, ids that must
stay distinguishable when narrowed, and finding titles that must not read
identically.  Screens import these instead of keeping their own copies, so a
time or a size reads the same on every screen.

Everything that comes from a run (messages, tracebacks, names, paths) goes
through :func:`safe` and into ``rich.text.Text`` objects: never markup.
"""

from __future__ import annotations

import math
import re
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from rich.text import Text

from assistant.render import SEVERITY_STYLE as SEVERITY_STYLE  # re-exported: the one table of severity styles
from assistant.textsafe import one_line, printable

if TYPE_CHECKING:
    from scalable_tui.model.diagnosis import Finding


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


_ISO_SECONDS = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)")


def fmt_iso(value: str | None) -> str:
    """An ISO stamp as ``YYYY-MM-DD HH:MM:SSZ`` (UTC), whatever its fraction or offset.

    Cutting the string at a fixed length left a stray dot (``23:54:19.``) on
    stamps with fractions; a stamp that does not parse is shown as stored.
    """
    if not value:
        return "-"
    ts = parse_iso(value)
    if ts is not None:
        return fmt_ts(ts)
    m = _ISO_SECONDS.match(value)
    return safe(f"{m.group(1)} {m.group(2)}" if m else value)


def fmt_span(first: str | None, last: str | None) -> str:
    """``first … last`` in one short cell: the date once when both are on the same UTC day."""
    a, b = fmt_iso(first), fmt_iso(last)
    if a == "-" or b == "-" or a == b:
        return a if b == "-" else b
    if a[:10] == b[:10]:
        return f"{a} … {b[11:]}"
    return f"{a} … {b}"


def fmt_span_short(first: str | None, last: str | None) -> str:
    """``08:11:31–08:11:45`` (UTC) on one day, else ``11-23 08:11–11-24 01:02``: a narrow table cell."""
    a, b = fmt_iso(first), fmt_iso(last)
    if a == "-" or b == "-" or len(a) != 20 or len(b) != 20:
        return fmt_span(first, last)
    if a[:10] == b[:10]:
        return a[11:19] if a == b else f"{a[11:19]}–{b[11:19]}"
    return f"{a[5:16]}–{b[5:16]}"


def same_day(stamps: Iterable[str | None]) -> bool:
    """True when every parseable stamp falls on one UTC day (a table may then show times only)."""
    days = {fmt_iso(s)[:10] for s in stamps if s and parse_iso(s) is not None}
    return len(days) <= 1


def fmt_iso_cell(value: str | None, one_day: bool) -> str:
    """A stamp in a table column: ``HH:MM:SS`` when the table spans one day, else ``MM-DD HH:MM:SS``."""
    full = fmt_iso(value)
    if len(full) != 20:
        return full
    return full[11:19] if one_day else full[5:19]


def fit_last(widths: Sequence[int], total: int, minimum: int = 12) -> int:
    """Cells left for the last (elastic) column of a DataTable ``total`` cells wide.

    Each column has one cell of padding on either side, and two cells are
    kept for the vertical scrollbar, so the last column is never cut at the
    right edge.
    """
    used = sum(widths) + 2 * (len(widths) + 1) + 2
    return max(minimum, total - used)


def clock(ts: float | None) -> str:
    """A wall-clock moment on the live screens (local time, seconds)."""
    return "-" if ts is None else time.strftime("%H:%M:%S", time.localtime(ts))


def ago(seconds: float | None) -> str:
    """An age (``12s``, ``3m 04s``); negative ages (clock skew) read as 0."""
    if seconds is None:
        return "-"
    return fmt_duration(max(0.0, seconds))


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


#: Task states (review: Overview bars, Tasks table).
TASK_STATE_STYLE = {"succeeded": "green", "failed": "bold red", "cancelled": "magenta", "running": "cyan",
                    "submitted": "dim"}


# -- notices -------------------------------------------------------------------
def clipboard_notice(copied: str) -> str:
    """What ``c`` says: the text was *sent* (OSC 52); whether the terminal took it cannot be known.

    Saying "copied" was false in terminals that ignore OSC 52 (tmux without
    set-clipboard, many SSH setups), so the notice says how to enable it and
    names the fallback that always works: export to a file.
    """
    n = copied.count("\n") or 1
    return (f"sent {n} line{'s' if n != 1 else ''} to the clipboard (OSC 52) — if nothing was copied, enable "
            "clipboard access in your terminal (tmux: set -g set-clipboard on), or press e to export to a file")


#: ``D`` outside attach: debugging a task needs its scheduler.
DEBUG_NEEDS_LIVE = "D needs a live scheduler: use attach ADDRESS, open a failed task, then D"


# -- memory ----------------------------------------------------------------------
def mib(n: float | int | None) -> str:
    """A size in MiB/GiB ("?" unknown)."""
    if n is None:
        return "?"
    if n >= 10 * 2**30:
        return f"{n / 2**30:.0f} GiB"
    if n >= 2**30:
        return f"{n / 2**30:.1f} GiB"
    return f"{n / 2**20:.0f} MiB"


def memory_of(used: float | int | None, limits: Sequence[float | int | None]) -> str:
    """``46 GiB of 64 GiB``; ``46 GiB (no limit)`` when no worker has a limit.

    Dask reports ``memory_limit`` 0/None for a worker started without one;
    summing those gave "46 GiB of 0 MiB".  With some limited and some not,
    the limit shown is the limited workers' sum and the others are counted.
    """
    known = [x for x in limits if x]
    unlimited = len(limits) - len(known)
    if not known:
        return f"{mib(used)} (no limit)"
    out = f"{mib(used)} of {mib(sum(known))}"
    if unlimited:
        out += f" (+{unlimited} worker{'s' if unlimited != 1 else ''} without a limit)"
    return out


# -- ids -------------------------------------------------------------------------
def elide_middle(value: str, width: int, tail: int) -> str:
    """``value`` in ``width`` cells keeping its last ``tail`` characters (``downscale-c8…e49dae6d``)."""
    if len(value) <= width:
        return value
    tail = max(1, min(tail, width - 2))
    head = max(0, width - tail - 1)
    return value[:head] + "…" + value[-tail:]


def short_ids(ids: Iterable[str], width: int = 24, min_tail: int = 8) -> dict[str, str]:
    """Each id in at most ``width`` cells, still telling every id of ``ids`` apart.

    Dask keys are ``name-<hash>``: the name is kept at the front and the hash's
    end (the part that differs) at the back; the kept tail grows until no two
    different ids read the same.  Ids that fit are shown in full.
    """
    uniq = list(dict.fromkeys(ids))
    tail = min_tail
    while True:
        out = {i: elide_middle(i, width, tail) for i in uniq}
        if len(set(out.values())) == len(uniq) or tail >= width - 2:
            break
        tail += 2
    if len(set(out.values())) != len(uniq):  # still ambiguous in ``width``: show them whole
        out = {i: i for i in uniq}
    return out


# -- findings --------------------------------------------------------------------
def title_distinctions(findings: Sequence["Finding"], limit: int = 60) -> dict[str, str]:
    """For findings whose titles collide: what tells each apart (``assistant.titles``, made safe to show)."""
    from assistant.titles import title_distinctions as distinctions

    return {k: safe(v) for k, v in distinctions(findings, limit).items()}


def distinct_title(f: "Finding", distinctions: dict[str, str], width: int | None = None) -> str:
    """The finding's title, plus what tells it apart when another finding has the same title.

    Narrowed to ``width`` cells, the title gives way before the distinguishing
    part (which keeps at least half the room): that part is the point.
    """
    title, extra = safe(f.title), distinctions.get(f.id)
    full = f"{title} — {extra}" if extra else title
    if width is None or len(full) <= width:
        return full
    if not extra:
        return one_line(title, width)
    keep = min(len(extra), max(width // 2, width - len(title) - 3))
    extra = one_line(extra, keep)
    return f"{one_line(title, max(1, width - len(extra) - 3))} — {extra}"

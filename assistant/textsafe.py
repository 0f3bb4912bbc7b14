"""Make untrusted text (exception messages, tracebacks) safe to print.

A message can carry terminal escape sequences (``\\x1b]52;`` writes the
clipboard, ``\\x1b[2J`` clears the screen) or Rich markup.  Everything we
print from a run goes through ``printable`` and is appended to Rich ``Text``
objects, never parsed as markup.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(m: re.Match[str]) -> str:
    c = m.group(0)
    o = ord(c)
    return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}"


def printable(text: str) -> str:
    """Control characters (other than newline and tab) shown as ``\\xNN``."""
    return _CONTROL.sub(_escape, text)


def one_line(text: str, limit: int = 200) -> str:
    """First line, printable, cut to ``limit`` characters."""
    first = printable(text.strip().splitlines()[0] if text.strip() else "")
    return first if len(first) <= limit else first[: limit - 1] + "…"

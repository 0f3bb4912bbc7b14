"""Make untrusted text (exception messages, tracebacks, any run field) safe to print.

A message can carry terminal escape sequences (``\\x1b]52;`` writes the
clipboard, ``\\x1b[2J`` clears the screen), C1 controls (``\\x9b`` is a CSI on
some terminals), bidi overrides that make text read differently than it is
(U+202E), lone surrogates (which crash a UTF-8 write) or Rich markup.  Every
untrusted string we print goes through ``printable`` (the one escaping
function: text, Markdown, JSON and the TUI show the same visible ``\\xNN`` /
``\\uNNNN`` form) and is appended to Rich ``Text`` objects, never parsed as
markup.

``clip`` bounds a field before it is matched or rendered: every regex that
sees untrusted text runs on at most a few kilobytes of it, so hostile sizes
(a 10 MB line) cost linear time.  It keeps the head and the tail because the
end of a traceback or message is often what tells bugs apart.
"""

from __future__ import annotations

import re

#: C0 controls except tab and newline, DEL, C1 controls, line/paragraph
#: separators, bidi marks, embeddings, overrides and isolates, zero-width characters (they hide text
#: in plain sight), lone surrogates.
_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u180e\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff"
    "\ud800-\udfff]"
)


def _escape(m: re.Match[str]) -> str:
    o = ord(m.group(0))
    return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}"


def printable(text: str) -> str:
    """Control, bidi and surrogate characters (not newline or tab) shown as ``\\xNN`` / ``\\uNNNN``.

    Idempotent: the output contains none of the escaped characters.
    """
    return _CONTROL.sub(_escape, text)


def printable_line(text: str) -> str:
    """``printable`` on one line: newlines and tabs shown as spaces (a field cannot fake a new row)."""
    return printable(text).replace("\r", " ").replace("\n", " ").replace("\t", " ")


def clip(text: str, limit: int) -> str:
    """At most about ``limit`` characters: the head and the tail, with a visible cut marker."""
    if len(text) <= limit:
        return text
    half = max(1, limit // 2)
    return f"{text[:half]} … ({len(text) - 2 * half} characters cut) … {text[-half:]}"


def one_line(text: str, limit: int = 200) -> str:
    """First line, printable, cut to ``limit`` characters."""
    text = text.lstrip()[: max(limit * 4, 4096)]  # the first line of a 10 MB text needs only its start
    first = printable(text.strip().splitlines()[0] if text.strip() else "")
    return first if len(first) <= limit else first[: limit - 1] + "…"

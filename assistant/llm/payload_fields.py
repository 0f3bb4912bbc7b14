"""Making one field safe to send: bounded, redacted whole, then normalised or cut.

A secret cut in half escapes its rule, so text is bounded at a token boundary
(never inside a placeholder) before redaction and cut only afterwards.  Also
the traceback trimming and the tokenizer-free token estimate the budget uses.
"""

from __future__ import annotations

import math
import re
from typing import Sequence

from assistant.llm.redact import Redactor
from assistant.llm.redact_rules import CUT_MARK

#: Bytes per token for the estimate.  English prose is ~4 characters per token
#: and code/JSON ~3; counting UTF-8 bytes at 3 per token over-estimates, which
#: is the safety margin (no tokenizer download needed).
BYTES_PER_TOKEN = 3.0
#: Fixed per-message overhead of the chat format, in tokens.
MESSAGE_OVERHEAD = 8

TB_LEVELS = (3, 1, 0)  # innermost frames kept; 0 = exception lines only
MAX_LINE = 300
MAX_EXC_LINES = 6

_CHAIN = re.compile(
    r"^((?:The above exception was the direct cause of the following exception:|"
    r"During handling of the above exception, another exception occurred:))\s*$",
    re.M,
)
_FILE = re.compile(r'^\s*File "')
_CARETS = re.compile(r"[~^\s]+")  # fullmatch: a line of carets and blanks only (linear)


_PH_TAIL = re.compile(r"<[a-z][a-z0-9_]*(?:-\d*)?$")
#: Longest text redacted per field; longer text is bounded at a token boundary first.
MAX_FIELD = 8000
MAX_TRACEBACK = 64_000
MAX_RAW_LINE = 4000


def _cut(s: str, n: int) -> str:
    """Shorten already-redacted text, never leaving half a placeholder behind."""
    if len(s) <= n:
        return s
    head = s[: n - 1]
    m = _PH_TAIL.search(head[-40:])
    if m:
        head = head[: len(head) - (len(head[-40:]) - m.start())]
    return head + "…"


def _drop_partial_token(s: str, was_cut: bool) -> str:
    """Text another part cut at a fixed length: drop the token the cut went through.

    A secret cut in half no longer matches its rule; without its last token
    the text can be redacted safely.
    """
    if not was_cut or not s or s[-1].isspace():
        return s
    i = max(s.rfind(" "), s.rfind("\n"), s.rfind("\t"))
    return s[: i + 1] + CUT_MARK if i >= 0 else CUT_MARK


def _bound_line(line: str, n: int = MAX_RAW_LINE) -> str:
    if len(line) <= n:
        return line
    return _drop_partial_token(line[:n], True) + f" [{len(line) - n} more characters]"


def _bound(text: str, n: int = MAX_FIELD) -> str:
    """At most ``n`` characters of the start of ``text``, cut between tokens.

    Keeps redaction linear and cheap on hostile sizes (a 10 MB message) while
    never cutting through a token that a rule would have to see whole.
    """
    if len(text) <= n:
        return text if max(map(len, text.split("\n"))) <= MAX_RAW_LINE else "\n".join(map(_bound_line, text.split("\n")))
    head = _drop_partial_token(text[:n], True)
    return "\n".join(map(_bound_line, head.split("\n"))) + f" [{len(text) - n} more characters]"


def _bound_tail(text: str, n: int = MAX_TRACEBACK) -> str:
    """The last ``n`` characters of a traceback (its end matters), from a line start."""
    if len(text) > n:
        tail = text[-n:]
        nl = tail.find("\n")
        text = f"[{len(text) - n + nl + 1} earlier characters omitted]\n" + (tail[nl + 1 :] if nl >= 0 else "")
    return "\n".join(map(_bound_line, text.split("\n")))


_PH_ANY = re.compile(r"<[a-z][a-z0-9_]*-\d+>")


def _normalised(red: Redactor, redacted: str) -> str:
    """The group pattern from a redacted message: placeholders survive normalisation."""
    from assistant.signature import normalize_message

    keep: list[str] = []

    def hide(m: re.Match[str]) -> str:
        keep.append(m.group(0))
        return chr(0xE000 + len(keep) - 1) if len(keep) <= 6000 else "?"

    hidden = _PH_ANY.sub(hide, redacted)
    out = normalize_message(hidden)
    return re.sub("[\ue000-\uf76f]", lambda m: keep[ord(m.group(0)) - 0xE000], out)


def trim_traceback(text: str, frames: int = 3) -> str:
    """Innermost ``frames`` frames of the last traceback plus every exception line.

    Chained tracebacks keep their exception lines and the "direct cause" /
    "during handling" separators; outer frames become one "… N frames
    omitted" line.  ``frames=0`` keeps the exception lines only.
    """
    parts = _CHAIN.split(text.strip("\n"))
    sections = parts[0::2]
    seps = parts[1::2]
    out: list[str] = []
    for idx, section in enumerate(sections):
        last = idx == len(sections) - 1
        lines = [ln for ln in section.strip("\n").splitlines() if ln.strip() and not _CARETS.fullmatch(ln)]
        starts = [i for i, ln in enumerate(lines) if _FILE.match(ln)]
        if starts:
            exc_start = next((i for i in range(starts[-1] + 1, len(lines)) if not lines[i].startswith((" ", "\t"))), len(lines))
            blocks = [lines[s:e] for s, e in zip(starts, starts[1:] + [exc_start])]
            exc = lines[exc_start:]
        else:
            blocks, exc = [], [ln for ln in lines if not ln.lower().startswith("traceback (")]
        keep = frames if last else min(frames, 1) if frames >= 3 else 0
        if blocks and keep:
            out.append("Traceback (most recent call last):")
            if len(blocks) > keep:
                out.append(f"  … {len(blocks) - keep} outer frame(s) omitted")
            for b in blocks[-keep:]:
                out.extend(_cut(ln, MAX_LINE) for ln in b[:3])
        elif blocks and frames:
            out.append(f"[{len(blocks)} frame(s) omitted]")
        if len(exc) > MAX_EXC_LINES:
            exc = exc[: MAX_EXC_LINES - 1] + [f"… {len(exc) - MAX_EXC_LINES + 1} more line(s)"]
        out.extend(_cut(ln, MAX_LINE) for ln in exc)
        if idx < len(seps):
            out.append(seps[idx])
    return "\n".join(out)


def estimate_tokens(messages: Sequence[dict[str, str]]) -> int:
    """A conservative token count without a tokenizer (see :data:`BYTES_PER_TOKEN`)."""
    n = sum(len(m.get("content", "").encode("utf-8")) for m in messages)
    return math.ceil(n / BYTES_PER_TOKEN) + MESSAGE_OVERHEAD * len(messages)

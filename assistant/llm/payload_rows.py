"""One group's entries in the payload: the redacted rows for findings, other groups and folded ones.

Every value goes through the request's :class:`~assistant.llm.redact.Redactor`
so the same value gets the same placeholder across rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Sequence

from assistant.llm.payload_fields import TB_LEVELS, _bound, _bound_tail, _cut, _drop_partial_token, _normalised, trim_traceback
from assistant.llm.redact import Redactor
from assistant.task_names import shown_names
from scalable_tui.model.diagnosis import Finding


@dataclass
class _Row:
    finding: Finding
    data: dict[str, Any]
    #: Redacted traceback variants by level (None: no traceback).
    tb: dict[int, str] = field(default_factory=dict)
    level: int | None = None


def _text(red: Redactor, s: str, n: int | None = None, *, cut_at: int | None = None) -> str:
    """Redact the whole field first, then cut: a secret cut in half would escape its rule."""
    if cut_at is not None:
        s = _drop_partial_token(s, len(s) >= cut_at)
    out = red.redact(_bound(s))
    return _cut(out, n) if n is not None else out


def _pattern(f: Finding, red: Redactor, n: int) -> str:
    """Redact, then normalise, then cut (the stored pattern was normalised first)."""
    if f.example_message:
        # (normalising costs more than linear on some shapes: only what can be kept is normalised)
        return _cut(_normalised(red, _cut(_text(red, f.example_message, cut_at=2000), 4 * n)), n)
    return _cut(_redact_normalised(red, f.pattern), n)


_MASK = re.compile(r"<(?:n|hex|hash|uuid|ip|host|size|time|url|address|email|pem|user)>")


def _redact_normalised(red: Redactor, pattern: str) -> str:
    """A pattern normalised before redaction: masks inside a secret ("abc<n>def") must not split it.

    Each mask becomes one private-use character that value rules take as part
    of a token, so the whole value is replaced; the masks come back after.
    """
    masks: list[str] = []

    def hide(m: re.Match[str]) -> str:
        masks.append(m.group(0))
        return chr(0xF000 + len(masks) - 1) if len(masks) <= 2000 else " "

    hidden = _MASK.sub(hide, _drop_partial_token(pattern, pattern.endswith("…")))
    out = red.redact(_bound(hidden))
    return re.sub("[\uf000-\uf7cf]", lambda m: masks[ord(m.group(0)) - 0xF000], out)


#: diagnose() quotes the example message cut at this length in suggestions ("(KeyError: …)").
SUGGESTION_QUOTE = 80


def _suggestion(f: Finding, red: Redactor) -> str:
    """The suggestion with its quoted (cut) example redacted from the full message, then cut."""
    text = f.suggestion
    msg = f.example_message
    if msg and len(msg) > SUGGESTION_QUOTE and msg[:SUGGESTION_QUOTE] in text:
        quoted = _cut(_text(red, msg, cut_at=2000), SUGGESTION_QUOTE + 1)
        parts = [_text(red, p) for p in text.split(msg[:SUGGESTION_QUOTE])]
        return _cut(quoted.join(parts), 800)
    return _text(red, text, 800)


def _target_row(f: Finding, red: Redactor) -> _Row:
    retry = {True: "transient (retry may help)", False: "permanent (retry will not help)", None: "unknown"}[f.transient]
    data: dict[str, Any] = {
        "id": f.id,
        "category": f.category,
        "severity": f.severity,
        "title": _text(red, f.title),
        "count": f.count,
        "heuristic_retry": retry,
    }
    if f.exception_types:
        data["exception_types"] = [_text(red, t, 200) for t in f.exception_types]
    if f.pattern or f.example_message:
        data["pattern"] = _pattern(f, red, 400)
    if f.phase and f.phase != "task_execution":
        data["phase"] = _text(red, f.phase, 200)
    if f.task_names:
        shown, more = shown_names(f.task_names, 3)  # a map's 2500 names as name[…] ×2500, not three "×1"
        data["tasks"] = [_text(red, f"{k} ×{v}", 300) for k, v in shown] + ([f"… {more} more"] if more else [])
    res = {k.removeprefix("requested_"): v for k, v in (f.resources or {}).items() if v is not None and k != "provider"}
    if res:
        data["requested"] = red.redact_obj(res)
    data["heuristic_suggestion"] = _suggestion(f, red)
    if f.example_message:
        data["example_message"] = _text(red, f.example_message, 500, cut_at=2000)
    if not f.count and f.evidence:  # run-level findings: the evidence is the example
        data["evidence"] = [_text(red, e.text, 200, cut_at=500) for e in f.evidence[:3]]
    row = _Row(f, data)
    if f.example_traceback:
        # Redact the whole (bounded) traceback first, then trim: trimming cuts lines.
        full = red.redact(_bound_tail(f.example_traceback))
        for level in TB_LEVELS:
            row.tb[level] = trim_traceback(full, level)
        row.level = TB_LEVELS[0]
    return row


def _other_row(f: Finding, red: Redactor) -> dict[str, Any]:
    row: dict[str, Any] = {"category": f.category, "count": f.count}
    if f.exception_types:
        row["exception_types"] = [_text(red, t, 200) for t in f.exception_types[:3]]
    if f.pattern or f.example_message:
        row["pattern"] = _pattern(f, red, 120)
    return row


def _more_line(folded: Sequence[Finding]) -> dict[str, Any]:
    by: dict[str, list[int]] = {}
    for f in folded:
        g = by.setdefault(f.category, [0, 0])
        g[0] += 1
        g[1] += f.count
    cats = sorted(by.items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0]))
    parts = ", ".join(f"{c}: {g} group{'s' if g != 1 else ''}/{n} failure{'s' if n != 1 else ''}" for c, (g, n) in cats)
    failures = sum(f.count for f in folded)
    return {
        "text": f"and {len(folded)} more group{'s' if len(folded) != 1 else ''} ({parts})",
        "groups": len(folded),
        "failures": failures,
        "by_category": {c: {"groups": g, "failures": n} for c, (g, n) in cats},
    }

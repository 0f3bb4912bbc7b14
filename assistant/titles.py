"""What tells apart findings whose titles are the same.

Two rows reading ``ValueError in parse_region_config`` twice hide that they
are two different causes.  The Findings and Overview screens said what
differs; the text and Markdown reports listed the twin titles as they were.
All of them use this one rule.
"""

from __future__ import annotations

from typing import Callable, Sequence

from assistant.textsafe import one_line, printable
from scalable_tui.model.diagnosis import Finding


def title_distinctions(findings: Sequence[Finding], limit: int = 60) -> dict[str, str]:
    """For findings whose titles collide: what tells each apart (finding id -> a few printable words).

    The first field that differs within the colliding set is used: the message
    pattern, the exception chain, the workers, the components, the task names,
    the phase; else the signature.
    """
    by_title: dict[str, list[Finding]] = {}
    for f in findings:
        by_title.setdefault(f.title, []).append(f)
    out: dict[str, str] = {}
    fields: tuple[Callable[[Finding], str], ...] = (
        lambda f: one_line(f.pattern or f.example_message, limit) if (f.pattern or f.example_message) else "",
        lambda f: " <- ".join(f.exception_types),
        lambda f: ", ".join(f.workers[:2]),
        lambda f: ", ".join(sorted(f.components)),
        lambda f: ", ".join(sorted(f.task_names)),
        lambda f: f.phase or "",
    )
    for group in by_title.values():
        if len(group) < 2:
            continue
        for get in fields:
            values = [get(f) for f in group]
            if len(set(values)) > 1:
                for f, v in zip(group, values):
                    out[f.id] = printable(v) if v else "-"
                break
        else:
            for f in group:
                out[f.id] = f"signature {printable(f.signature or f.id)}"
    return out


def titled(f: Finding, distinctions: dict[str, str]) -> str:
    """The finding's title, and what tells it apart when another finding has the same title."""
    extra = distinctions.get(f.id)
    return f"{f.title} — {extra}" if extra else f.title

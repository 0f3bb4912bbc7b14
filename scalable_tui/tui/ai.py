"""AI explanations in the review app: per-finding state and how it is shown (no Textual imports).

The app keeps one :class:`AIEntry` per finding that was asked about (or for
which the user pressed the explain key while AI is off).  The worker that
talks to the model lives in :mod:`scalable_tui.tui.app`; the screens render
:func:`ai_section` under the heuristic finding.  The model's reply is
untrusted: it goes through :func:`assistant.textsafe.printable` into Rich
``Text`` objects, never markup, and is never executed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from rich.text import Text

from assistant.render import RETRY_AI_TEXT
from assistant.textsafe import one_line, printable

#: The one line shown when AI is not configured (how to turn it on).
AI_OFF_LINE = (
    "AI explanations are off: restart with --ai-endpoint URL (an OpenAI-compatible server) "
    "or set SCALABLE_AI_ENDPOINT, or set OPENAI_API_KEY"
)
#: The one line shown with ``--no-ai``.
NO_AI_LINE = "AI explanations are off (--no-ai): nothing is sent; restart without --no-ai to use them"
#: How much of a streamed reply the pane shows while it arrives (the tail).
STREAM_TAIL = 4000

Status = Literal["off", "asking", "done", "error", "cancelled"]


@dataclass
class AIEntry:
    """What the app knows about the AI explanation of one finding."""

    finding_id: str
    status: Status
    #: Identifies the request: late messages of an older request are dropped.
    token: int = 0
    model: str = ""
    endpoint: str = ""
    #: One line for ``off``, ``error`` and ``cancelled``.
    message: str | None = None
    #: The reply text received so far (streamed; raw, untrusted).
    streamed: list[str] = field(default_factory=list)
    #: The ``ExplanationResult`` once the request ended.
    result: Any = None
    cancel: threading.Event | None = None

    @property
    def busy(self) -> bool:
        return self.status == "asking"

    def streamed_text(self) -> str:
        return "".join(self.streamed)

    def explanation(self) -> dict[str, Any] | None:
        r = self.result
        if r is None:
            return None
        exp = (getattr(r, "explanations", None) or {}).get(self.finding_id)
        return exp if isinstance(exp, dict) else None


def _flat(value: object) -> str:
    return printable(str(value)).replace("\n", " ").strip()


def ai_section(entry: AIEntry | None) -> Text:
    """The AI block under a finding (empty Text when there is nothing to show)."""
    t = Text()
    if entry is None:
        return t
    if entry.status == "off":
        t.append(one_line(entry.message or AI_OFF_LINE, 300), style="yellow")
        return t
    if entry.status == "asking":
        t.append("⟳ asking model… ", style="bold magenta")
        t.append(f"{_flat(entry.model)} at {_flat(entry.endpoint)}  ·  Esc cancels", style="dim")
        text = entry.streamed_text()
        if text:
            tail = text if len(text) <= STREAM_TAIL else "…" + text[-STREAM_TAIL:]
            t.append(f"\nreceiving ({len(text)} chars):\n", style="dim")
            t.append(printable(tail), style="italic")
        return t
    if entry.status == "cancelled":
        t.append(one_line(entry.message or "AI request cancelled", 300), style="yellow")
        return t
    if entry.status == "error":
        t.append(one_line(entry.message or "AI explanations unavailable", 300), style="bold red")
        return t
    # done
    r = entry.result
    exp = entry.explanation()
    cached = "  (cached reply)" if getattr(r, "cached", False) else ""
    if exp is not None:
        conf = exp.get("confidence")
        t.append(f"Explanation (AI, {_flat(exp.get('model') or entry.model)}", style="bold magenta")
        t.append(f", confidence: {_flat(conf)})" if conf else ")", style="bold magenta")
        t.append(cached + "\n", style="dim")
        for k, v in (("summary", exp.get("summary")), ("likely cause", exp.get("likely_cause"))):
            if v:
                t.append(f"{k:<14}", style="bold")
                t.append(_flat(v) + "\n")
        steps = [s for s in exp.get("fix_steps") or [] if isinstance(s, str) and s.strip()]
        if steps:
            t.append("fix steps\n", style="bold")
            for n, s in enumerate(steps, 1):
                t.append(f"  {n}. ")
                t.append(_flat(s) + "\n")
        t.append(f"{'retry':<14}", style="bold")
        t.append(f"{RETRY_AI_TEXT.get(exp.get('retry_may_help'), 'unknown')}\n")
        if conf:
            t.append(f"{'confidence':<14}", style="bold")
            t.append(_flat(conf) + "\n")
    elif getattr(r, "text", None):
        t.append(f"AI reply (unstructured text from {_flat(entry.model)}, not validated):", style="bold magenta")
        t.append(cached + "\n", style="dim")
        t.append(printable(str(r.text).strip()) + "\n")
    else:
        t.append("AI: the reply did not explain this finding\n", style="yellow")
    for p in getattr(r, "problems", None) or []:
        t.append(f"note: {one_line(p, 300)}\n", style="dim")
    t.rstrip()
    return t


def ai_status_line(entry: AIEntry | None) -> str | None:
    """A short status for the footer line while a request runs."""
    if entry is None or not entry.busy:
        return None
    n = sum(len(s) for s in entry.streamed)
    return "asking model…" + (f" ({n} chars)" if n else "") + " · Esc cancels"

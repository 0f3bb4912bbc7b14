"""The shape the model must answer in, validated with pydantic.

The schema is strict-mode compatible (every field required, no extra
fields), so it can be sent as a ``json_schema`` response format; servers that
lack it get the same shape described in the prompt (JSON mode, then text).
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

#: Caps applied after validation: the reply is untrusted and may be huge.
MAX_TEXT = 1200
MAX_STEPS = 8
MAX_STEP = 500


class FindingExplanation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    finding_id: str
    summary: str
    likely_cause: str
    fix_steps: list[str]
    retry_may_help: bool | None
    confidence: Literal["low", "medium", "high"]


class ExplanationReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    explanations: list[FindingExplanation]


def _cut(s: str, n: int) -> str:
    s = s.strip()
    return s if len(s) <= n else s[: n - 1] + "…"


def capped(e: FindingExplanation) -> dict[str, Any]:
    """The explanation as a plain dict, with lengths capped (no ``finding_id``)."""
    return {
        "summary": _cut(e.summary, MAX_TEXT),
        "likely_cause": _cut(e.likely_cause, MAX_TEXT),
        "fix_steps": [_cut(s, MAX_STEP) for s in e.fix_steps[:MAX_STEPS] if s.strip()],
        "retry_may_help": e.retry_may_help,
        "confidence": e.confidence,
    }


def json_schema_response_format() -> dict[str, Any]:
    """``response_format`` for ``stream=True`` requests (the parse helper builds its own)."""
    return {
        "type": "json_schema",
        "json_schema": {"name": "finding_explanations", "strict": True, "schema": ExplanationReply.model_json_schema()},
    }


_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*?)\n\s*```\s*$", re.S)


def extract_json(text: str) -> Any:
    """The JSON object in a reply (bare, or fenced in ```json … ```); raises ValueError."""
    t = text.strip()
    m = _FENCE.match(t)
    if m:
        t = m.group(1).strip()
    try:
        return json.loads(t)
    except ValueError:
        start, end = t.find("{"), t.rfind("}")
        if start == -1 or end <= start:
            raise
        return json.loads(t[start : end + 1])


def validate_reply(doc: Any) -> tuple[list[FindingExplanation], list[str]]:
    """Valid explanations and one-line problems; salvages the valid items of a partly bad reply."""
    try:
        return list(ExplanationReply.model_validate(doc).explanations), []
    except ValidationError as exc:
        whole_error = _first_error(exc)
    items = doc.get("explanations") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        return [], [f"the reply does not match the expected schema ({whole_error})"]
    good: list[FindingExplanation] = []
    bad = 0
    first = ""
    for item in items:
        try:
            good.append(FindingExplanation.model_validate(item))
        except ValidationError as exc:
            bad += 1
            first = first or _first_error(exc)
    problems = [f"{bad} of {len(items)} explanation(s) in the reply did not match the expected schema ({first})"] if bad else []
    return good, problems


def _first_error(exc: ValidationError) -> str:
    errs = exc.errors()
    if not errs:
        return "invalid"
    e = errs[0]
    loc = ".".join(str(x) for x in e.get("loc", ())) or "reply"
    more = f", +{len(errs) - 1} more" if len(errs) > 1 else ""
    return f"{loc}: {e.get('msg', 'invalid')}{more}"

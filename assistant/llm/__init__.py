"""LLM explanations of the heuristic findings: summarised, redacted, validated, cached.

Nothing here imports openai at import time (only
:func:`assistant.llm.transport._request` does, when a request is made), so this
package is as light as the rest of ``assistant``.

The API, for the CLI and the TUI alike:

- :func:`resolve_config` -- endpoint/model/key from options, ``SCALABLE_AI_*``, ``OPENAI_*``;
- :func:`build_prompt` / :func:`build_messages` -- exactly what would be sent
  (redacted, within the token budget), for ``--show-prompt`` and previews;
- :func:`explain_findings` -- one request, optionally streamed (``on_delta``)
  and cancellable (``cancel_event``), never raising for network/reply problems;
- :func:`attach_explanations` -- a copy of the ``Diagnosis`` with ``explanations``.
"""

from __future__ import annotations

from assistant.llm.client import ExplanationResult, attach_explanations, explain_findings
from assistant.llm.config import AI_OFF_HINT, AIConfig, resolve_config
from assistant.llm.context import run_context
from assistant.llm.payload import Prompt, build_messages, build_prompt
from assistant.llm.prompt_text import PROMPT_VERSION
from assistant.llm.redact import Redactor
from assistant.llm.redact_compile import RedactionRulesError

__all__ = [
    "AI_OFF_HINT",
    "AIConfig",
    "ExplanationResult",
    "PROMPT_VERSION",
    "Prompt",
    "RedactionRulesError",
    "Redactor",
    "attach_explanations",
    "build_messages",
    "build_prompt",
    "explain_findings",
    "resolve_config",
    "run_context",
]

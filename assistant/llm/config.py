"""Where the AI endpoint, model and key come from (the conventions users already have).

Precedence, first found wins, separately for endpoint, model and key:

1. options (``--ai-endpoint``, ``--ai-model``),
2. Scalable's variables (``SCALABLE_AI_ENDPOINT``, ``SCALABLE_AI_MODEL``,
   ``SCALABLE_AI_API_KEY``),
3. the openai ones (``OPENAI_BASE_URL``, ``OPENAI_API_KEY``).

AI is *enabled* only when an endpoint or a key is configured.  A local
OpenAI-compatible server (vLLM, llama.cpp, Ollama's ``/v1``) needs no key: a
placeholder is sent.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit, urlunsplit

DEFAULT_ENDPOINT = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MAX_RETRIES = 2
DEFAULT_BUDGET_TOKENS = 6000
#: Findings explained per run request (the biggest/most severe ones); the
#: other groups are sent as compact context or folded into one line.
DEFAULT_MAX_FINDINGS = 10
#: Sent as the key to servers that need none (the openai client insists on one).
PLACEHOLDER_KEY = "no-key-required"

AI_OFF_HINT = (
    "note: AI explanations are off; to turn them on set SCALABLE_AI_ENDPOINT (or --ai-endpoint) "
    "to an OpenAI-compatible server, or OPENAI_API_KEY; --no-ai hides this note"
)


@dataclass(slots=True)
class AIConfig:
    """Everything the explanation step needs; build it with :func:`resolve_config`."""

    endpoint: str | None = None
    model: str = DEFAULT_MODEL
    api_key: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_retries: int = DEFAULT_MAX_RETRIES
    budget_tokens: int = DEFAULT_BUDGET_TOKENS
    max_findings: int = DEFAULT_MAX_FINDINGS
    keep_hosts: bool = False
    use_cache: bool = True
    cache_dir: Path | None = None
    redact_rules_file: Path | None = None
    #: OPENAI_ORG_ID / OPENAI_PROJECT_ID, only where OPENAI_API_KEY may go (else None).
    organization: str | None = None
    project: str | None = None
    #: True when the endpoint is one the openai conventions would send OPENAI_* settings to.
    openai_env_ok: bool = True
    #: Where each value came from, for messages ("--ai-endpoint", "SCALABLE_AI_ENDPOINT", …).
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        return bool(self.endpoint or self.api_key)

    @property
    def base_url(self) -> str:
        return (self.endpoint or DEFAULT_ENDPOINT).rstrip("/")

    @property
    def key_for_request(self) -> str:
        return self.api_key or PLACEHOLDER_KEY


def safe_url(url: str) -> str:
    """The URL without credentials, query or fragment: fit for messages and cache keys."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid url>"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _is_openai(endpoint: str | None) -> bool:
    from urllib.parse import urlsplit

    host = (urlsplit(endpoint).hostname or "") if endpoint else ""
    return host == "api.openai.com"


def _first(*pairs: tuple[str | None, str]) -> tuple[str | None, str | None]:
    for value, source in pairs:
        if value is not None and str(value).strip():
            return str(value).strip(), source
    return None, None


def resolve_config(
    *,
    endpoint: str | None = None,
    model: str | None = None,
    timeout_s: float | None = None,
    budget_tokens: int | None = None,
    keep_hosts: bool = False,
    use_cache: bool = True,
    redact_rules_file: str | Path | None = None,
    max_findings: int | None = None,
    env: Mapping[str, str] | None = None,
) -> AIConfig:
    """Options first, then ``SCALABLE_AI_*``, then ``OPENAI_*`` (see the module doc)."""
    env = os.environ if env is None else env
    sources: dict[str, str] = {}
    ep, src = _first(
        (endpoint, "--ai-endpoint"),
        (env.get("SCALABLE_AI_ENDPOINT"), "SCALABLE_AI_ENDPOINT"),
        (env.get("OPENAI_BASE_URL"), "OPENAI_BASE_URL"),
    )
    if src:
        sources["endpoint"] = src
    md, src = _first((model, "--ai-model"), (env.get("SCALABLE_AI_MODEL"), "SCALABLE_AI_MODEL"))
    if src:
        sources["model"] = src
    # OPENAI_API_KEY goes only where the openai conventions would send it (the
    # OPENAI_BASE_URL server, or OpenAI itself): a --ai-endpoint or
    # SCALABLE_AI_ENDPOINT pointing at someone else's server must not receive
    # the user's OpenAI key just because it sits in the environment.
    openai_key_ok = sources.get("endpoint") in (None, "OPENAI_BASE_URL") or _is_openai(ep)
    key, src = _first(
        (env.get("SCALABLE_AI_API_KEY"), "SCALABLE_AI_API_KEY"),
        (env.get("OPENAI_API_KEY") if openai_key_ok else None, "OPENAI_API_KEY"),
    )
    if src:
        sources["api_key"] = src
    rules, src = _first(
        (str(redact_rules_file) if redact_rules_file else None, "--redact-rules"),
        (env.get("SCALABLE_TUI_REDACT_RULES"), "SCALABLE_TUI_REDACT_RULES"),
    )
    if src:
        sources["redact_rules"] = src
    org = (env.get("OPENAI_ORG_ID") or "").strip() or None
    proj = (env.get("OPENAI_PROJECT_ID") or "").strip() or None
    return AIConfig(
        organization=org if openai_key_ok else None,
        project=proj if openai_key_ok else None,
        openai_env_ok=openai_key_ok,
        endpoint=ep,
        model=md or DEFAULT_MODEL,
        api_key=key,
        timeout_s=DEFAULT_TIMEOUT_S if timeout_s is None else max(0.1, float(timeout_s)),
        budget_tokens=DEFAULT_BUDGET_TOKENS if budget_tokens is None else max(1, int(budget_tokens)),
        max_findings=DEFAULT_MAX_FINDINGS if max_findings is None else int(max_findings),
        keep_hosts=keep_hosts,
        use_cache=use_cache,
        cache_dir=cache_dir(env),
        redact_rules_file=Path(rules).expanduser() if rules else None,
        sources=sources,
    )


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$SCALABLE_TUI_CACHE_DIR``, else ``$XDG_CACHE_HOME/scalable-tui``, else ``~/.cache/scalable-tui``."""
    env = os.environ if env is None else env
    explicit = env.get("SCALABLE_TUI_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = env.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "scalable-tui"

"""Transport to an OpenAI-compatible endpoint: the module that talks to openai.

``openai`` is imported inside functions only (here, and once in
:func:`assistant.llm.client.explain_findings` before the clock starts), so
``import assistant`` (and ``import assistant.llm``) stays light and opens no
socket.  One deadline bounds all attempts, retries honour ``Retry-After``,
a cancel event aborts promptly, and every failure becomes one line
(:func:`_describe`).
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any, Callable, Literal

from assistant.llm.config import AIConfig, safe_url
from assistant.llm.payload import Prompt
from assistant.textsafe import one_line

Mode = Literal["json_schema", "json_object", "text"]
MODES: tuple[Mode, ...] = ("json_schema", "json_object", "text")

#: An HTTP body larger than this is refused as it arrives (an explanation of a few findings is a few KB;
#: a streamed one carries ~100 bytes of framing per token): an endless or huge reply must not fill the memory.
MAX_BODY_BYTES = 32 << 20
#: The model's text, streamed or not.
MAX_REPLY_CHARS = 4 << 20


class _Cancelled(Exception):
    pass


class _TooLarge(Exception):
    pass


class _PastDeadline(Exception):
    pass


def _httpx() -> Any:
    """The HTTP library the installed openai client is built on (``httpx``, or ``httpx2`` in newer ones)."""
    try:
        import httpx2 as httpx  # type: ignore[import-not-found]
    except ImportError:
        import httpx  # type: ignore[import-not-found,no-redef]
    return httpx


def _bounded_http_client(deadline: float, abort: threading.Event) -> Any:
    """An HTTP client whose response bodies stop at ``MAX_BODY_BYTES``, the deadline or a cancel.

    The client's own timeout is per read: a server that trickles bytes, or
    sends forever, would otherwise hold the request (and the memory) past
    ``--ai-timeout``.  The bounds are checked as the body arrives.
    """
    import openai

    httpx = _httpx()

    class Bounded(httpx.SyncByteStream):  # type: ignore[misc,name-defined]
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def __iter__(self) -> Any:
            n = 0
            for chunk in self.inner:
                n += len(chunk)
                if n > MAX_BODY_BYTES:
                    raise _TooLarge(f"more than {MAX_BODY_BYTES >> 20} MB")
                if time.monotonic() > deadline:
                    raise _PastDeadline()
                if abort.is_set():
                    raise _Cancelled()
                yield chunk

        def close(self) -> None:
            self.inner.close()

    class Transport(httpx.BaseTransport):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            self.inner = httpx.HTTPTransport()

        def handle_request(self, request: Any) -> Any:
            response = self.inner.handle_request(request)
            response.stream = Bounded(response.stream)
            return response

        def close(self) -> None:
            self.inner.close()

    return openai.DefaultHttpxClient(transport=Transport())


def _cause(exc: BaseException | None, kinds: tuple[type[BaseException], ...]) -> BaseException | None:
    """``exc`` or the exception it was raised from (the client wraps what the body's reader raised)."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, kinds):
            return exc
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def _request(
    cfg: AIConfig,
    prompt: Prompt,
    on_delta: Callable[[str], None] | None,
    abort: threading.Event,
    holder: dict[str, Any],
    deadline: float,
) -> tuple[str, Mode]:
    """One logical request (json_schema, falling back to JSON mode, then text).

    Retries are made here, not by the client, so that every attempt and every
    pause fits in the one deadline and the last failure can be named.
    """
    import openai  # the only place: keeps `import assistant` free of it

    client = openai.OpenAI(
        base_url=cfg.base_url,
        api_key=cfg.key_for_request,
        timeout=cfg.timeout_s,
        max_retries=0,
        # Never from the environment: OPENAI_ORG_ID / OPENAI_PROJECT_ID go only
        # where OPENAI_API_KEY would (see AIConfig.organization).
        organization=cfg.organization,
        project=cfg.project,
        http_client=_bounded_http_client(deadline, abort),
    )
    # The client reads OPENAI_ORG_ID, OPENAI_PROJECT_ID and OPENAI_CUSTOM_HEADERS
    # itself when given None: undo that for endpoints that must not get them.
    client.organization = cfg.organization
    client.project = cfg.project
    if not cfg.openai_env_ok and isinstance(getattr(client, "_custom_headers", None), dict):
        client._custom_headers = {}
    holder["client"] = client
    notes: list[str] = holder.setdefault("notes", [])
    try:
        for i, mode in enumerate(MODES):
            if abort.is_set():
                raise _Cancelled()
            try:
                if on_delta is not None:
                    return _retrying(cfg, abort, holder, deadline, lambda t: _streamed(client, cfg, prompt, mode, on_delta, abort, t)), mode
                return _retrying(cfg, abort, holder, deadline, lambda t: _single(client, cfg, prompt, mode, t)), mode
            except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                # Servers without json_schema (or JSON mode) answer 400/422: try the next mode.
                if i == len(MODES) - 1:
                    raise
                notes.append(f"{mode} rejected (HTTP {exc.status_code}); trying {MODES[i + 1]}")
        raise AssertionError("unreachable")
    finally:
        try:
            client.close()
        except Exception:  # noqa: BLE001
            pass


def _retry_after(exc: Any) -> float | None:
    headers = getattr(getattr(exc, "response", None), "headers", None)
    if headers is None:
        return None
    try:
        if headers.get("retry-after-ms"):
            return float(headers["retry-after-ms"]) / 1000.0
        if headers.get("retry-after"):
            return float(headers["retry-after"])
    except (TypeError, ValueError):
        return None
    return None


def _retrying(cfg: AIConfig, abort: threading.Event, holder: dict[str, Any], deadline: float, call: Callable[[float], str]) -> str:
    """``call(seconds left)`` with up to ``cfg.max_retries`` retries, all before ``deadline``."""
    import openai

    attempt = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise openai.APITimeoutError(request=None)  # type: ignore[arg-type]
        holder["attempts"] = holder.get("attempts", 0) + 1
        try:
            return call(left)
        except (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError, openai.ConflictError) as exc:
            holder["last_exc"] = exc
            if _cause(exc, (_TooLarge, _PastDeadline, _Cancelled)) is not None:
                raise  # the body's own bounds: another attempt would meet them again
            attempt += 1
            if attempt > cfg.max_retries or abort.is_set():
                raise
            delay = _retry_after(exc)
            if delay is None or not 0 <= delay <= 60:
                delay = min(0.5 * 2 ** (attempt - 1), 8.0) * (1 - 0.25 * random.random())
            if time.monotonic() + delay >= deadline:
                raise  # the pause alone would pass the deadline: name this failure now
            if abort.wait(delay):
                raise _Cancelled() from None


def _response_format(mode: Mode) -> dict[str, Any] | None:
    from assistant.llm.schema import json_schema_response_format

    if mode == "json_schema":
        return json_schema_response_format()
    if mode == "json_object":
        return {"type": "json_object"}
    return None


def _single(client: Any, cfg: AIConfig, prompt: Prompt, mode: Mode, timeout: float) -> str:
    import openai
    import pydantic

    from assistant.llm.schema import ExplanationReply

    if mode == "json_schema":
        # The client's structured-output parsing (sends the pydantic model as a strict json_schema).
        raw = client.chat.completions.with_raw_response.parse(
            model=cfg.model, messages=prompt.messages, response_format=ExplanationReply, timeout=timeout
        )
        try:
            completion = raw.parse()
        except (pydantic.ValidationError, ValueError, openai.LengthFinishReasonError) as exc:
            # The reply did not parse: take its raw text so it can be salvaged and reported.
            if isinstance(exc, openai.LengthFinishReasonError):
                raise
            return _content_from_body(raw.http_response)
        if not completion.choices:
            return ""
        msg = completion.choices[0].message
        if msg.refusal:
            raise _Refused(msg.refusal)
        if msg.parsed is not None:
            return _bounded_text(msg.parsed.model_dump_json())
        return _bounded_text(msg.content or "")
    kwargs: dict[str, Any] = {}
    rf = _response_format(mode)
    if rf is not None:
        kwargs["response_format"] = rf
    completion = client.chat.completions.create(model=cfg.model, messages=prompt.messages, timeout=timeout, **kwargs)
    if not getattr(completion, "choices", None):
        return ""
    msg = completion.choices[0].message
    if getattr(msg, "refusal", None):
        raise _Refused(msg.refusal)
    if completion.choices[0].finish_reason == "length" and mode != "text":
        raise _Truncated()
    return _bounded_text(msg.content or "")


def _bounded_text(text: str) -> str:
    if len(text) > MAX_REPLY_CHARS:
        raise _text_too_large()
    return text


def _text_too_large() -> _TooLarge:
    return _TooLarge(f"more than {MAX_REPLY_CHARS >> 20}M characters")


def _content_from_body(http_response: Any) -> str:
    try:
        body = http_response.json()
        return _bounded_text(str(body["choices"][0]["message"].get("content") or ""))
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise _BadBody() from None


def _streamed(
    client: Any, cfg: AIConfig, prompt: Prompt, mode: Mode, on_delta: Callable[[str], None], abort: threading.Event, timeout: float
) -> str:
    kwargs: dict[str, Any] = {}
    rf = _response_format(mode)
    if rf is not None:
        kwargs["response_format"] = rf
    stream = client.chat.completions.create(model=cfg.model, messages=prompt.messages, stream=True, timeout=timeout, **kwargs)
    parts: list[str] = []
    size = 0
    try:
        for chunk in stream:
            if abort.is_set():
                raise _Cancelled()
            for choice in getattr(chunk, "choices", None) or []:
                delta = getattr(choice.delta, "content", None) if choice.delta is not None else None
                if delta:
                    size += len(delta)
                    if size > MAX_REPLY_CHARS:
                        raise _text_too_large()
                    parts.append(delta)
                    on_delta(delta)
                if getattr(choice.delta, "refusal", None):
                    raise _Refused(choice.delta.refusal)
    finally:
        try:
            stream.close()
        except Exception:  # noqa: BLE001
            pass
    return "".join(parts)


class _Refused(Exception):
    pass


class _Truncated(Exception):
    pass


class _BadBody(Exception):
    pass


def _timeout_text(cfg: AIConfig) -> str:
    return (f"{safe_url(cfg.base_url)} did not answer within {cfg.timeout_s:g}s "
            "(--ai-timeout: the total time for the request, retries included)")


def _describe(exc: BaseException, cfg: AIConfig, n_attempts: int | None = None) -> tuple[str, str]:
    """(kind, one-line message) for a failed request; server text is untrusted."""
    import openai

    where = safe_url(cfg.base_url)
    n = cfg.max_retries + 1 if n_attempts is None else n_attempts
    attempts = f"{n} attempt{'s' if n != 1 else ''}"

    def server_says(e: Any) -> str:
        body = getattr(e, "body", None)
        msg = body.get("message") if isinstance(body, dict) else None
        if msg is None and isinstance(body, dict) and isinstance(body.get("error"), dict):
            msg = body["error"].get("message")
        return f": {one_line(str(msg), 120)}" if msg else ""

    big = _cause(exc, (_TooLarge,))
    if big is not None:
        return "too_large", f"{where} sent a reply too large to take ({big}); it was dropped"
    if isinstance(exc, openai.APITimeoutError) or _cause(exc, (_PastDeadline,)) is not None:
        return "timeout", _timeout_text(cfg)
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        why = one_line(str(cause), 120) if cause else "connection failed"
        return "connection", f"cannot connect to {where} ({why})"
    if isinstance(exc, openai.AuthenticationError):
        return "auth", f"{where} rejected the API key (HTTP 401); set SCALABLE_AI_API_KEY or OPENAI_API_KEY"
    if isinstance(exc, openai.PermissionDeniedError):
        return "forbidden", f"{where} refused access (HTTP 403){server_says(exc)}"
    if isinstance(exc, openai.NotFoundError):
        return "not_found", f"{where} answered 404 (check --ai-endpoint, usually ending in /v1, and --ai-model {cfg.model!r})"
    if isinstance(exc, openai.RateLimitError):
        return "rate_limit", f"{where} is rate limiting (HTTP 429) after {attempts}; try again later"
    if isinstance(exc, openai.InternalServerError):
        return "server", f"{where} had a server error (HTTP {exc.status_code}) after {attempts}"
    if isinstance(exc, (openai.BadRequestError, openai.UnprocessableEntityError)):
        return "bad_request", f"{where} rejected the request (HTTP {exc.status_code}){server_says(exc)}"
    if isinstance(exc, openai.APIStatusError):
        return "http", f"{where} answered HTTP {exc.status_code}{server_says(exc)}"
    if isinstance(exc, (openai.LengthFinishReasonError, _Truncated)):
        return "truncated", "the model's reply was cut off (token limit); try a smaller --ai-budget"
    if isinstance(exc, _Refused):
        return "refused", f"the model refused to answer: {one_line(str(exc), 120)}"
    if isinstance(exc, (openai.APIResponseValidationError, _BadBody, ValueError)):
        return "invalid_json", f"{where} sent a reply that is not valid JSON / not a chat completion"
    if isinstance(exc, openai.OpenAIError):
        return "error", one_line(str(exc), 160)
    return "error", f"{type(exc).__name__}: {one_line(str(exc), 160)}"

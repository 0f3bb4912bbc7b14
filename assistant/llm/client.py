"""Ask an OpenAI-compatible endpoint to explain findings: the only module that imports openai.

``openai`` is imported inside :func:`_request` only, so ``import assistant``
(and ``import assistant.llm``) stays light and opens no socket.

Made for the CLI and for a Textual worker thread alike::

    cancel = threading.Event()
    result = explain_findings(diag, [finding], config, context=run_context(state),
                              on_delta=lambda text: app.call_from_thread(show, text),
                              cancel_event=cancel)
    # elsewhere: cancel.set()  -> explain_findings returns status "cancelled" promptly

It never raises for network, HTTP or reply problems: they come back as
``status="error"`` with a one-line ``error``.  The reply is untrusted text:
show it through :func:`assistant.textsafe.printable`, never execute it.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Sequence

from assistant.llm import cache
from assistant.llm.config import AIConfig, resolve_config, safe_url
from assistant.llm.payload import Prompt, build_prompt
from assistant.llm.prompt_text import PROMPT_VERSION
from assistant.llm.redact_compile import RedactionRulesError
from assistant.llm.schema import capped, extract_json, validate_reply
from scalable_tui.model.diagnosis import Diagnosis, Finding
from assistant.textsafe import one_line

Mode = Literal["json_schema", "json_object", "text"]
MODES: tuple[Mode, ...] = ("json_schema", "json_object", "text")
Status = Literal["ok", "partial", "text", "error", "cancelled"]
#: Key in ``Diagnosis.explanations`` for a reply that is plain text, not per finding.
UNSTRUCTURED_KEY = "_unstructured"


@dataclass
class ExplanationResult:
    """What came back (or why nothing did)."""

    status: Status
    model: str
    endpoint: str
    #: finding id -> {summary, likely_cause, fix_steps, retry_may_help, confidence, model}
    explanations: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: A reply that is not structured (servers without JSON output): show as plain text.
    text: str | None = None
    #: One line, for stderr or a status bar; None when nothing went wrong.
    error: str | None = None
    #: connection, timeout, auth, forbidden, not_found, rate_limit, server, bad_request,
    #: http, invalid_json, schema, truncated, refused, empty, redaction, cancelled, error
    error_kind: str | None = None
    #: Non-fatal issues (some explanations did not validate, unknown ids, …), one line each.
    problems: list[str] = field(default_factory=list)
    #: How the server was asked: json_schema, json_object (JSON mode) or text.
    mode: str | None = None
    #: Fallbacks taken ("json_schema rejected (HTTP 400)").
    notes: list[str] = field(default_factory=list)
    cached: bool = False
    prompt: Prompt | None = None

    @property
    def ok(self) -> bool:
        return bool(self.explanations) or bool(self.text)


class _Cancelled(Exception):
    pass


def explain_findings(
    diagnosis: Diagnosis,
    findings: Sequence[Finding] | None = None,
    config: AIConfig | None = None,
    *,
    context: dict[str, Any] | None = None,
    on_delta: Callable[[str], None] | None = None,
    cancel_event: threading.Event | None = None,
    prompt: Prompt | None = None,
) -> ExplanationResult:
    """Explain ``findings`` (default: the run's top findings) with one request.

    ``on_delta`` switches to a streamed request and receives the reply text as
    it arrives (raw, untrusted; for a live preview).  With ``cancel_event`` it
    is called from a helper thread (use ``App.call_from_thread``), never after
    the cancellation was seen.  ``cancel_event`` makes
    the call return ``status="cancelled"`` soon after it is set; the request
    then runs in a helper thread whose late result is dropped.  ``prompt``
    reuses a preview built with :func:`build_prompt` (what the user saw is
    what is sent).
    """
    cfg = config or resolve_config()
    endpoint = safe_url(cfg.base_url)
    if prompt is None:
        try:
            prompt = build_prompt(diagnosis, findings, cfg, context=context)
        except RedactionRulesError as exc:
            return ExplanationResult(
                "error", cfg.model, endpoint, error=f"{one_line(str(exc), 300)}; nothing was sent", error_kind="redaction"
            )
    result = ExplanationResult("error", cfg.model, endpoint, prompt=prompt)
    if cancel_event is not None and cancel_event.is_set():
        return _cancelled(result)

    key = cache.cache_key(cfg.endpoint or cfg.base_url, cfg.model, PROMPT_VERSION, prompt.messages, cfg.api_key)
    cdir = cache.usable_cache_dir(cfg.cache_dir) if cfg.use_cache else None
    hit = cache.get(cdir, key) if cdir else None
    if hit and isinstance(hit.get("content"), str) and hit.get("mode") in MODES:
        result.cached = True
        result.mode = hit["mode"]
        if on_delta is not None:
            on_delta(hit["content"])
        _interpret(result, hit["content"], hit["mode"], diagnosis, cfg)
        if result.ok:
            return result
        result.cached = False  # a stale or unusable entry: ask again

    import openai  # noqa: F401 - loaded before the clock starts: the import is not the request

    abort = threading.Event()
    holder: dict[str, Any] = {}
    deadline = time.monotonic() + cfg.timeout_s

    def work() -> None:
        try:
            holder["value"] = _request(cfg, prompt, on_delta, abort, holder, deadline)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            holder["exc"] = exc

    def stop() -> None:
        abort.set()
        client = holder.get("client")
        if client is not None:
            # Closing can wait for the connection the helper is reading from:
            # never make the caller wait for it.
            def close() -> None:
                try:
                    client.close()
                except Exception:  # noqa: BLE001 - best effort
                    pass

            threading.Thread(target=close, name="scalable-tui-ai-close", daemon=True).start()

    # --ai-timeout is the wall time of the whole request, retries and back-off
    # included: the client's own timeout is per read, which a server sending
    # one byte at a time never trips.  The request runs in a helper thread
    # that is abandoned (and its late result dropped) at the deadline.
    t = threading.Thread(target=work, name="scalable-tui-ai", daemon=True)
    t.start()
    try:
        while t.is_alive():
            t.join(min(0.05, max(0.0, deadline - time.monotonic())))
            if not t.is_alive():
                break
            if cancel_event is not None and cancel_event.is_set():
                stop()
                return _cancelled(result)
            if time.monotonic() >= deadline:
                stop()
                last = holder.get("last_exc")
                if last is not None:  # an attempt failed and the retry ran out of time: say why
                    result.error_kind, msg = _describe(last, cfg, holder.get("attempts", 1))
                    msg += f" (gave up after {cfg.timeout_s:g}s, the --ai-timeout)"
                else:
                    result.error_kind, msg = "timeout", _timeout_text(cfg)
                result.error = f"AI explanations unavailable: {msg}"
                result.notes = list(holder.get("notes", []))
                return result
    except KeyboardInterrupt:
        stop()
        raise
    if cancel_event is not None and cancel_event.is_set():
        return _cancelled(result)

    exc = holder.get("exc")
    if exc is not None:
        if isinstance(exc, KeyboardInterrupt):
            raise exc
        if isinstance(exc, _Cancelled):
            return _cancelled(result)
        result.error_kind, msg = _describe(exc, cfg, holder.get("attempts", 1))
        result.error = f"AI explanations unavailable: {msg}"
        result.notes = holder.get("notes", [])
        return result
    content, mode = holder["value"]
    result.mode = mode
    result.notes = holder.get("notes", [])
    _interpret(result, content, mode, diagnosis, cfg)
    if result.ok and cdir is not None:
        cache.put(cdir, key, {"endpoint": endpoint, "model": cfg.model, "prompt_version": PROMPT_VERSION, "mode": mode, "content": content})
    return result


def _cancelled(result: ExplanationResult) -> ExplanationResult:
    result.status = "cancelled"
    result.error = "AI request cancelled"
    result.error_kind = "cancelled"
    return result


def _interpret(result: ExplanationResult, content: str, mode: str, diagnosis: Diagnosis, cfg: AIConfig) -> None:
    """Validate the reply text into explanations (or plain text, or an error)."""
    result.explanations, result.text, result.problems = {}, None, []
    if not content.strip():
        result.status, result.error_kind = "error", "empty"
        result.error = "AI explanations unavailable: the model sent an empty reply"
        return
    try:
        doc = extract_json(content)
    except ValueError:
        if mode == "text":
            result.status, result.text, result.error, result.error_kind = "text", content, None, None
            return
        result.status, result.error_kind = "error", "invalid_json"
        result.error = "AI explanations unavailable: the model's reply was not valid JSON"
        return
    good, problems = validate_reply(doc)
    known = {f.id for f in diagnosis.findings}
    if result.prompt is not None:
        known |= set(result.prompt.finding_ids)
    unknown = sorted({e.finding_id for e in good if e.finding_id not in known})
    if unknown:
        problems.append(f"ignored explanation(s) for {len(unknown)} unknown finding id(s)")
    for e in good:
        if e.finding_id in known and e.finding_id not in result.explanations:
            result.explanations[e.finding_id] = {**capped(e), "model": cfg.model}
    result.problems = [one_line(p, 300) for p in problems]
    if result.explanations:
        result.status = "partial" if problems else "ok"
        result.error = result.error_kind = None
    elif mode == "text":  # a server without JSON output: show what it said, as text
        result.status, result.text, result.error, result.error_kind = "text", content, None, None
    else:
        result.status, result.error_kind = "error", "schema"
        why = problems[0] if problems else "it explains none of the findings"
        result.error = f"AI explanations unavailable: {one_line(why, 300)}"


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
            return msg.parsed.model_dump_json()
        return msg.content or ""
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
    return msg.content or ""


def _content_from_body(http_response: Any) -> str:
    try:
        body = http_response.json()
        return str(body["choices"][0]["message"].get("content") or "")
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
    try:
        for chunk in stream:
            if abort.is_set():
                raise _Cancelled()
            for choice in getattr(chunk, "choices", None) or []:
                delta = getattr(choice.delta, "content", None) if choice.delta is not None else None
                if delta:
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

    if isinstance(exc, openai.APITimeoutError):
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


def attach_explanations(diagnosis: Diagnosis, result: ExplanationResult) -> Diagnosis:
    """A copy of ``diagnosis`` with the explanations (``method="ai-enhanced"`` only if any)."""
    expl: dict[str, dict[str, Any]] = {k: dict(v) for k, v in result.explanations.items()}
    if result.text:
        expl[UNSTRUCTURED_KEY] = {"text": result.text, "model": result.model, "structured": False}
    if not expl:
        return diagnosis
    merged = {**(getattr(diagnosis, "explanations", None) or {}), **expl}
    return diagnosis.model_copy(update={"explanations": merged, "method": "ai-enhanced"})

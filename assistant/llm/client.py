"""Ask an OpenAI-compatible endpoint to explain findings, and read its structured answer.

Made for the CLI and for a Textual worker thread alike::

    cancel = threading.Event()
    result = explain_findings(diag, [finding], config, context=run_context(state),
                              on_delta=lambda text: app.call_from_thread(show, text),
                              cancel_event=cancel)
    # elsewhere: cancel.set()  -> explain_findings returns status "cancelled" promptly

It never raises for network, HTTP or reply problems: they come back as
``status="error"`` with a one-line ``error``.  The reply is untrusted text:
show it through :func:`assistant.textsafe.printable`, never execute it.

The HTTP side (the openai client, deadline, retries, streaming, error
wording) is :mod:`assistant.llm.transport`; this module drives one request
and turns the reply into per-finding explanations.
"""

from __future__ import annotations

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
from assistant.llm.transport import MODES, _Cancelled, _describe, _request, _timeout_text
from assistant.textsafe import one_line
from scalable_tui.model.diagnosis import Diagnosis, Finding

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


def attach_explanations(diagnosis: Diagnosis, result: ExplanationResult) -> Diagnosis:
    """A copy of ``diagnosis`` with the explanations (``method="ai-enhanced"`` only if any)."""
    expl: dict[str, dict[str, Any]] = {k: dict(v) for k, v in result.explanations.items()}
    if result.text:
        expl[UNSTRUCTURED_KEY] = {"text": result.text, "model": result.model, "structured": False}
    if not expl:
        return diagnosis
    merged = {**(getattr(diagnosis, "explanations", None) or {}), **expl}
    return diagnosis.model_copy(update={"explanations": merged, "method": "ai-enhanced"})

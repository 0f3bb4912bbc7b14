"""explain_findings through the real openai client against the loopback server."""

from __future__ import annotations

import json
import stat
import threading
import time
from pathlib import Path

import pytest

from scalable_tui.session import diagnose_run
from assistant.llm import attach_explanations, build_prompt, explain_findings, resolve_config
from assistant.llm.config import DEFAULT_ENDPOINT, PLACEHOLDER_KEY
from assistant.render import render_markdown, render_text, to_json
from tests.llm import fakeserver as fs


@pytest.fixture
def diag(tutorial_run: Path):  # type: ignore[no-untyped-def]
    return diagnose_run(tutorial_run)


def cfg_for(server: fs.FakeOpenAI, **kw):  # type: ignore[no-untyped-def]
    return resolve_config(endpoint=server.url, model="test-model", **kw)


def test_structured_reply_becomes_explanations(server: fs.FakeOpenAI, diag) -> None:  # type: ignore[no-untyped-def]
    r = explain_findings(diag, None, cfg_for(server))
    assert r.status == "ok" and r.mode == "json_schema" and not r.error, r.error
    assert set(r.explanations) == {f.id for f in diag.findings}
    e = next(iter(r.explanations.values()))
    assert e["fix_steps"] == ["First step.", "Second step."] and e["confidence"] == "medium" and e["model"] == "test-model"
    (req,) = server.requests
    body = req.json
    assert req.path == "/v1/chat/completions"
    assert body["model"] == "test-model" and body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["strict"] is True
    assert req.headers["authorization"] == f"Bearer {PLACEHOLDER_KEY}"  # no key configured: a placeholder
    d2 = attach_explanations(diag, r)
    assert d2.method == "ai-enhanced" and diag.method == "heuristic"
    assert "Explanation (AI, test-model, confidence: medium)" in render_text(d2)
    assert "**Explanation \\(AI, test-model, confidence: medium\\)**" in render_markdown(d2)
    assert json.loads(to_json(d2))["explanations"] == r.explanations


def test_preview_is_exactly_what_is_sent(server: fs.FakeOpenAI, diag) -> None:  # type: ignore[no-untyped-def]
    cfg = cfg_for(server)
    preview = build_prompt(diag, None, cfg).preview()
    explain_findings(diag, None, cfg)
    assert server.requests[0].json["messages"] == preview["messages"]


def test_json_schema_rejected_falls_back_to_json_mode(server: fs.FakeOpenAI, diag) -> None:  # type: ignore[no-untyped-def]
    server.always(fs.reject_json_schema(fs.explain_all()))
    r = explain_findings(diag, None, cfg_for(server))
    assert r.status == "ok" and r.mode == "json_object"
    assert [q.json.get("response_format", {}).get("type") for q in server.requests] == ["json_schema", "json_object"]


def test_no_json_support_falls_back_to_plain_text_shown_as_such(server: fs.FakeOpenAI, diag) -> None:  # type: ignore[no-untyped-def]
    server.always(fs.reject_json_schema(fs.content("Check [this](http://evil.example) \x1b[2J now."), also_json_object=True))
    r = explain_findings(diag, None, cfg_for(server))
    assert r.status == "text" and r.mode == "text" and r.text and not r.explanations
    assert "response_format" not in server.requests[-1].json
    d2 = attach_explanations(diag, r)
    out = render_text(d2)
    assert "AI reply (unstructured text from test-model, not validated):" in out
    assert "\x1b[2J" not in out and "\\x1b[2J" in out  # shown literally, never interpreted
    md = render_markdown(d2)
    assert "```text" in md and "\x1b" not in md


def test_reply_that_does_not_validate_is_reported(server: fs.FakeOpenAI, diag) -> None:  # type: ignore[no-untyped-def]
    server.always(fs.explain_all(confidence="certain"))
    r = explain_findings(diag, None, cfg_for(server))
    assert r.status == "error" and r.error_kind == "schema" and "confidence" in (r.error or "")
    assert attach_explanations(diag, r) is diag


def test_partly_valid_reply_keeps_the_valid_explanations(server: fs.FakeOpenAI, diag) -> None:  # type: ignore[no-untyped-def]
    def reply(body: dict) -> str:
        doc = fs.explanations_for(body)
        doc["explanations"][0]["retry_may_help"] = "perhaps"
        doc["explanations"].append({**doc["explanations"][1], "finding_id": "s1-doesnotexist"})
        return json.dumps(doc)

    server.always(fs.content_from(reply))
    r = explain_findings(diag, None, cfg_for(server))
    assert r.status == "partial" and len(r.explanations) == len(diag.findings) - 1
    assert any("did not match" in p for p in r.problems) and any("unknown finding id" in p for p in r.problems)


def test_invalid_json_reply(server: fs.FakeOpenAI, diag) -> None:  # type: ignore[no-untyped-def]
    server.always(fs.content('{"explanations": [ {"finding_id": '))
    r = explain_findings(diag, None, cfg_for(server))
    assert r.status == "error" and r.error_kind == "invalid_json"


def test_streamed_reply_reaches_on_delta(server: fs.FakeOpenAI, diag) -> None:  # type: ignore[no-untyped-def]
    server.always(fs.sse(lambda b: fs.split_every(json.dumps(fs.explanations_for(b)), 37)))
    deltas: list[str] = []
    r = explain_findings(diag, None, cfg_for(server), on_delta=deltas.append)
    assert r.status == "ok" and len(deltas) > 5 and json.loads("".join(deltas))["explanations"]
    assert server.requests[0].json["stream"] is True
    assert set(r.explanations) == {f.id for f in diag.findings}


def test_cancel_returns_promptly_and_drops_late_text(server: fs.FakeOpenAI, diag, private_cache: Path) -> None:  # type: ignore[no-untyped-def]
    server.always(fs.sse(lambda b: fs.split_every(json.dumps(fs.explanations_for(b)), 4), delay=0.1))
    cancel = threading.Event()
    deltas: list[str] = []
    threading.Timer(0.4, cancel.set).start()
    t0 = time.monotonic()
    r = explain_findings(diag, None, cfg_for(server), on_delta=deltas.append, cancel_event=cancel)
    assert r.status == "cancelled" and time.monotonic() - t0 < 2.0
    n = len(deltas)
    time.sleep(0.3)
    assert len(deltas) == n
    assert not list(private_cache.glob("llm/*.json"))  # nothing cached from a cancelled request


def test_cancel_before_start_sends_nothing(server: fs.FakeOpenAI, diag) -> None:  # type: ignore[no-untyped-def]
    ev = threading.Event()
    ev.set()
    assert explain_findings(diag, None, cfg_for(server), cancel_event=ev).status == "cancelled"
    assert server.requests == []


def test_cache_hit_makes_no_http_call(server: fs.FakeOpenAI, diag, private_cache: Path) -> None:  # type: ignore[no-untyped-def]
    first = explain_findings(diag, None, cfg_for(server))
    assert not first.cached and len(server.requests) == 1
    second = explain_findings(diag, None, cfg_for(server))
    assert second.cached and second.explanations == first.explanations
    assert len(server.requests) == 1
    files = list((private_cache / "llm").glob("*.json"))
    assert len(files) == 1 and stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert "no-key-required" not in files[0].read_text()
    # other model, or the cache bypassed: a new request
    explain_findings(diag, None, resolve_config(endpoint=server.url, model="other-model"))
    explain_findings(diag, None, cfg_for(server, use_cache=False))
    assert len(server.requests) == 3


def test_errors_are_not_cached(server: fs.FakeOpenAI, diag) -> None:  # type: ignore[no-untyped-def]
    server.script(fs.status(401))
    assert explain_findings(diag, None, cfg_for(server)).error_kind == "auth"
    assert explain_findings(diag, None, cfg_for(server)).status == "ok"
    assert len(server.requests) == 2


def test_bad_redaction_rules_send_nothing(server: fs.FakeOpenAI, diag, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "rules.toml"
    bad.write_text("[[rules]]\npattern = '('\n")
    r = explain_findings(diag, None, cfg_for(server, redact_rules_file=bad))
    assert r.error_kind == "redaction" and "nothing was sent" in (r.error or "")
    assert server.requests == []


def test_config_precedence() -> None:
    env = {
        "SCALABLE_AI_ENDPOINT": "http://scalable/v1",
        "SCALABLE_AI_MODEL": "m-scalable",
        "SCALABLE_AI_API_KEY": "k-scalable",
        "OPENAI_BASE_URL": "http://openai/v1",
        "OPENAI_API_KEY": "k-openai",
    }
    c = resolve_config(endpoint="http://opt/v1", model="m-opt", env=env)
    assert (c.endpoint, c.model, c.api_key) == ("http://opt/v1", "m-opt", "k-scalable")
    c = resolve_config(env=env)
    assert (c.endpoint, c.model, c.api_key) == ("http://scalable/v1", "m-scalable", "k-scalable")
    c = resolve_config(env={"OPENAI_BASE_URL": "http://openai/v1", "OPENAI_API_KEY": "k-openai"})
    assert (c.endpoint, c.api_key, c.enabled) == ("http://openai/v1", "k-openai", True)
    c = resolve_config(env={"OPENAI_API_KEY": "k"})
    assert c.enabled and c.base_url == DEFAULT_ENDPOINT
    c = resolve_config(env={})
    assert not c.enabled
    # The OpenAI key never goes to another server named by option or SCALABLE_AI_ENDPOINT.
    c = resolve_config(endpoint="http://vllm.lab:8000/v1", env={"OPENAI_API_KEY": "k-openai"})
    assert c.endpoint == "http://vllm.lab:8000/v1" and c.api_key is None
    c = resolve_config(env={"SCALABLE_AI_ENDPOINT": "http://vllm/v1", "OPENAI_API_KEY": "k-openai"})
    assert c.api_key is None and c.enabled
    c = resolve_config(endpoint="https://api.openai.com/v1", env={"OPENAI_API_KEY": "k-openai"})
    assert c.api_key == "k-openai"
    assert resolve_config(env={"XDG_CACHE_HOME": "/xdg"}).cache_dir == Path("/xdg/scalable-tui")
    assert resolve_config(env={"SCALABLE_TUI_CACHE_DIR": "/c", "XDG_CACHE_HOME": "/xdg"}).cache_dir == Path("/c")


def test_reply_text_is_untrusted_and_shown_literally(server: fs.FakeOpenAI, diag) -> None:  # type: ignore[no-untyped-def]
    evil = "[bold red]x[/] \x1b]52;c;ZXZpbA==\x07 [link=http://x]y[/link] <script>alert(1)</script> $(rm -rf ~)"
    server.always(fs.explain_all(summary=evil, fix_steps=[evil]))
    r = explain_findings(diag, None, cfg_for(server))
    d2 = attach_explanations(diag, r)
    for out in (render_text(d2), render_text(d2, color=True), render_markdown(d2)):
        assert "\x1b]52" not in out and "\x07" not in out
    assert "[bold red]x[/]" in render_text(d2)  # literal, not Rich markup
    md = render_markdown(d2)
    assert "<script>" not in md and "](http" not in md and "\\[link=http://x\\]" in md

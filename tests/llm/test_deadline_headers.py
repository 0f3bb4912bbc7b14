"""--ai-timeout is the wall time of the whole request; OpenAI-only headers go only to OpenAI's places.

The real openai client talks HTTP to the loopback server, which can answer
one byte at a time (a per-read timeout never fires) or ask for long pauses
between retries.
"""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest

from scalable_tui.session import diagnose_run
from assistant.llm import explain_findings, resolve_config
from tests.conftest import run_cli
from tests.llm import fakeserver as fs


@pytest.fixture
def diag(tutorial_run: Path):  # type: ignore[no-untyped-def]
    return diagnose_run(tutorial_run)


# -- total deadline --------------------------------------------------------------
@pytest.mark.parametrize("streamed", [False, True])
def test_a_trickling_server_is_given_up_at_the_timeout(server: fs.FakeOpenAI, diag, streamed: bool) -> None:  # type: ignore[no-untyped-def]
    server.always(fs.trickle(0.2, stream=streamed))
    cfg = resolve_config(endpoint=server.url, timeout_s=1.0, use_cache=False)
    kw = {"on_delta": lambda _t: None, "cancel_event": threading.Event()} if streamed else {}
    t0 = time.monotonic()
    r = explain_findings(diag, None, cfg, **kw)
    elapsed = time.monotonic() - t0
    assert r.status == "error" and r.error_kind == "timeout", r.error
    assert elapsed < 1.0 + 0.75, elapsed
    assert r.error is not None and "\n" not in r.error and "did not answer within 1s" in r.error
    assert "total time for the request, retries included" in r.error


def test_retry_pauses_count_against_the_timeout(server: fs.FakeOpenAI, diag) -> None:  # type: ignore[no-untyped-def]
    """A server asking to wait 30 s before each retry: fail now with its own error, not after a minute."""
    server.always(fs.status_retry_after(503, 30))
    cfg = resolve_config(endpoint=server.url, timeout_s=2.0, use_cache=False)
    t0 = time.monotonic()
    r = explain_findings(diag, None, cfg)
    assert time.monotonic() - t0 < 2.0 + 0.75
    assert r.error_kind == "server" and "HTTP 503" in (r.error or "")
    assert len(server.requests) == 1


def test_retries_still_happen_within_the_timeout(server: fs.FakeOpenAI, diag) -> None:  # type: ignore[no-untyped-def]
    server.script(fs.status(500), fs.status(500), default=fs.explain_all())
    r = explain_findings(diag, None, resolve_config(endpoint=server.url, timeout_s=5.0, use_cache=False))
    assert r.status == "ok" and len(server.requests) == 3


def test_cli_returns_within_the_timeout_with_one_line(server: fs.FakeOpenAI, mixed_run: Path, tmp_path: Path) -> None:
    server.always(fs.trickle(0.5))
    # the start-up cost of the interpreter, measured the same way
    t0 = time.monotonic()
    base = run_cli("diagnose", str(mixed_run), "--no-ai", timeout=60)
    startup = time.monotonic() - t0
    assert base.returncode == 0
    t0 = time.monotonic()
    try:
        p = run_cli("diagnose", str(mixed_run), "--ai-endpoint", server.url, "--ai-timeout", "2",
                    env={"SCALABLE_TUI_CACHE_DIR": str(tmp_path / "c")}, timeout=40)
    except subprocess.TimeoutExpired:
        pytest.fail("--ai-timeout 2 did not bound the request (still waiting after 40 s)")
    elapsed = time.monotonic() - t0
    assert p.returncode == 0 and p.stdout == base.stdout
    assert elapsed < startup + 2 + 2.0, (elapsed, startup)
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and "did not answer within 2s" in lines[0], p.stderr


# -- OpenAI-Organization / OpenAI-Project ----------------------------------------
ORG_ENV = {"OPENAI_ORG_ID": "org-SecretOrgId123", "OPENAI_PROJECT_ID": "proj_SecretProject456",
           "OPENAI_CUSTOM_HEADERS": "X-Team-Secret: teamsecret789"}


@pytest.mark.parametrize(
    ("how", "expect_sent"),
    [("--ai-endpoint", False), ("SCALABLE_AI_ENDPOINT", False), ("OPENAI_BASE_URL", True)],
)
def test_openai_org_and_project_go_only_where_the_openai_key_goes(  # type: ignore[no-untyped-def]
    server: fs.FakeOpenAI, diag, monkeypatch: pytest.MonkeyPatch, how: str, expect_sent: bool
) -> None:
    for k, v in {**ORG_ENV, "OPENAI_API_KEY": "sk-openai-user-key-0000000000000000"}.items():
        monkeypatch.setenv(k, v)
    endpoint = None
    if how == "--ai-endpoint":
        endpoint = server.url
    else:
        monkeypatch.setenv(how, server.url)
    r = explain_findings(diag, None, resolve_config(endpoint=endpoint, use_cache=False))
    assert r.status == "ok", r.error
    (req,) = server.requests
    sent = {k: v for k, v in req.headers.items() if k in ("openai-organization", "openai-project", "x-team-secret")}
    if expect_sent:
        assert sent == {"openai-organization": "org-SecretOrgId123", "openai-project": "proj_SecretProject456",
                        "x-team-secret": "teamsecret789"}
        assert req.headers["authorization"] == "Bearer sk-openai-user-key-0000000000000000"
    else:
        assert sent == {}
        assert "sk-openai-user-key" not in req.headers.get("authorization", "")


def test_cli_sends_no_openai_org_headers_to_another_endpoint(server: fs.FakeOpenAI, mixed_run: Path, tmp_path: Path) -> None:
    p = run_cli("diagnose", str(mixed_run), "--ai-endpoint", server.url,
                env={**ORG_ENV, "SCALABLE_TUI_CACHE_DIR": str(tmp_path / "c")}, timeout=60)
    assert p.returncode == 0, p.stderr
    assert server.requests
    for req in server.requests:
        assert not {"openai-organization", "openai-project", "x-team-secret"} & set(req.headers)


# -- size ---------------------------------------------------------------------------
@pytest.mark.parametrize("streamed", [False, True])
def test_an_endless_reply_is_dropped_at_its_size_bound(server: fs.FakeOpenAI, diag, streamed: bool) -> None:  # type: ignore[no-untyped-def]
    """An audit's endless body filled 4.6 GB in 15 s, and a streamed one kept the app repainting: both stop now."""
    from assistant.llm.transport import MAX_BODY_BYTES, MAX_REPLY_CHARS

    sent = [0]
    server.always(fs.endless(stream=streamed, sent=sent))
    cfg = resolve_config(endpoint=server.url, timeout_s=30.0, use_cache=False)
    got: list[str] = []
    kw = {"on_delta": got.append, "cancel_event": threading.Event()} if streamed else {}
    t0 = time.monotonic()
    r = explain_findings(diag, None, cfg, **kw)
    assert r.status == "error" and r.error_kind == "too_large", r.error
    assert r.error is not None and "\n" not in r.error and "reply too large to take" in r.error
    assert time.monotonic() - t0 < 15  # the size bound, long before the 30 s deadline
    assert len(server.requests) == 1  # not retried: another attempt would meet the bound again
    assert sum(map(len, got)) <= MAX_REPLY_CHARS
    # The client stopped reading: what the server managed to write is the bound plus the socket's buffers.
    deadline, last = time.monotonic() + 5, -1
    while time.monotonic() < deadline and sent[0] != last:  # until the server's writes stop
        last = sent[0]
        time.sleep(0.2)
    assert sent[0] == last and sent[0] < MAX_BODY_BYTES + (8 << 20), sent[0]

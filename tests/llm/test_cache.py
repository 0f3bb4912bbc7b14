"""The reply cache: per key and per full endpoint URL, private directories, bounded entries."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from scalable_tui.session import diagnose_run
from assistant.llm import cache, explain_findings, resolve_config
from tests.llm import fakeserver as fs

MSGS = [{"role": "user", "content": "x"}]


@pytest.fixture
def diag(tutorial_run: Path):  # type: ignore[no-untyped-def]
    return diagnose_run(tutorial_run)


def test_key_depends_on_api_key_and_the_full_url() -> None:
    base = cache.cache_key("http://h/v1?api-version=1", "m", 2, MSGS, "key-a")
    assert base == cache.cache_key("http://h/v1?api-version=1", "m", 2, MSGS, "key-a")
    assert base != cache.cache_key("http://h/v1?api-version=1", "m", 2, MSGS, "key-b")
    assert base != cache.cache_key("http://h/v1?api-version=1", "m", 2, MSGS, None)
    assert base != cache.cache_key("http://h/v1?api-version=2", "m", 2, MSGS, "key-a")
    assert base != cache.cache_key("http://other@h/v1?api-version=1", "m", 2, MSGS, "key-a")


def test_another_api_key_is_not_served_the_first_keys_reply(  # type: ignore[no-untyped-def]
    server: fs.FakeOpenAI, diag, private_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCALABLE_AI_API_KEY", "sk-first-account-key-1111111111")
    assert not explain_findings(diag, None, resolve_config(endpoint=server.url)).cached
    assert explain_findings(diag, None, resolve_config(endpoint=server.url)).cached
    monkeypatch.setenv("SCALABLE_AI_API_KEY", "sk-second-account-key-222222222")
    r = explain_findings(diag, None, resolve_config(endpoint=server.url))
    assert not r.cached and len(server.requests) == 2
    # the key itself is nowhere in the cache
    for f in (private_cache / "llm").glob("*.json"):
        text = f.read_text()
        assert "account-key" not in text and "sk-" not in text


def test_endpoints_differing_only_in_path_are_separate(server: fs.FakeOpenAI, diag) -> None:  # type: ignore[no-untyped-def]
    a, b = server.url.replace("/v1", "/deploy-a/v1"), server.url.replace("/v1", "/deploy-b/v1")
    explain_findings(diag, None, resolve_config(endpoint=a))
    r = explain_findings(diag, None, resolve_config(endpoint=b))
    assert not r.cached and len(server.requests) == 2
    assert explain_findings(diag, None, resolve_config(endpoint=a)).cached


def test_directories_created_are_private(tmp_path: Path, server: fs.FakeOpenAI, diag, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    base = tmp_path / "new" / "deeper" / "cache"
    monkeypatch.setenv("SCALABLE_TUI_CACHE_DIR", str(base))
    r = explain_findings(diag, None, resolve_config(endpoint=server.url))
    assert r.status == "ok"
    for d in (tmp_path / "new", tmp_path / "new" / "deeper", base, base / "llm"):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
    (f,) = (base / "llm").glob("*.json")
    assert stat.S_IMODE(f.stat().st_mode) == 0o600


def test_oversize_replies_are_not_cached(tmp_path: Path) -> None:
    d = tmp_path / "llm"
    key = cache.cache_key("http://h/v1", "m", 2, MSGS)
    assert not cache.put(d, key, {"mode": "text", "content": "x" * (cache.MAX_ENTRY_BYTES + 1)})
    assert cache.get(d, key) is None
    assert cache.put(d, key, {"mode": "text", "content": "fine"})
    assert cache.get(d, key)["content"] == "fine"  # type: ignore[index]


def test_oversize_truncated_or_foreign_files_are_not_read(tmp_path: Path) -> None:
    d = tmp_path / "llm"
    key = cache.cache_key("http://h/v1", "m", 2, MSGS)
    assert cache.put(d, key, {"mode": "text", "content": "fine"})
    f = d / f"{key}.json"
    good = f.read_bytes()
    f.write_bytes(good[:-5])  # truncated (a crash mid-write by another tool)
    assert cache.get(d, key) is None
    f.write_bytes(json.dumps({"key": key, "mode": "text", "content": "y" * cache.MAX_ENTRY_BYTES}).encode())
    assert cache.get(d, key) is None  # bigger than the cap
    f.write_bytes(json.dumps({"key": "other", "mode": "text", "content": "z"}).encode())
    assert cache.get(d, key) is None
    f.write_bytes(json.dumps({"key": key, "mode": "text", "content": 5}).encode())
    assert cache.get(d, key) is None


def test_a_huge_reply_is_used_but_not_cached(server: fs.FakeOpenAI, diag, private_cache: Path) -> None:  # type: ignore[no-untyped-def]
    server.always(fs.explain_all(summary="s" * (cache.MAX_ENTRY_BYTES + 10)))
    r = explain_findings(diag, None, resolve_config(endpoint=server.url))
    assert r.status in ("ok", "partial") and r.explanations
    assert not list(private_cache.rglob("*.json"))
    assert not explain_findings(diag, None, resolve_config(endpoint=server.url)).cached
    assert len(server.requests) == 2

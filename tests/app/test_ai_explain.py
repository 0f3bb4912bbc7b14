"""``x``: AI explanations in the review app, through the real openai client.

The model is the loopback OpenAI-compatible server of ``tests/llm`` (real
HTTP on 127.0.0.1, scripted replies); the app runs under Pilot.  Every wait
is on a condition, never a fixed sleep.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest
from textual.command import CommandPalette

from assistant.llm import AIConfig, resolve_config
from scalable_tui.tui.ai import AI_OFF_LINE, NO_AI_LINE
from scalable_tui.tui.app import ReviewApp
from scalable_tui.tui.screens.explain import AIPane, PromptPreviewScreen
from scalable_tui.tui.screens.failures import FailuresScreen
from scalable_tui.tui.screens.failure_group import FailureGroupScreen
from scalable_tui.tui.screens.findings import FindingsScreen
from scalable_tui.sources.rundir.reader import RunDirReader
from tests.app.helpers import screen_text, wait_for, wait_loaded, wait_text
from tests.llm import fakeserver as fs
# The loopback server, and a private cache with no AI settings from the environment (autouse).
from tests.conftest import closed_port
from tests.llm.conftest import SECRETS, fake_server, plant_secrets, private_cache, server  # noqa: F401

pytestmark = pytest.mark.anyio
SIZE = (120, 40)

# -- socket audit: proves that AI-off opens no connection ------------------------------
_CONNECTS: list[object] = []
_AUDITING: list[bool] = []


def _audit(event: str, args: tuple) -> None:  # type: ignore[type-arg]
    if event == "socket.connect" and _AUDITING:
        _CONNECTS.append(args[1] if len(args) > 1 else args)


sys.addaudithook(_audit)  # cannot be removed; records only while _AUDITING is set


def cfg_for(server: fs.FakeOpenAI, **kw: object) -> AIConfig:
    return resolve_config(endpoint=server.url, model="test-model", **kw)  # type: ignore[arg-type]


def streamed_reply(size: int = 40, delay: float = 0.0) -> fs.Action:
    """A valid structured reply for the requested finding, streamed in ``size``-char pieces."""
    return fs.sse(lambda body: fs.split_every(json.dumps(fs.explanations_for(body)), size), delay=delay)


async def open_findings(pilot) -> FindingsScreen:  # type: ignore[no-untyped-def]
    app = pilot.app
    await wait_loaded(pilot)
    await pilot.press("4")
    await wait_for(pilot, lambda: isinstance(app.screen, FindingsScreen), what="Findings")
    await wait_for(pilot, lambda: app.screen.current() is not None, what="a highlighted finding")
    return app.screen


async def preview_and_send(pilot, key: str = "s") -> PromptPreviewScreen:  # type: ignore[no-untyped-def]
    app = pilot.app
    await pilot.press("x")
    await wait_for(pilot, lambda: isinstance(app.screen, PromptPreviewScreen), what="the preview")
    preview = app.screen
    await pilot.press(key)
    await wait_for(pilot, lambda: not isinstance(app.screen, PromptPreviewScreen), what="the preview closed")
    return preview


async def test_preview_first_then_send_shows_the_explanation_and_the_cache_answers_again(server: fs.FakeOpenAI, gcam_run: Path) -> None:
    server.always(streamed_reply())
    app = ReviewApp(RunDirReader(gcam_run), ai_config=cfg_for(server))
    async with app.run_test(size=SIZE) as pilot:
        findings = await open_findings(pilot)
        f = findings.current()
        assert f is not None
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptPreviewScreen), what="the preview")
        preview = app.screen
        doc = json.loads(preview.preview_json)
        assert doc["endpoint"] == server.url and doc["model"] == "test-model"
        assert [m["role"] for m in doc["messages"]] == ["system", "user"]
        assert fs.finding_ids({"messages": doc["messages"]}) == [f.id]  # that one finding
        text = screen_text(app)
        assert "nothing has been sent yet" in text and '"messages"' in text and "Send (s)" in text
        assert server.requests == []  # a preview sends nothing
        _CONNECTS.clear()
        _AUDITING.append(True)  # (proves the audit hook sees the client's connection)
        await pilot.click("#ai-send")
        await wait_for(pilot, lambda: app.ai_entries[f.id].status == "done", what="the explanation")
        _AUDITING.clear()
        assert ("127.0.0.1", server.port) in _CONNECTS
        assert app.screen is findings
        (req,) = server.requests
        assert req.json["messages"] == doc["messages"] and req.json["stream"] is True  # what was previewed is sent
        detail = findings.detail_text.plain
        assert f.title in detail and "Suggestion" in detail  # the heuristic finding stays
        assert detail.index("Suggestion") < detail.index("Explanation (AI, test-model, confidence: medium)")
        for needle in ("Summary for " + f.id, "The likely cause.", "1. First step.", "2. Second step.", "will not help"):
            assert needle in detail, needle
        await wait_text(pilot, "2. Second step.")  # scrolled into view

        # The same ask again: previewed again, answered from the cache (no HTTP request).
        await preview_and_send(pilot)
        await wait_for(pilot, lambda: app.ai_entries[f.id].status == "done", what="the cached explanation")
        assert app.ai_entries[f.id].result.cached and len(server.requests) == 1
        assert "(cached reply)" in findings.detail_text.plain

        # Cancel in the preview: nothing is sent.
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptPreviewScreen), what="the preview")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is findings, what="back on Findings")
        assert len(server.requests) == 1


async def test_preview_is_redacted(server: fs.FakeOpenAI, run_copy) -> None:  # type: ignore[no-untyped-def]
    run = run_copy("gcam-stitches")
    plant_secrets(run)
    app = ReviewApp(RunDirReader(run), ai_config=cfg_for(server))
    async with app.run_test(size=SIZE) as pilot:
        findings = await open_findings(pilot)
        secret_finding = next(f for f in app.snapshot.diagnosis.findings if SECRETS["aws"] in (f.example_traceback or ""))
        table = findings.list_table()
        table.move_cursor(row=table.get_row_index(secret_finding.id))
        await wait_for(pilot, lambda: findings.current() is secret_finding, what="the finding with secrets")
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptPreviewScreen), what="the preview")
        shown = app.screen.preview_json + app.screen.payload_json
        assert "<secret-1>" in shown or "<host-1>" in shown
        for name, value in SECRETS.items():
            assert value not in shown, name
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is findings, what="back on Findings")
    assert server.requests == []


async def test_streamed_reply_arrives_in_pieces(server: fs.FakeOpenAI, gcam_run: Path) -> None:
    server.always(streamed_reply(size=30, delay=0.03))
    app = ReviewApp(RunDirReader(gcam_run), ai_config=cfg_for(server))
    seen: list[tuple[int, str]] = []
    async with app.run_test(size=SIZE) as pilot:
        findings = await open_findings(pilot)
        fid = findings.current().id
        render = findings.ai_changed

        def recording(finding_id: str | None) -> None:  # what the pane showed after each change
            render(finding_id)
            e = app.ai_entries.get(fid)
            if finding_id == fid and e is not None and e.busy:
                seen.append((len(e.streamed), findings.detail_text.plain))

        findings.ai_changed = recording  # type: ignore[method-assign]
        await preview_and_send(pilot)
        await wait_for(pilot, lambda: app.ai_entries[fid].status == "done", what="the streamed reply")
        entry = app.ai_entries[fid]
        assert len(entry.streamed) > 3 and json.loads(entry.streamed_text())["explanations"]
        counts = [n for n, _ in seen]
        # One repaint per batch of pieces (joined for DELTA_EVERY_S: one message per piece kept the app busy).
        assert counts[0] == 0 and counts[1:] == list(range(1, len(entry.streamed) + 1)), counts
        assert all(len(p) >= 30 for p in entry.streamed[:-1]) and len(entry.streamed[-1]) <= 30 * len(entry.streamed)
        assert all("asking model…" in t for _, t in seen)
        first_piece = entry.streamed[0]
        assert any(first_piece in t and "receiving" in t and "First step." not in t for _, t in seen)
        assert "1. First step." in findings.detail_text.plain and "asking model…" not in findings.detail_text.plain


async def test_a_reply_streamed_a_character_at_a_time_is_painted_in_batches(server: fs.FakeOpenAI,
                                                                            gcam_run: Path) -> None:
    """An audit's endless stream of tiny pieces kept the app at 85 % CPU, one message and repaint per piece."""
    server.always(streamed_reply(size=1))
    app = ReviewApp(RunDirReader(gcam_run), ai_config=cfg_for(server))
    async with app.run_test(size=SIZE) as pilot:
        findings = await open_findings(pilot)
        fid = findings.current().id
        await preview_and_send(pilot)
        await wait_for(pilot, lambda: app.ai_entries[fid].status == "done", what="the streamed reply")
        entry = app.ai_entries[fid]
        text = entry.streamed_text()
        assert json.loads(text)["explanations"] and len(text) > 200
        assert len(entry.streamed) < len(text) / 10, (len(entry.streamed), len(text))


async def test_cancel_mid_stream_with_escape(server: fs.FakeOpenAI, gcam_run: Path, private_cache: Path) -> None:
    server.always(streamed_reply(size=4, delay=0.1))  # takes well over a minute to finish
    app = ReviewApp(RunDirReader(gcam_run), ai_config=cfg_for(server))
    async with app.run_test(size=SIZE) as pilot:
        findings = await open_findings(pilot)
        fid = findings.current().id
        await preview_and_send(pilot)
        await wait_for(pilot, lambda: len(app.ai_entries[fid].streamed) >= 2, what="the first pieces")
        await wait_text(pilot, "asking model…")  # the status line says so, on any screen
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.ai_entries[fid].status == "cancelled", what="cancelled")
        assert app.screen is findings  # Esc cancelled the request; it did not go back
        assert "AI request cancelled" in findings.detail_text.plain
        await wait_text(pilot, "AI request cancelled")
        # The worker ends promptly and late pieces are dropped.
        await wait_for(pilot, lambda: not [w for w in app.workers if w.group == "ai" and w.is_running], what="the worker ended")
        n = len(app.ai_entries[fid].streamed)
        # Responsive: switch screens and back.
        await pilot.press("3")
        await wait_for(pilot, lambda: isinstance(app.screen, FailuresScreen), what="Failures")
        await pilot.press("4")
        await wait_for(pilot, lambda: app.screen is findings, what="Findings again")
        assert len(app.ai_entries[fid].streamed) == n
        assert not list(private_cache.glob("llm/*.json"))  # nothing cached from a cancelled request
        # The next Esc goes back as usual.
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.current_mode == "overview", what="Esc back to the overview")


async def test_errors_are_one_line_and_never_crash(server: fs.FakeOpenAI, gcam_run: Path) -> None:
    app = ReviewApp(RunDirReader(gcam_run), ai_config=cfg_for(server))
    async with app.run_test(size=SIZE) as pilot:
        findings = await open_findings(pilot)
        fid = findings.current().id
        cases = [
            (fs.status(500), None, "server error (HTTP 500)"),
            (fs.status(401), None, "rejected the API key (HTTP 401)"),
            (fs.sse(["this is not ", "JSON at all"]), None, "not valid JSON"),
            (None, f"http://127.0.0.1:{closed_port()}/v1", "AI explanations unavailable"),
        ]
        for action, endpoint, needle in cases:
            if action is not None:
                server.always(action)
            if endpoint is not None:
                app.ai_config = dataclasses.replace(app.ai_config, endpoint=endpoint, max_retries=0)
            await preview_and_send(pilot)
            await wait_for(pilot, lambda: app.ai_entries[fid].status == "error", what=f"the error {needle!r}")
            msg = app.ai_entries[fid].message or ""
            assert needle in msg and "\n" not in msg, msg
            detail = findings.detail_text.plain
            assert msg in detail and "Suggestion" in detail  # the heuristic finding stays
        assert len(server.requests) >= 3


async def test_failures_group_explained_below_the_list_and_in_the_group(server: fs.FakeOpenAI, gcam_run: Path) -> None:
    server.always(streamed_reply())
    app = ReviewApp(RunDirReader(gcam_run), ai_config=cfg_for(server))
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.press("3")
        await wait_for(pilot, lambda: isinstance(app.screen, FailuresScreen) and app.screen.shown_ids, what="Failures")
        failures = app.screen
        pane = failures.query_one(AIPane)
        assert not pane.has_class("-visible")  # the screen looks as before until x
        fid = failures.current_finding_id()
        # From the command palette this time (x does the same).
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), what="the command palette")
        await pilot.press(*"explain with ai")
        await wait_text(pilot, "shows exactly what would be sent first")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptPreviewScreen), what="the preview")
        await pilot.press("s")
        await wait_for(pilot, lambda: app.ai_entries[fid].status == "done", what="the explanation")
        await wait_for(pilot, lambda: pane.has_class("-visible"), what="the AI pane")
        await wait_text(pilot, "1. First step.")
        await pilot.press("down")  # another group: nothing asked about it, the pane hides
        await wait_for(pilot, lambda: not pane.has_class("-visible"), what="the pane hidden")
        await pilot.press("up", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FailureGroupScreen), what="the group")
        await wait_text(pilot, "1. First step.")  # the group shows the same explanation
        assert len(server.requests) == 1


async def test_without_ai_config_the_key_says_how_to_turn_it_on_and_opens_no_socket(server: fs.FakeOpenAI, gcam_run: Path) -> None:
    for kw, line in ((dict(ai_config=resolve_config(env={})), AI_OFF_LINE), (dict(no_ai=True, ai_config=cfg_for(server)), NO_AI_LINE)):
        app = ReviewApp(RunDirReader(gcam_run), **kw)  # type: ignore[arg-type]
        async with app.run_test(size=SIZE) as pilot:
            findings = await open_findings(pilot)
            fid = findings.current().id
            _CONNECTS.clear()
            _AUDITING.append(True)
            try:
                await pilot.press("x")
                await wait_for(pilot, lambda: fid in app.ai_entries, what="the hint")
                await pilot.pause()
            finally:
                _AUDITING.clear()
            assert not isinstance(app.screen, PromptPreviewScreen)
            assert app.ai_entries[fid].status == "off" and line in findings.detail_text.plain
            await wait_text(pilot, line[:40])
            assert _CONNECTS == [] and server.requests == []


def test_review_options_reach_the_app(monkeypatch: pytest.MonkeyPatch, gcam_run: Path) -> None:
    from scalable_tui import cli

    from scalable_tui.tui.app import ScalableApp  # the one app class (ReviewApp builds it)

    got: list[ScalableApp] = []
    monkeypatch.setattr(ScalableApp, "run", lambda self, *a, **k: got.append(self))
    assert cli.main(["review", str(gcam_run), "--ai-endpoint", "http://127.0.0.1:9/v1", "--ai-model", "m1",
                     "--ai-timeout", "5", "--ai-budget", "900", "--ai-keep-hosts", "--no-cache"]) == 0
    cfg = got[-1].ai_config
    assert cfg is not None and cfg.enabled and cfg.base_url == "http://127.0.0.1:9/v1" and cfg.model == "m1"
    assert (cfg.timeout_s, cfg.budget_tokens, cfg.keep_hosts, cfg.use_cache) == (5.0, 900, True, False)
    assert not got[-1].no_ai
    assert cli.main(["review", str(gcam_run), "--no-ai", "--ai-endpoint", "http://127.0.0.1:9/v1"]) == 0
    assert got[-1].no_ai and got[-1].ai_config is None

"""The AI explanation flow of the app: preview the redacted request, stream the reply, cancel.

A collaborator of ``ScalableApp`` (not a mixin: the app keeps one class):
it owns the per-finding state (``entries``) and runs its two thread workers
through the app (``run_worker``), so the app keeps only the thin doors the
screens call (``explain_finding``, ``cancel_ai``, ``ai_entries``…) and the
message handlers that hand the model's deltas and replies back here.
Configuration is read from the app at each use (``app.ai_config``,
``app.no_ai``): a test or a future settings screen may change it.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.worker import get_current_worker

from assistant.textsafe import one_line
from scalable_tui.model.diagnosis import Diagnosis, Finding
from scalable_tui.session.snapshot import RunSnapshot
from scalable_tui.tui.ai import AI_OFF_LINE, NO_AI_LINE, AIEntry, ai_status_line
from scalable_tui.tui.fmt import safe
from scalable_tui.tui.messages import ModelDelta, ModelReplied
from scalable_tui.tui.screens.base import RunScreen
from scalable_tui.tui.screens.explain import PromptPreviewScreen
from scalable_tui.tui.widgets.status import StatusLine

if TYPE_CHECKING:
    from assistant.llm import AIConfig, ExplanationResult, Prompt

__all__ = ["AIFlow"]


#: How often streamed pieces of a reply reach the app (they are joined in between).
DELTA_EVERY_S = 0.05


class AIFlow:
    """Per-finding AI state and the preview → send → stream → done/cancel steps (see the module docstring)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        #: AI state per finding id (asked, streaming, explained, failed, cancelled).
        self.entries: dict[str, AIEntry] = {}
        self._token = 0

    # -- what the screens and the status line ask ---------------------------------------------
    @property
    def enabled(self) -> bool:
        cfg = self.app.ai_config
        return not self.app.no_ai and cfg is not None and cfg.enabled

    def info(self) -> str:
        """A few words for the Findings info line: is AI on, and with which model."""
        if self.app.no_ai:
            return ", --no-ai"
        if self.enabled:
            return f", x: explain with {safe(self.app.ai_config.model)}"
        return ", AI off"

    def busy(self) -> AIEntry | None:
        return next((e for e in self.entries.values() if e.busy), None)

    def status(self) -> str | None:
        """The status line's AI part (while a request runs)."""
        return ai_status_line(self.busy())

    # -- x: preview, then send ---------------------------------------------------------------
    def explain(self, finding: Finding | None, snap: RunSnapshot | None) -> None:
        """Preview the request for ``finding`` of ``snap``; Send asks the model in a thread worker.

        With AI off (``--no-ai``, or no endpoint/key) it shows one line saying
        so and opens no connection.
        """
        app = self.app
        if finding is None:
            app.notify("no finding selected", severity="warning")
            return
        if not self.enabled:
            line = NO_AI_LINE if app.no_ai else AI_OFF_LINE
            self.entries[finding.id] = AIEntry(finding.id, "off", message=line)
            self.changed(finding.id)
            app.notify(line, title="AI", severity="warning", timeout=8)
            return
        if self.busy() is not None:
            app.notify("already asking the model; Esc cancels that request", severity="warning")
            return
        if snap is None:
            app.notify("still loading", severity="warning")
            return
        cfg = app.ai_config
        from assistant.llm import cache

        if cfg.use_cache and cfg.cache_dir is not None and cache.usable_cache_dir(cfg.cache_dir, [Path(snap.run_dir)]) is None:
            cfg = dataclasses.replace(cfg, use_cache=False)  # never cache inside the run directory
        app.run_worker(partial(self._prepare_prompt, snap, finding, cfg), thread=True, exclusive=True,
                       group="ai-prompt", name="AI prompt", exit_on_error=False)

    def _prepare_prompt(self, snap: RunSnapshot, finding: Finding, cfg: "AIConfig") -> None:
        """Redact and budget the request off the UI thread (O(groups)), then preview it (a thread worker)."""
        from assistant.llm import RedactionRulesError, build_prompt, run_context

        app = self.app
        try:
            prompt = build_prompt(snap.diagnosis, [finding], cfg, context=run_context(snap))
        except RedactionRulesError as exc:
            app.call_from_thread(self._failed_early, finding.id, f"{one_line(str(exc), 250)}; nothing was sent")
            return
        except Exception as exc:  # noqa: BLE001 - a message, never a crash
            app.call_from_thread(self._failed_early, finding.id,
                                 f"cannot build the AI request: {type(exc).__name__}: {one_line(str(exc), 200)}")
            return
        if not get_current_worker().is_cancelled:  # x pressed again meanwhile: the newer one previews
            app.call_from_thread(self._preview, snap.diagnosis, finding, cfg, prompt)

    def _failed_early(self, fid: str, line: str) -> None:
        self.entries[fid] = AIEntry(fid, "error", message=line)
        self.changed(fid)
        self.app.notify(safe(line), title="AI", severity="error", timeout=10)

    def _preview(self, diag: Diagnosis, finding: Finding, cfg: "AIConfig", prompt: "Prompt") -> None:
        def answered(send: bool | None) -> None:
            if send:
                self._send(diag, finding, cfg, prompt)
            else:
                self.app.notify("nothing was sent", timeout=3)

        self.app.push_screen(PromptPreviewScreen(prompt, finding), answered)

    def _send(self, diag: Diagnosis, finding: Finding, cfg: "AIConfig", prompt: "Prompt") -> None:
        if self.busy() is not None:
            self.app.notify("already asking the model; Esc cancels that request", severity="warning")
            return
        self._token += 1
        entry = AIEntry(finding.id, "asking", token=self._token, model=cfg.model, endpoint=prompt.endpoint,
                        cancel=threading.Event())
        self.entries[finding.id] = entry
        self.changed(finding.id)
        self.app.run_worker(partial(self._ask_model, entry.token, diag, finding, cfg, prompt, entry.cancel),
                            thread=True, group="ai", name="AI explanation", exit_on_error=False)

    def _ask_model(self, token: int, diag: Diagnosis, finding: Finding, cfg: "AIConfig", prompt: "Prompt",
                   cancel: threading.Event) -> None:
        """One request (streamed; cancellable); never raises into the app (a thread worker)."""
        from assistant.llm import ExplanationResult, explain_findings

        app = self.app
        # The text streams in a few characters at a time: one message per piece would keep the app
        # repainting (an endless reply made it unresponsive), so pieces are sent at most every DELTA_EVERY_S.
        pending: list[str] = []
        sent = [time.monotonic()]

        def on_delta(text: str) -> None:
            pending.append(text)
            now = time.monotonic()
            if now - sent[0] >= DELTA_EVERY_S:
                sent[0] = now
                app.post_message(ModelDelta(token, "".join(pending)))
                pending.clear()

        try:
            result = explain_findings(diag, [finding], cfg, on_delta=on_delta, cancel_event=cancel, prompt=prompt)
        except Exception as exc:  # noqa: BLE001 - explain_findings should not raise; be sure
            result = ExplanationResult("error", cfg.model, prompt.endpoint,
                                       error=f"AI explanations unavailable: {type(exc).__name__}: {one_line(str(exc), 200)}")
        if pending:
            app.post_message(ModelDelta(token, "".join(pending)))
        app.post_message(ModelReplied(token, result))

    # -- the reply, piece by piece (the app's message handlers call these) -----------------------
    def _entry_for(self, token: int) -> AIEntry | None:
        return next((e for e in self.entries.values() if e.token == token and token), None)

    def delta(self, message: ModelDelta) -> None:
        entry = self._entry_for(message.token)
        if entry is None or not entry.busy:
            return  # cancelled (or replaced): late text is dropped
        entry.streamed.append(message.text)
        self.changed(entry.finding_id)

    def replied(self, message: ModelReplied) -> None:
        entry = self._entry_for(message.token)
        if entry is None or not entry.busy:
            return  # cancelled already (shown as such)
        result: ExplanationResult = message.result
        entry.cancel = None
        entry.result = result
        if result.status == "cancelled":
            entry.status, entry.message = "cancelled", "AI request cancelled"
        elif result.error:
            entry.status, entry.message = "error", one_line(result.error, 300)
            self.app.notify(safe(entry.message), title="AI", severity="error", timeout=10)
        else:
            entry.status = "done"
            if not entry.explanation() and not result.text:
                self.app.notify("the model's reply did not explain this finding", title="AI", severity="warning")
        self.changed(entry.finding_id)

    def cancel(self) -> bool:
        """Esc: cancel the running AI request, if any (True when there was one)."""
        entry = self.busy()
        if entry is None:
            return False
        if entry.cancel is not None:
            entry.cancel.set()
        entry.status, entry.message, entry.cancel = "cancelled", "AI request cancelled (Esc)", None
        self.changed(entry.finding_id)
        self.app.notify("AI request cancelled", timeout=3)
        return True

    def changed(self, finding_id: str) -> None:
        screen = self.app.screen
        hook = getattr(screen, "ai_changed", None)
        if hook is not None:
            hook(finding_id)
        if isinstance(screen, RunScreen):
            screen.query_one(StatusLine).update_status()

    def explained(self, diag: Diagnosis) -> Diagnosis:
        """``diag`` with the explanations received so far (for export)."""
        from assistant.llm import attach_explanations

        for e in self.entries.values():
            if e.status == "done" and e.result is not None:
                diag = attach_explanations(diag, e.result)
        return diag

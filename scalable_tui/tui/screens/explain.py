"""Explain a finding with the model: the preview modal, the AI pane, the ``x`` key.

Nothing is sent before the user has seen the exact request (the JSON that
``--show-prompt`` prints, for that one finding) and pressed Send.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from scalable_tui.model.diagnosis import Finding
from assistant.textsafe import printable
from scalable_tui.tui.ai import ai_section
from scalable_tui.tui.fmt import safe

if TYPE_CHECKING:
    from assistant.llm import Prompt


def explain_binding(show: bool = True) -> Binding:
    return Binding("x", "explain", "Explain (AI)", show=show, tooltip="ask the model to explain this finding; shows what would be sent first")


class PromptPreviewScreen(ModalScreen[bool]):
    """The exact request for one finding; dismisses with True (Send) or False (Cancel)."""

    DEFAULT_CSS = """
    PromptPreviewScreen { align: center middle; }
    PromptPreviewScreen > Vertical {
        width: 90%; height: 90%; padding: 0 1;
        border: thick $primary; background: $surface;
    }
    PromptPreviewScreen #preview-title { text-style: bold; height: auto; }
    PromptPreviewScreen #preview-summary { color: $text-muted; height: auto; margin-bottom: 1; }
    PromptPreviewScreen #preview-body { height: 1fr; border: round $panel; }
    PromptPreviewScreen #preview-buttons { height: auto; align: right middle; }
    PromptPreviewScreen Button { margin-left: 2; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("s", "send", "Send"),
    ]
    AUTO_FOCUS = "#preview-body"

    def __init__(self, prompt: "Prompt", finding: Finding) -> None:
        super().__init__()
        self.prompt = prompt
        self.finding = finding
        #: The JSON shown: endpoint, model and the exact messages (what --show-prompt prints).
        self.preview_json = json.dumps(prompt.preview(), indent=2, ensure_ascii=False)
        #: The same data as in the user message, indented for reading (not what is sent).
        self.payload_json = json.dumps(prompt.payload, indent=2, ensure_ascii=False)

    def compose(self) -> ComposeResult:
        p = self.prompt
        with Vertical():
            title = Text("Send this to ")
            title.append(safe(p.model), style="bold")
            title.append(" at ")
            title.append(safe(p.endpoint), style="bold")
            title.append("?  It asks to explain: ")
            title.append(safe(self.finding.title))
            yield Label(title, id="preview-title")
            yield Static(Text(printable(p.summary_line()) + "  ·  nothing has been sent yet"), id="preview-summary")
            with VerticalScroll(id="preview-body"):
                yield Static(Text(printable(self.preview_json)), id="preview-json")
                yield Static(
                    Text("\nFor reading only: the data in the user message above, indented (the request is the JSON above)\n", style="dim italic")
                    + Text(printable(self.payload_json), style="dim"),
                    id="preview-payload",
                )
            with Horizontal(id="preview-buttons"):
                yield Button("Send (s)", id="ai-send", variant="primary")
                yield Button("Cancel (Esc)", id="ai-cancel")

    @on(Button.Pressed, "#ai-send")
    def action_send(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#ai-cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)


class AIPane(VerticalScroll):
    """The AI explanation of one finding, on screens without a finding detail pane.

    Hidden until the highlighted finding has something to show, so screens
    look as before until ``x`` is pressed.
    """

    DEFAULT_CSS = """
    AIPane { display: none; height: auto; max-height: 50%; padding: 0 1; border-top: solid $primary; }
    AIPane.-visible { display: block; }
    """

    def compose(self) -> ComposeResult:
        yield Static(classes="ai-text")

    def show(self, finding: Finding | None, entry: Any) -> None:
        body = ai_section(entry)
        self.set_class(bool(body.plain), "-visible")
        if not body.plain:
            return
        t = Text()
        if finding is not None:
            t.append(safe(finding.title), style="bold")
            t.append("\n")
        t.append_text(body)
        self.query_one(".ai-text", Static).update(t)
        if entry is not None and entry.busy:
            self.scroll_end(animate=False)

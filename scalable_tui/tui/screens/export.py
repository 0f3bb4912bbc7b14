"""A small modal that asks where to export the findings (Markdown or JSON)."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from scalable_tui.model.diagnosis import Diagnosis
from scalable_tui.tui.fmt import safe


def inside(child: Path, parent: Path) -> bool:
    try:
        child.resolve().relative_to(parent.resolve())
    except ValueError:
        return False
    return True


def export_findings(diag: Diagnosis, path: Path, run_dir: Path) -> str:
    """Write the findings; JSON when the name ends in .json, else Markdown. Returns the format."""
    from assistant.render import render_markdown, to_json

    if inside(path, run_dir):
        raise ValueError(f"refusing to write inside the run directory {run_dir}")
    fmt = "json" if path.suffix.lower() == ".json" else "markdown"
    out = to_json(diag) if fmt == "json" else render_markdown(diag)
    path.write_text(out, encoding="utf-8")
    return fmt


class ExportScreen(ModalScreen[str | None]):
    """Returns the written path, or None when cancelled."""

    DEFAULT_CSS = """
    ExportScreen { align: center middle; }
    ExportScreen > Vertical {
        width: 80; height: auto; padding: 1 2;
        border: thick $primary; background: $surface;
    }
    ExportScreen #export-error { color: $error; height: auto; }
    ExportScreen Label { margin-bottom: 1; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, diagnosis: Diagnosis, run_dir: Path, default: str) -> None:
        super().__init__()
        self.diagnosis = diagnosis
        self.run_dir = run_dir
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text("Export findings — a name ending in .json writes JSON, anything else Markdown"))
            yield Input(value=self.default, id="export-path")
            yield Static(id="export-error")

    @on(Input.Submitted, "#export-path")
    def _submit(self, event: Input.Submitted) -> None:
        raw = event.value.strip()
        err = self.query_one("#export-error", Static)
        if not raw:
            err.update(Text("name a file"))
            return
        path = Path(raw).expanduser()
        try:
            export_findings(self.diagnosis, path, self.run_dir)
        except ValueError as exc:
            err.update(Text(safe(str(exc))))
            return
        except OSError as exc:
            err.update(Text(f"cannot write {safe(raw)}: {safe(exc.strerror or exc)}"))
            return
        self.dismiss(str(path))

    def action_cancel(self) -> None:
        self.dismiss(None)

"""The footer status line: "live: tailing" vs "finished" vs "abandoned? …".

With ``attach --record FILE`` it starts with "● recording to FILE": what is
written to disk must be visible on every screen.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from scalable_tui.tui.fmt import safe


def recording_label(app: object) -> Text:
    """``● recording to FILE  ·  `` while the app records (attach --record), else empty."""
    t = Text()
    rec = getattr(app, "recorder", None)
    path = getattr(rec, "path", None) if rec is not None else None
    if path is not None:
        t.append(f"● recording to {safe(path)}", style="bold red")
        t.append("  ·  ")
    return t


class StatusLine(Static):
    DEFAULT_CSS = """
    StatusLine {
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $text-muted;
    }
    StatusLine.-live { color: $success; }
    StatusLine.-abandoned { color: $error; text-style: bold; }
    StatusLine.-finished { color: $text-muted; }
    """

    def on_mount(self) -> None:
        self.update_status()
        # Idle time grows without new data: tick, but only for live runs.
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        snap = getattr(self.app, "snapshot", None)
        if snap is not None and snap.live:
            self.update_status()

    def update_status(self) -> None:
        app = self.app
        snap = getattr(app, "snapshot", None)
        if snap is None:
            error = getattr(app, "load_error", None)
            t = recording_label(app)
            t.append(f"error: {safe(error)}" if error else "loading…")
            self.update(t)
            return
        label, kind = snap.status_line(app.now())  # type: ignore[attr-defined]
        self.set_class(kind == "live", "-live")
        self.set_class(kind == "abandoned", "-abandoned")
        self.set_class(kind == "finished", "-finished")
        t = recording_label(app)
        t.append(label)
        d = snap.diagnosis  # the same counts as diagnose --format json (task totals: TaskTotals)
        t.append(f"  ·  {safe(snap.run_id)}  ·  {d.failures_total} failures  ·  {d.tasks_total} tasks")
        ai = getattr(app, "ai_status", None)
        ai_line = ai() if callable(ai) else None
        if ai_line:
            t.append("  ·  ")
            t.append(ai_line, style="bold magenta")
        self.update(t)

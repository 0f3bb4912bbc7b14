"""One failure in full: its facts, and its traceback in a pane that keeps its height and scrolls.

Untrusted text (messages, tracebacks, task names) goes through ``printable``
and into ``Text``/``Syntax`` objects, never markup.
"""

from __future__ import annotations


from rich.console import Group
from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from scalable_tui.session.snapshot import RunSnapshot
from scalable_tui.session.lists import failure_text, split_worker
from scalable_tui.tui.fmt import (
    fmt_duration,
    fmt_iso,
    line,
    safe,
)
from scalable_tui.tui.screens.base import RunScreen
from scalable_tui.model.run import FailureRecord


class FailureDetailScreen(RunScreen):
    """One failure: task, worker, resources, and its traceback (or message).

    Two stacked panes: the facts (at most ~45% of the height, scrolling on
    their own) and the traceback, which keeps at least 8 lines on a 24-line
    terminal and has the focus, so ↑/↓/PgUp/PgDn/Home/End scroll it at once.
    """

    DEFAULT_CSS = """
    FailureDetailScreen #detail-meta-box { height: auto; max-height: 45%; padding: 0 1; }
    FailureDetailScreen #detail-trace-box { height: 1fr; min-height: 8; padding: 0 1; border-top: solid $primary; }
    FailureDetailScreen #detail-trace-box:focus { border-top: solid $accent; }
    """
    BINDINGS = [Binding("x", "explain", "Explain (AI)", show=False)]
    AUTO_FOCUS = "#detail-trace-box"

    def __init__(self, record: FailureRecord) -> None:
        super().__init__()
        self.record = record

    def on_mount(self) -> None:
        super().on_mount()
        # The traceback's syntax theme follows the app's light/dark theme.
        self.watch(self.app, "theme", self._theme_changed, init=False)

    def _theme_changed(self, _theme: str) -> None:
        if self.shown_snapshot() is not None:
            self.render_snapshot(self.shown_snapshot())

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="detail-meta-box"):
            yield Static(id="detail-meta")
        with VerticalScroll(id="detail-trace-box"):
            yield Static(id="detail-trace")

    def action_explain(self) -> None:
        # One failure is not what the model explains: its group (a finding) is.
        self.notify("x explains a finding group: press Esc and x on the group's list, or select one on Findings (4)",
                    severity="warning", timeout=6)

    def render_snapshot(self, snap: RunSnapshot) -> None:
        r = self.record
        t = Text()
        t.append(safe(r.failure_class), style="bold red")
        t.append(": ")
        t.append(line(r.message, 300))
        t.append("\n")
        worker, key = split_worker(r.worker)
        rows = [
            ("time", fmt_iso(r.timestamp) if r.timestamp else ("before attach (time unknown)" if r.details.get("before_attach") else safe(r.details.get("time")))),
            ("task", safe(r.task_name)),
            ("task id", safe(r.task_id)),  # in full: the lists elide it
            ("dask key", safe(r.dask_key or key)),
            ("component", safe(r.component)),
            ("worker", safe(worker)),
            ("provider", safe(r.provider)),
            ("phase", safe(r.phase)),
            ("duration", fmt_duration(r.duration_s)),
            ("source", f"{safe(r.source)}:{r.line_no}" if r.line_no else safe(r.source)),
        ]
        res = r.resources
        if res is not None:
            rows.append(
                (
                    "resources",
                    f"cpus {safe(res.requested_cpus)} · memory {safe(res.requested_memory)} · "
                    f"walltime {safe(res.requested_walltime)} · workers {safe(res.requested_workers)}",
                )
            )
        shown = {v for _k, v in rows}
        for k, v in r.details.items():
            value = line(v if isinstance(v, str) else repr(v), 200)
            if value not in shown:  # details often repeat phase, task id, worker
                rows.append((safe(k), value))
        for k, v in rows:
            if v in ("-", ""):
                continue  # nothing recorded: keep the traceback's room
            t.append(f"{k:>10}  ", style="bold")
            t.append(v)
            t.append("\n")
        self.query_one("#detail-meta", Static).update(t.rstrip() or t)
        trace = self.query_one("#detail-trace", Static)
        if r.traceback:
            dark = self.app.current_theme.dark if self.app.current_theme else True
            trace.update(
                Group(
                    Text("Traceback", style="bold"),
                    Syntax(
                        failure_text(r),
                        "pytb",
                        theme="monokai" if dark else "default",
                        word_wrap=True,
                        background_color="default",
                    ),
                )
            )
        else:
            plain = Text("No traceback recorded; the message:\n", style="dim")
            plain.append(failure_text(r), style="")
            trace.update(plain)

    def copy_text(self) -> str | None:
        return failure_text(self.record)

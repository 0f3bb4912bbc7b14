"""The footer status line: "live: tailing" vs "finished" vs "abandoned? …".

With ``attach --record FILE`` it starts with "● recording to FILE": what is
written to disk must be visible on every screen.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from typing import Any

from scalable_tui.session.view import ViewModel
from scalable_tui.tui.fmt import safe


def recording_label(view: ViewModel) -> Text:
    """``● recording to FILE  ·  `` while the session records (attach --record), else empty."""
    t = Text()
    path = view.caps.recording_to
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
        view: ViewModel = self.app.view  # type: ignore[attr-defined]
        if view.run is not None and view.ticks():
            self.update_status()

    def update_status(self) -> None:
        app: Any = self.app
        view: ViewModel = app.view
        snap = view.run
        if snap is None:
            error = view.error
            t = recording_label(view)
            t.append(f"error: {safe(error)}" if error else "loading…")
            self.update(t)
            return
        label, kind = view.status_line(app.now()) or snap.status_line(app.now())
        self.set_class(kind == "live", "-live")
        self.set_class(kind == "abandoned", "-abandoned")
        self.set_class(kind == "finished", "-finished")
        t = recording_label(view)
        t.append(label)
        d = snap.diagnosis  # the same counts as diagnose --format json (task totals: TaskTotals)
        # A live scheduler's tasks move with every poll; the diagnosis is only redone when failures change,
        # so its total went stale beside the Overview's (99 there, 97 here): count them as the Overview does.
        if view.live is not None and not view.live.reached:
            # nothing was counted: "0 failures · 0 tasks" would read as an all-clear
            t.append(f"  ·  {safe(snap.run_id)}  ·  nothing seen yet")
        else:
            n_tasks = sum(view.live.task_totals().values()) if view.live is not None else d.tasks_total
            t.append(f"  ·  {safe(snap.run_id)}  ·  {d.failures_total} failures  ·  {n_tasks} tasks")
        ai_line = app.ai_status()
        if ai_line:
            t.append("  ·  ")
            t.append(ai_line, style="bold magenta")
        self.update(t)


class PartialBanner(Static):
    """While a big run is still being read, every count on a screen is of the part read so far.

    The status line said "indexing… 1% read" in small print while the Overview
    said "1728 tasks · 198 running" for a finished run of 300k tasks; this line
    says it where the numbers are, and goes away when the whole run is read.
    """

    DEFAULT_CSS = """
    PartialBanner {
        height: auto;
        padding: 0 1;
        background: $warning 20%;
        color: $text;
        text-style: bold;
        display: none;
    }
    """

    def show(self, view: ViewModel) -> None:
        snap = view.run
        loading = None if snap is None else snap.loading
        self.display = loading is not None
        if loading is not None:
            self.update(Text(f"Still reading this run ({loading:.0%} of its files): the counts and lists below are "
                             "of the part read so far."))

"""The replay timeline: the recording's time range, the current position, failures and worker deaths.

Two rows::

    ━━━━━━━━━━━━━✗━━━━━━●────†──┄┄┄┄┄┄┄┄──✗───────────────
    13:02:11  ✗ failure  † worker death  ┄ not recorded   13:07:45 (+00:05:34) 67/720   14:02:11

A stretch the recording did not see (the recorder restarted or stalled, the
scheduler restarted) is drawn ``┄`` between its last frame before and its
first frame after, so nobody reads "no failures there" into it.

Click (or drag) on the bar to seek.  The widget reads its data from the app
(``ReplayApp``): ``times``, ``pos``, ``failure_times``, ``death_times`` and ``gaps``.
"""

from __future__ import annotations

from typing import Sequence

from rich.text import Text
from textual import events
from textual.widget import Widget

from scalable_tui.tui.messages import SeekRequested

from scalable_tui.tui.fmt import clock as clock  # re-exported: the replay app's clock is the screens' clock


def elapsed(seconds: float) -> str:
    s = max(0, int(round(seconds)))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def column(t: float, t0: float, t1: float, width: int) -> int:
    """The bar column of time ``t`` (0 .. width-1)."""
    if width <= 1 or t1 <= t0:
        return 0
    return max(0, min(width - 1, round((t - t0) / (t1 - t0) * (width - 1))))


def time_at(col: int, t0: float, t1: float, width: int) -> float:
    """The time under bar column ``col`` (the inverse of :func:`column`)."""
    if width <= 1 or t1 <= t0:
        return t0
    col = max(0, min(width - 1, col))
    return t0 + (t1 - t0) * col / (width - 1)


def render_bar(times: Sequence[float], pos: int, failures: Sequence[float], deaths: Sequence[float],
               width: int, gaps: Sequence[tuple[float, float]] = ()) -> Text:
    """The bar row: played part bold, marks for failures (✗) and worker deaths (†), gaps (┄), the position (●)."""
    bar = Text(no_wrap=True, overflow="crop")
    if width <= 0:
        return bar
    if not times:
        bar.append("─" * width, style="dim")
        return bar
    t0, t1 = times[0], times[-1]
    cur = column(times[pos], t0, t1, width)
    marks: dict[int, str] = {}
    for before, after in gaps:  # the columns strictly between the frames around the gap
        for c in range(column(before, t0, t1, width) + 1, column(after, t0, t1, width)):
            marks[c] = "g"
    for t in failures:
        marks[column(t, t0, t1, width)] = "f"
    for t in deaths:
        marks[column(t, t0, t1, width)] = "d"  # a death wins over a failure in the same column
    for c in range(width):
        m = marks.get(c)
        if m == "f":
            ch, style = "✗", "bold red"
        elif m == "d":
            ch, style = "†", "bold magenta"
        elif m == "g":
            ch, style = "┄", "yellow"
        elif c <= cur:
            ch, style = "━", "cyan"
        else:
            ch, style = "─", "dim"
        if c == cur:
            if m is None:
                ch, style = "●", "bold yellow"
            else:
                style += " reverse"
        bar.append(ch, style=style)
    return bar


def render_labels(times: Sequence[float], pos: int, width: int, has_gaps: bool = False) -> Text:
    """The label row: start, legend, the position (clock, elapsed, index), end."""
    t = Text(no_wrap=True, overflow="crop")
    if not times:
        t.append("no snapshots in this recording", style="dim")
        return t
    left = Text(clock(times[0]), style="dim")
    left.append("  ")
    left.append("✗", style="bold red")
    left.append(" failure  ", style="dim")
    left.append("†", style="bold magenta")
    left.append(" worker death", style="dim")
    if has_gaps:
        left.append("  ┄", style="yellow")
        left.append(" not recorded", style="dim")
    mid = Text(f"{clock(times[pos])} (+{elapsed(times[pos] - times[0])})  {pos + 1}/{len(times)}", style="bold")
    right = Text(clock(times[-1]), style="dim")
    gap = width - len(left) - len(mid) - len(right)
    if gap < 2:  # narrow: the position first
        t.append_text(mid)
        t.append("  ")
        t.append_text(right)
        return t
    lpad = max(1, (width - len(mid)) // 2 - len(left))
    t.append_text(left)
    t.append(" " * lpad)
    t.append_text(mid)
    t.append(" " * max(1, gap - lpad))
    t.append_text(right)
    return t


class Timeline(Widget):
    """The replay slider (see the module docstring); reads ``times``/``pos``/marks from the app."""

    DEFAULT_CSS = """
    Timeline {
        height: 2;
        padding: 0 1;
        background: $boost;
    }
    """

    def __init__(self, *, id: str | None = "timeline") -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self._dragging = False

    def _data(self) -> tuple[list[float], int, list[float], list[float], list[tuple[float, float]]]:
        tl = self.app.view.timeline  # type: ignore[attr-defined]
        if tl is None:
            return [], 0, [], [], []
        times = list(tl.times)
        pos = min(max(0, tl.pos), max(0, len(times) - 1))
        return times, pos, list(tl.failure_times), list(tl.death_times), list(tl.gaps)

    def render(self) -> Text:
        width = self.content_size.width
        times, pos, failures, deaths, gaps = self._data()
        out = render_bar(times, pos, failures, deaths, width, gaps)
        out.append("\n")
        out.append_text(render_labels(times, pos, width, bool(gaps)))
        return out

    # -- seeking with the mouse ------------------------------------------------
    def time_at_x(self, x: int) -> float | None:
        """The time under content column ``x``."""
        times = self._data()[0]
        if not times:
            return None
        return time_at(x, times[0], times[-1], self.content_size.width)

    def _seek(self, event: events.MouseEvent) -> None:
        offset = event.get_content_offset(self)
        x = event.x - 1 if offset is None else offset.x  # padding: 1 column
        t = self.time_at_x(x)
        if t is not None:
            self.post_message(SeekRequested(t))

    def on_mouse_down(self, event: events.MouseDown) -> None:
        self._dragging = True
        self.capture_mouse()
        self._seek(event)
        event.stop()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._dragging:
            self._seek(event)

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self._dragging:
            self._dragging = False
            self.capture_mouse(False)
        event.stop()

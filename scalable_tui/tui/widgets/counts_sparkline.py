"""A sparkline of counts per interval, drawn from zero.

Textual's ``Sparkline`` scales between the data's minimum and maximum: a run
failing steadily 1600-1700 times per interval drew a comb of full and empty
columns, as if failures came in bursts with quiet spells between them.  For
counts the floor is zero: a column's height is its count over the largest
count, an interval with none is empty, and one with any is at least one step high.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

from rich.color import Color as RichColor
from rich.color import blend_rgb
from rich.console import Console, ConsoleOptions
from rich.segment import Segment
from rich.style import Style
from textual.app import RenderResult
from textual.widgets import Sparkline

BARS = "▁▂▃▄▅▆▇█"


def columns(data: Sequence[float], width: int) -> list[float]:
    """One value per column: the largest of each column's share of ``data``, or each value stretched."""
    n = len(data)
    if n == 0 or width <= 0:
        return []
    if n <= width:
        return [data[c * n // width] for c in range(width)]
    return [max(data[c * n // width:(c + 1) * n // width]) for c in range(width)]


def levels(values: Sequence[float], height: int) -> list[int]:
    """Steps of ``1 / (8 * height)`` of the largest value, rounded up: 0 only for nothing."""
    top = max(values, default=0)
    steps = 8 * height
    return [0 if v <= 0 or top <= 0 else max(1, math.ceil(v / top * steps)) for v in values]


class CountsBars:
    """The rich renderable: ``height`` rows of block characters."""

    def __init__(self, data: Sequence[float], width: int, height: int, low: RichColor, high: RichColor) -> None:
        self.data, self.width, self.height = list(data), width, max(1, height)
        self.low, self.high = low, high

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Segment]:
        width = self.width or options.max_width
        values = columns(self.data, width)
        lv = levels(values, self.height)
        top = max(values, default=0)
        lo, hi = self.low.get_truecolor(), self.high.get_truecolor()
        styles = [Style(color=RichColor.from_triplet(blend_rgb(lo, hi, v / top))) if top > 0 else None
                  for v in values]
        for row in reversed(range(self.height)):
            for c in range(width):
                part = lv[c] - 8 * row if c < len(lv) else 0
                if part <= 0:
                    yield Segment("▁" if row == 0 and not top else " ", Style(color=self.low))
                else:
                    yield Segment(BARS[min(part, 8) - 1], styles[c])
            if row:
                yield Segment.line()


class CountsSparkline(Sparkline):
    """``Sparkline`` (same CSS, same colours) over counts, from zero: see the module docstring."""

    def render(self) -> RenderResult:
        _, base = self.background_colors
        low = base + (self.get_component_styles("sparkline--min-color").color if self.min_color is None
                      else self.min_color)
        high = base + (self.get_component_styles("sparkline--max-color").color if self.max_color is None
                       else self.max_color)
        return CountsBars(self.data or [], self.size.width, self.size.height, low.rich_color, high.rich_color)

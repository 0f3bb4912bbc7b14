"""The Overview's timelines are drawn from zero (Textual's Sparkline scales from the data's minimum).

A run failing steadily, 1600 and 1700 failures per interval in turn, was drawn
as a comb of full and empty columns: bursts and quiet spells that never happened.
"""

from __future__ import annotations

from rich.color import Color
from rich.console import Console

from scalable_tui.tui.widgets.counts_sparkline import CountsBars, columns, levels


def _rows(data: list[float], width: int, height: int = 2) -> list[str]:
    console = Console(width=width, color_system=None, record=True, file=open("/dev/null", "w"))
    console.print(CountsBars(data, width, height, Color.parse("grey50"), Color.parse("red")))
    return console.export_text().splitlines()


def test_steady_counts_are_drawn_steady() -> None:
    rows = _rows([1600, 1700] * 30, 77)
    assert len(rows) == 2 and len(rows[1]) == 77
    assert set(rows[1]) == {"█"}  # no empty column: every interval had failures
    assert set(rows[0]) <= {"▇", "█"}  # 1600 of 1700 is 15/16 of the height or more


def test_an_interval_without_counts_is_empty_and_a_small_count_is_seen() -> None:
    rows = _rows([0, 1, 100], 3)
    assert [r[0] for r in rows] == [" ", " "]  # nothing
    assert rows[1][1] == "▁" and rows[0][1] == " "  # 1 of 100: one step, not nothing
    assert rows[0][2] == "█" == rows[1][2]


def test_no_counts_at_all_show_the_baseline() -> None:
    assert _rows([0, 0, 0], 5) == [" " * 5, "▁" * 5]


def test_columns_take_the_largest_of_their_share_or_stretch() -> None:
    assert columns([1, 5, 2, 0], 2) == [5, 2]
    assert columns([1, 2], 4) == [1, 1, 2, 2]
    assert columns([], 3) == []
    assert levels([0, 1, 8, 16], 1) == [0, 1, 4, 8]

"""The live Tasks screen: task counts by prefix (the scheduler's task groups)."""

from __future__ import annotations

import re

from rich.text import Text
from textual.binding import Binding

from scalable_tui.tui.fmt import (
    hl,
)
from scalable_tui.tui.widgets.live_bars import done_fraction, prefix_bar
from scalable_tui.model.live import LiveSnapshot, PrefixCounts

from scalable_tui.tui.screens.live_base import LiveListScreen


class LiveTasksScreen(LiveListScreen):
    """State counts per task prefix with a progress bar and throughput."""

    DEFAULT_CSS = """
    LiveTasksScreen #live-info { height: 1; padding: 0 1; }
    LiveTasksScreen #live-table { height: 1fr; }
    """
    BINDINGS = [Binding("f", "toggle_faults", "With errors only", tooltip="prefixes with erred tasks")]
    FAULTS_LABEL = "prefixes with erred tasks"
    COLUMNS = (
        ("prefix", lambda p: p.name),
        ("progress", done_fraction),
        ("total", lambda p: p.total),
        ("waiting", lambda p: p.waiting),
        ("queued", lambda p: p.queued + p.no_worker),
        ("processing", lambda p: p.processing),
        ("memory", lambda p: p.memory),
        ("erred", lambda p: p.erred),
        ("released", lambda p: p.released),
        ("done %", done_fraction),
        ("tasks/s", lambda p: p.throughput),
        ("avg s", lambda p: p.duration_average),
    )

    def all_items(self, live: LiveSnapshot) -> list[PrefixCounts]:
        return list(live.prefixes.values())

    def default_order(self, items: list[PrefixCounts]) -> list[PrefixCounts]:
        return sorted(items, key=lambda p: (-p.total, p.name))

    def is_fault(self, p: PrefixCounts) -> bool:
        return p.erred > 0

    def fields(self, p: PrefixCounts) -> list[str]:
        return [p.name]

    def cells(self, p: PrefixCounts, pattern: re.Pattern[str] | None) -> list[Text]:
        def n(v: int, style: str = "") -> Text:
            return Text(str(v) if v else "·", style=style if v else "dim")

        return [
            hl(p.name, pattern, "bold"),
            prefix_bar(p, 20),
            Text(str(p.total)),
            n(p.waiting),
            n(p.queued + p.no_worker),
            n(p.processing, "cyan"),
            n(p.memory, "green"),
            n(p.erred, "bold red"),
            n(p.released, "dim"),
            Text(f"{done_fraction(p):.0%}"),
            Text("-" if p.throughput is None else f"{p.throughput:.2f}"),
            Text("-" if p.duration_average is None else f"{p.duration_average:.2f}"),
        ]

    def info_head(self, live: LiveSnapshot, total: int, shown: int) -> str:
        tot = live.task_totals()
        tput = sum(p.throughput or 0 for p in live.prefixes.values())
        return (f"{shown} of {total} task prefixes  ·  {sum(tot.values())} tasks  ·  {tot.get('erred', 0)} erred  ·  "
                f"{tput:.1f} tasks/s")

    def limited(self, live: LiveSnapshot) -> Text | None:
        return self.limited_line(live, "Tasks")

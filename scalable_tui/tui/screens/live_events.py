"""The live Events screen: the scheduler's event ring (worker joins and losses, restarts, log errors)."""

from __future__ import annotations

import re

from rich.text import Text
from textual.binding import Binding

from scalable_tui.tui.fmt import (
    clock,
    hl,
    line,
)
from scalable_tui.model.live import LiveEvent, LiveSnapshot

from scalable_tui.tui.screens.live_base import EVENT_STYLE, FAULT_EVENTS, LiveListScreen


class LiveEventsScreen(LiveListScreen):
    """Workers added/removed (with the scheduler's reason), KilledWorker, restarts, pauses, log warnings."""

    DEFAULT_CSS = """
    LiveEventsScreen #live-info { height: 1; padding: 0 1; }
    LiveEventsScreen #live-table { height: 1fr; }
    """
    BINDINGS = [Binding("f", "toggle_faults", "Problems only",
                        tooltip="departures, memory kills, KilledWorker, pauses, warnings, disconnects")]
    FAULTS_LABEL = "problems only"
    COLUMNS = (
        ("time", lambda e: e.ts),
        ("event", lambda e: e.kind),
        ("worker", lambda e: e.worker or ""),
        ("what", lambda e: e.text),
    )

    def all_items(self, live: LiveSnapshot) -> list[LiveEvent]:
        self.names = live.display_names
        return list(live.events)

    def default_order(self, items: list[LiveEvent]) -> list[LiveEvent]:
        """Newest first by time; equal times newest seen first.  Not by arrival alone: a KilledWorker event is
        stamped when its failure was first seen, which can come before the departures that arrived with it
        (the list said "newest first" and went 15:47:20, 15:47:19, 15:47:20)."""
        return sorted(items[::-1], key=_time, reverse=True)

    def is_fault(self, e: LiveEvent) -> bool:
        return e.kind in FAULT_EVENTS

    def fields(self, e: LiveEvent) -> list[str]:
        return [e.kind, self.names.get(e.worker or "", e.worker or ""), e.text, e.address or ""]

    def cells(self, e: LiveEvent, pattern: re.Pattern[str] | None) -> list[Text]:
        return [
            Text(clock(e.ts)),
            hl(e.kind, pattern, EVENT_STYLE.get(e.kind, "")),
            hl(self.names.get(e.worker or "", e.worker), pattern),
            hl(line(e.text, 160), pattern),
        ]

    def info_head(self, live: LiveSnapshot, total: int, shown: int) -> str:
        head = f"{shown} of {live.events_total} events"
        if live.events_dropped:
            head += f" ({live.events_dropped} oldest dropped)"
        return head + "  ·  newest first"

    def limited(self, live: LiveSnapshot) -> Text | None:
        return self.limited_line(live, "Events")

    def copy_text(self) -> str | None:
        e = self.current()
        return None if e is None else f"{clock(e.ts)} {e.kind} {self.names.get(e.worker or '', e.worker or '-')} {e.text}\n"


def _time(e: LiveEvent) -> float:
    return e.ts if isinstance(e.ts, (int, float)) and e.ts == e.ts else float("-inf")  # NaN/None: last

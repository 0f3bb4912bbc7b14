"""Per task-name progress as text bars: succeeded in green, failed in red.

One line per task name (``client.map``'s ``name[0]``, ``name[1]``, … come
folded into one ``name[…]`` row, see ``session.snapshot.top_task_groups``)::

    run_gcam      ██████████████▓▓▓▓▓▓▓▓  79 ok · 41 failed

Each state has its own glyph as well as its colour, so the failed share is
visible without colour too (NO_COLOR, a text capture, colour-blind users).
"""

from __future__ import annotations

from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget

from scalable_tui.model.words import run_states_said
from scalable_tui.tui.fmt import safe

#: (state, glyph, style) in bar order; other states share the last entry's look.
BAR_PARTS = (
    ("succeeded", "█", "green"),
    ("failed", "▓", "bold red"),
    ("cancelled", "▒", "magenta"),
    ("running", "░", "cyan"),
    ("submitted", "░", "bright_black"),
)
_KNOWN = {s for s, _g, _st in BAR_PARTS}
NAME_WIDTH = 22
MIN_BAR, MAX_BAR = 8, 30


def _cells(counts: list[int], width: int) -> list[int]:
    """Split ``width`` cells proportionally; every non-zero count gets at least one cell."""
    total = sum(counts)
    if total <= 0 or width <= 0:
        return [0] * len(counts)
    out, cum, prev = [], 0, 0
    for n in counts:
        cum += n
        edge = round(cum * width / total)
        out.append(edge - prev)
        prev = edge
    for i, n in enumerate(counts):
        if n and not out[i]:
            j = max(range(len(out)), key=lambda k: out[k])
            if out[j] > 1:
                out[j] -= 1
                out[i] += 1
    return out


def state_bar(counts: dict[str, int], width: int) -> Text:
    """A ``width``-cell bar of the states' shares (succeeded, failed, cancelled, running, pending)."""
    parts = [counts.get(s, 0) for s, _g, _st in BAR_PARTS]
    parts[-1] += sum(n for s, n in counts.items() if s not in _KNOWN)
    t = Text()
    for (_s, glyph, style), n in zip(BAR_PARTS, _cells(parts, width)):
        if n:
            t.append(glyph * n, style=style)
    return t


#: The label's styles; other states are plain.
_LABEL_STYLE = {"failed": "bold red", "cancelled": "magenta", "running": "cyan"}


def counts_label(counts: dict[str, int], ended: bool = False) -> Text:
    """``79 ok · 41 failed`` (then cancelled, the unfinished ones and other states, as the reports say them)."""
    t = Text()
    t.append(f"{counts.get('succeeded', 0)} ok", style="green")
    for state, n, words in run_states_said(counts, ended):
        if state != "succeeded":
            t.append(" · ")
            t.append(f"{n} {safe(words)}", style=_LABEL_STYLE.get(state, ""))
    return t


def bars_text(rows: list[tuple[str, dict[str, int]]], more: int, width: int, noun: str = "task name",
              ended: bool = False) -> Text:
    """All rows for a given width: name, bar, counts (the bar takes what is left)."""
    if not rows:
        return Text("no tasks yet", style="dim")
    names = [safe(n) for n, _c in rows]
    labels = [counts_label(c, ended) for _n, c in rows]
    name_w = min(NAME_WIDTH, max(len(n) for n in names))
    label_w = max(len(lb) for lb in labels)
    bar_w = max(MIN_BAR, min(MAX_BAR, width - name_w - label_w - 4))
    t = Text(no_wrap=True, overflow="ellipsis")
    for i, (name, label, (_n, counts)) in enumerate(zip(names, labels, rows)):
        if i:
            t.append("\n")
        shown = name if len(name) <= name_w else name[: name_w - 1] + "…"
        t.append(shown.ljust(name_w), style="bold")
        t.append("  ")
        t.append_text(state_bar(counts, bar_w))
        t.append("  ")
        t.append_text(label)
    for note in notes_below(more, noun):
        t.append(f"\n{note}", style="dim")
    return t


def notes_below(more: int, noun: str) -> list[str]:
    """The dim lines under the bars (how many more; what a bar is): ``bars_text`` draws them, ``TaskBars``
    counts them for its height."""
    notes = [f"… {more} more {noun}{'s' if more != 1 else ''}"] if more > 0 else []
    if noun == "function":
        notes.append("per function: each task has a name of its own")
    return notes


class TaskBars(Widget):
    """The per task-name bars; re-laid out for the width it gets."""

    DEFAULT_CSS = """
    TaskBars { height: auto; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[tuple[str, dict[str, int]]] = []
        self.more = 0
        #: what a row is ("task name", or "function" when task names are per task)
        self.noun = "task name"
        #: the run ended: its unfinished tasks never finished
        self.ended = False

    def set_rows(self, rows: list[tuple[str, dict[str, int]]], more: int, noun: str = "task name",
                 ended: bool = False) -> None:
        self.rows, self.more, self.noun, self.ended = rows, more, noun, ended
        self.refresh(layout=True)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return max(1, len(self.rows) + len(notes_below(self.more, self.noun))) if self.rows else 1

    def render(self) -> Text:
        return bars_text(self.rows, self.more, self.content_size.width, self.noun, self.ended)

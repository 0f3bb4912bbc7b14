"""The one table of screens and keys: it drives the modes, the footer, ``?`` help and the palette.

Before, each app class (review, attach, replay) restated its MODES, BINDINGS
and palette commands; they drifted (a key in the footer but not in the
palette).  Now the app asks this module, with the session's capability
flags: a screen or key that the session cannot serve is not offered.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from scalable_tui.session.view import Capabilities
from scalable_tui.tui.screens.efficiency import EfficiencyScreen
from scalable_tui.tui.screens.failures import FailuresScreen
from scalable_tui.tui.screens.findings import FindingsScreen
from scalable_tui.tui.screens.history import HistoryScreen
from scalable_tui.tui.screens.live_events import LiveEventsScreen
from scalable_tui.tui.screens.live_jobs import LiveJobsScreen
from scalable_tui.tui.screens.live_overview import LiveOverviewScreen
from scalable_tui.tui.screens.live_tasks import LiveTasksScreen
from scalable_tui.tui.screens.live_workers import LiveWorkersScreen
from scalable_tui.tui.screens.overview import OverviewScreen
from scalable_tui.tui.screens.replay import with_timeline
from scalable_tui.tui.screens.tasks import TasksScreen
from scalable_tui.tui.screens.workers import WorkersScreen

__all__ = ["SCREENS", "ScreenEntry", "bindings_for", "modes_for", "screens_for", "title_for"]


@dataclass(frozen=True, slots=True)
class ScreenEntry:
    mode: str
    keys: str
    label: str
    #: The screen over a run directory, and over a scheduler (or its recording); None: not there.
    review: type[Screen] | None
    live: type[Screen] | None
    #: What the palette says about it (after "Switch to the … screen").
    palette: str = ""
    #: Shown only when the session can serve it.
    needs: Callable[[Capabilities], bool] = lambda caps: True

    def screen(self, caps: Capabilities) -> type[Screen] | None:
        cls = self.live if caps.live else self.review
        if cls is None or not self.needs(caps):
            return None
        return _with_timeline(self.mode, cls) if caps.has_timeline else cls


@functools.cache
def _with_timeline(mode: str, cls: type[Screen]) -> type[Screen]:
    return with_timeline(mode, cls)  # one class per screen for the app's life (CSS, isinstance)


SCREENS: tuple[ScreenEntry, ...] = (
    ScreenEntry("overview", "1,o", "Overview", OverviewScreen, LiveOverviewScreen),
    ScreenEntry("tasks", "2,t", "Tasks", TasksScreen, LiveTasksScreen),
    ScreenEntry("failures", "3,f", "Failures", FailuresScreen, FailuresScreen),
    ScreenEntry("findings", "4,i", "Findings", FindingsScreen, FindingsScreen),
    ScreenEntry("workers", "5,w", "Workers", WorkersScreen, LiveWorkersScreen, needs=lambda c: c.has_workers),
    ScreenEntry("events", "6,v", "Events", None, LiveEventsScreen),
    ScreenEntry("jobs", "7,j", "Jobs", None, LiveJobsScreen, palette="Slurm jobs behind the workers"),
    # A run directory's siblings: a scheduler (or its recording) has no runs directory.
    ScreenEntry("history", "8,h", "History", HistoryScreen, None,
                palette="Failure groups across the runs of this run's project"),
    ScreenEntry("efficiency", "9,u", "Efficiency", EfficiencyScreen, EfficiencyScreen,
                palette="requested vs used memory and CPU, like seff"),
)

#: The footer shows the screen keys as one compact group ("1 2 3 4 5 Screens",
#: each key's tooltip names its screen); ``?`` lists them in full.
SCREENS_GROUP = Binding.Group("Screens", compact=False)


def screen_key(keys: str, mode: str, label: str) -> Binding:
    return Binding(keys, f"switch_mode('{mode}')", label, group=SCREENS_GROUP, tooltip=label)


COMMON_KEYS = [
    Binding("c", "copy", "Copy"),
    Binding("e", "export", "Export"),
    Binding("ctrl+t,T", "toggle_theme", "Light/dark theme", show=False),
    Binding("question_mark", "toggle_help", "Keys"),
    Binding("q", "quit", "Quit"),
]
#: (key, what, label, help) of the copies of a selected failure group (Findings, a Failures group): the keys and
#: the palette's commands; hidden where no group is selected (the app's check_action).
GROUP_COPIES = (
    ("y", "ids", "Copy ids", "copy the selected failure group's task ids, one per line"),
    ("Y", "script", "Copy retry script", "copy what 'retry-plan --format python' prints, for the selected group only"),
)
GROUP_KEYS = [Binding(key, f"copy_group('{what}')", label, tooltip=tip) for key, what, label, tip in GROUP_COPIES]
DEBUG_KEY = Binding("D", "debug_locally", "Debug locally", show=False)
TIMELINE_KEYS = [
    Binding("left", "step(-1)", "step back", show=False, priority=True),
    Binding("right", "step(1)", "step", show=False, priority=True),
    Binding("shift+left", "step(-10)", "-10", show=False, priority=True),
    Binding("shift+right", "step(10)", "+10", show=False, priority=True),
    Binding("comma", "step(-1)", "step back", show=False),
    Binding("full_stop", "step(1)", "step", show=False),
    Binding("home", "edge(0)", "start", show=False, priority=True),
    Binding("end", "edge(1)", "end", show=False, priority=True),
    Binding("n", "jump('failure', 1)", "next failure"),
    Binding("N", "jump('failure', -1)", "prev failure", show=False),
    Binding("k", "jump('death', 1)", "next death"),
    Binding("K", "jump('death', -1)", "prev death", show=False),
    Binding("p", "play", "play/pause"),
    Binding("plus", "speed(1)", "faster", show=False),
    Binding("minus", "speed(-1)", "slower", show=False),
]


def screens_for(caps: Capabilities) -> list[tuple[ScreenEntry, type[Screen]]]:
    """The screens this session shows, in key order."""
    out = []
    for entry in SCREENS:
        cls = entry.screen(caps)
        if cls is not None:
            out.append((entry, cls))
    return out


def modes_for(caps: Capabilities) -> dict[str, type[Screen]]:
    return {entry.mode: cls for entry, cls in screens_for(caps)}


def bindings_for(caps: Capabilities) -> list[Binding]:
    """The app's keys: Textual's own first, then the screens (adjacent: the footer groups them), the rest."""
    keys = [*App.BINDINGS, *(screen_key(e.keys, e.mode, e.label) for e, _ in screens_for(caps)), *COMMON_KEYS,
            *GROUP_KEYS, DEBUG_KEY]
    if caps.has_timeline:
        keys.extend(TIMELINE_KEYS)
    return keys


def title_for(caps: Capabilities) -> str:
    if caps.has_timeline:
        return "scalable-tui review (replay)"
    return "scalable-tui attach" if caps.live else "scalable-tui review"

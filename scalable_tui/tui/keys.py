"""The one table of screens and keys: it drives the modes, the footer, ``?`` help and the palette.

Before, each app class (review, attach, replay) restated its MODES, BINDINGS
and palette commands; they drifted (a key in the footer but not in the
palette).  Now the app asks this module, with the session's capability
flags: a screen or key that the session cannot serve is not offered.
"""

from __future__ import annotations

import functools
import importlib
import sys
from dataclasses import dataclass
from typing import Any, Callable

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from scalable_tui.session.view import Capabilities

__all__ = ["SCREENS", "ScreenEntry", "bindings_for", "is_a", "is_screen", "modes_for", "screens_for", "title_for"]


#: Where the screens live; an entry names its screen as ``module:Class`` under this package.
SCREENS_PACKAGE = "scalable_tui.tui.screens"


def is_a(obj: Any, module: str, name: str) -> bool:
    """``isinstance(obj, module.name)`` without importing ``module``: if nothing imported it, nothing made ``obj``.

    The app's start imports only what its first screen needs (``scalable-tui
    review`` no longer loads the live, replay and picker code: ~0.1 s).
    """
    mod = sys.modules.get(module)
    cls = getattr(mod, name, None) if mod is not None else None
    return cls is not None and isinstance(obj, cls)


def is_screen(obj: Any, path: str) -> bool:
    """``is_a`` for a screen named as the entries name them (``"module:Class"`` under ``SCREENS_PACKAGE``)."""
    module, name = path.split(":")
    return is_a(obj, f"{SCREENS_PACKAGE}.{module}", name)


def screen_class(path: str) -> type[Screen]:
    """``"module:Class"`` (under ``SCREENS_PACKAGE``) -> the class, imported on first use."""
    module, name = path.split(":")
    cls: type[Screen] = getattr(importlib.import_module(f"{SCREENS_PACKAGE}.{module}"), name)
    return cls


@dataclass(frozen=True, slots=True)
class ScreenEntry:
    mode: str
    keys: str
    label: str
    #: The screen over a run directory, and over a scheduler (or its recording), as ``module:Class``
    #: under ``SCREENS_PACKAGE`` (imported when first shown); None: not there.
    review: str | None
    live: str | None
    #: What the palette says about it (after "Switch to the … screen").
    palette: str = ""
    #: Shown only when the session can serve it.
    needs: Callable[[Capabilities], bool] = lambda caps: True

    def path(self, caps: Capabilities) -> str | None:
        """``module:Class`` of the screen this session shows for the entry (None: not offered)."""
        path = self.live if caps.live else self.review
        return path if path is not None and self.needs(caps) else None

    def offered(self, caps: Capabilities) -> bool:
        return self.path(caps) is not None

    def screen(self, caps: Capabilities) -> type[Screen] | None:
        """The class this session shows for the entry (imports it)."""
        path = self.path(caps)
        if path is None:
            return None
        cls = screen_class(path)
        return _with_timeline(self.mode, cls) if caps.has_timeline else cls


@functools.cache
def _with_timeline(mode: str, cls: type[Screen]) -> type[Screen]:
    from scalable_tui.tui.screens.replay import with_timeline

    return with_timeline(mode, cls)  # one class per screen for the app's life (CSS, isinstance)


SCREENS: tuple[ScreenEntry, ...] = (
    ScreenEntry("overview", "1,o", "Overview", "overview:OverviewScreen", "live_overview:LiveOverviewScreen"),
    ScreenEntry("tasks", "2,t", "Tasks", "tasks:TasksScreen", "live_tasks:LiveTasksScreen"),
    ScreenEntry("failures", "3,f", "Failures", "failures:FailuresScreen", "failures:FailuresScreen"),
    ScreenEntry("findings", "4,i", "Findings", "findings:FindingsScreen", "findings:FindingsScreen"),
    ScreenEntry("workers", "5,w", "Workers", "workers:WorkersScreen", "live_workers:LiveWorkersScreen",
                needs=lambda c: c.has_workers),
    ScreenEntry("events", "6,v", "Events", None, "live_events:LiveEventsScreen"),
    ScreenEntry("jobs", "7,j", "Jobs", None, "live_jobs:LiveJobsScreen", palette="Slurm jobs behind the workers"),
    # A run directory's siblings: a scheduler (or its recording) has no runs directory.
    ScreenEntry("history", "8,h", "History", "history:HistoryScreen", None,
                palette="Failure groups across the runs of this run's project"),
    ScreenEntry("efficiency", "9,u", "Efficiency", "efficiency:EfficiencyScreen", "efficiency:EfficiencyScreen",
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


def screens_for(caps: Capabilities) -> list[ScreenEntry]:
    """The screens this session shows, in key order (nothing imported)."""
    return [entry for entry in SCREENS if entry.offered(caps)]


def modes_for(caps: Capabilities) -> dict[str, Callable[[], Screen]]:
    """The app's modes: a factory per screen, which imports the screen's module when it is first shown."""
    return {entry.mode: functools.partial(_make, entry, caps) for entry in screens_for(caps)}


def _make(entry: ScreenEntry, caps: Capabilities) -> Screen:
    cls = entry.screen(caps)
    assert cls is not None, entry.mode
    return cls()


def bindings_for(caps: Capabilities) -> list[Binding]:
    """The app's keys: Textual's own first, then the screens (adjacent: the footer groups them), the rest."""
    keys = [*App.BINDINGS, *(screen_key(e.keys, e.mode, e.label) for e in screens_for(caps)), *COMMON_KEYS,
            *GROUP_KEYS, DEBUG_KEY]
    if caps.has_timeline:
        keys.extend(TIMELINE_KEYS)
    return keys


def title_for(caps: Capabilities) -> str:
    if caps.has_timeline:
        return "scalable-tui review (replay)"
    return "scalable-tui attach" if caps.live else "scalable-tui review"

"""``ReviewApp``: the Textual app behind ``scalable-tui review``.

Data flows one way: a thread worker owns the run source (a ``RunDirReader``
or anything with ``load()``, ``refresh()`` and ``state``), loads it, and
while ``run.json`` says running refreshes it every ``poll_interval`` seconds.
After each change it recomputes the diagnosis, builds a ``RunSnapshot`` and
posts ``StateUpdated``; screens only render ``app.snapshot``.  The source is
a constructor parameter so tests inject a reader over fixture copies.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import get_current_worker

from scalable_tui.app.data import RunSnapshot, build_snapshot
from scalable_tui.models import RunState
from scalable_tui.app.fmt import safe
from scalable_tui.app.messages import LoadFailed, StateUpdated
from scalable_tui.app.screens.base import FilterableScreen, RunScreen
from scalable_tui.app.screens.export import ExportScreen
from scalable_tui.app.screens.failures import FailuresScreen
from scalable_tui.app.screens.findings import FindingsScreen
from scalable_tui.app.screens.overview import OverviewScreen
from scalable_tui.app.screens.picker import PickerScreen
from scalable_tui.app.screens.tasks import TasksScreen
from scalable_tui.app.screens.workers import WorkersScreen


class RunSource(Protocol):
    state: Any

    def load(self) -> Any: ...

    def refresh(self) -> Any: ...


SCREENS_HELP = (
    ("overview", "1 / o", "Overview"),
    ("tasks", "2 / t", "Tasks"),
    ("failures", "3 / f", "Failures"),
    ("findings", "4 / i", "Findings"),
    ("workers", "5 / w", "Workers"),
)


#: Bytes per stream in the first slice of a large run: small, so the first
#: screen is up in a blink; later slices are bigger (less overhead per byte).
FIRST_SLICE = 1 << 20
LOADING_SLICE = 64 << 20
#: How often the screens repaint while a large run is being indexed.
LOADING_REPAINT_S = 2.0


def _refresh_slice(source: Any, max_bytes: int) -> Any:
    """One sliced refresh, or None for sources without ``max_bytes`` support."""
    try:
        return source.refresh(max_bytes=max_bytes)
    except TypeError:
        return None


class ReviewApp(App[None]):
    TITLE = "scalable-tui review"
    MODES = {
        "overview": OverviewScreen,
        "tasks": TasksScreen,
        "failures": FailuresScreen,
        "findings": FindingsScreen,
        "workers": WorkersScreen,
    }
    DEFAULT_MODE = "overview"
    #: The two themes ``ctrl+t`` / ``T`` toggles between.
    DARK_THEME = "textual-dark"
    LIGHT_THEME = "textual-light"
    BINDINGS = [
        Binding("1,o", "switch_mode('overview')", "Overview"),
        Binding("2,t", "switch_mode('tasks')", "Tasks"),
        Binding("3,f", "switch_mode('failures')", "Failures"),
        Binding("4,i", "switch_mode('findings')", "Findings"),
        Binding("5,w", "switch_mode('workers')", "Workers"),
        Binding("c", "copy", "Copy"),
        Binding("e", "export", "Export"),
        Binding("ctrl+t,T", "toggle_theme", "Light/dark theme", show=False),
        Binding("question_mark", "toggle_help", "Keys"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        source: RunSource | None = None,
        *,
        runs: list[Path] | None = None,
        stale_after_s: float | None = None,
        no_ai: bool = True,
        now: Callable[[], float] = time.time,
        poll_interval: float = 1.0,
        source_factory: Callable[[Path], RunSource] | None = None,
    ) -> None:
        super().__init__()
        self.source = source
        self.runs = runs or []
        self.stale_after_s = stale_after_s
        self.no_ai = no_ai
        #: The clock (injectable so snapshots and elapsed times are deterministic in tests).
        self.now = now
        self.poll_interval = poll_interval
        self.source_factory = source_factory
        self.snapshot: RunSnapshot | None = None
        self.load_error: str | None = None
        #: How many snapshots arrived (tests wait on it).
        self.updates = 0

    # -- lifecycle -------------------------------------------------------------
    def on_mount(self) -> None:
        if self.source is not None:
            self.start_reading(self.source)
        else:
            self.push_screen(PickerScreen(self.runs, self.stale_after_s), self._picked)

    def _picked(self, run_dir: Path | None) -> None:
        if run_dir is None:
            self.exit()
            return
        if self.source_factory is None:
            from scalable_tui.sources.rundir import RunDirReader

            self.start_reading(RunDirReader(run_dir))
        else:
            self.start_reading(self.source_factory(run_dir))

    def start_reading(self, source: RunSource) -> None:
        self.source = source
        self.snapshot = None
        self.load_error = None
        self._read_run(source)

    @work(thread=True, exclusive=True, group="reader", name="run reader", exit_on_error=False)
    def _read_run(self, source: RunSource) -> None:
        """Owns the source: load, then tail while run.json says running."""
        from assistant.diagnose import diagnose_state

        worker = get_current_worker()
        version = 0

        diag = None

        def publish(state: RunState, loading: float | None) -> None:
            nonlocal version, diag
            version += 1
            now = self.now()
            # While indexing, the first slice's diagnosis stands in (the
            # screen says "indexing…"); the full one comes with the last slice.
            if loading is None or diag is None:
                diag = diagnose_state(state, stale_after_s=self.stale_after_s, now=now)
            snap = build_snapshot(state, diag, version, stale_after_s=self.stale_after_s, now=now, loading=loading)
            self.post_message(StateUpdated(snap))

        try:
            # A large run is read in slices: the first screen shows after the
            # first slice and fills in while the rest is indexed.
            res = _refresh_slice(source, FIRST_SLICE)
            last_post = 0.0
            while res is not None and res.more and not worker.is_cancelled:
                if time.monotonic() - last_post >= LOADING_REPAINT_S:
                    publish(source.state, res.progress)
                    last_post = time.monotonic()
                res = _refresh_slice(source, LOADING_SLICE)
            if res is None:
                source.load()
            changed = True
            while not worker.is_cancelled:
                state = source.state
                if changed:
                    publish(state, None)
                if state.meta.status != "running":
                    break  # finished: nothing more will be appended
                if worker.cancelled_event.wait(self.poll_interval):
                    break
                changed = source.refresh().changed
        except Exception as exc:  # noqa: BLE001 - shown to the user, never a crash
            self.post_message(LoadFailed(f"{type(exc).__name__}: {exc}"))

    def on_state_updated(self, message: StateUpdated) -> None:
        self.snapshot = message.snapshot
        self.updates += 1
        self.sub_title = safe(message.snapshot.run_id)
        if isinstance(self.screen, RunScreen):
            self.screen.sync()

    def on_load_failed(self, message: LoadFailed) -> None:
        self.load_error = message.error
        self.notify(safe(message.error), title="cannot read the run", severity="error", timeout=30)
        if isinstance(self.screen, RunScreen):
            self.screen.sync()

    # -- actions ---------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # The current screen's own "go to" key is a no-op: keep it out of the footer.
        if action == "switch_mode" and parameters and parameters[0] == self.current_mode:
            return False
        return super().check_action(action, parameters)

    def action_copy(self) -> None:
        getter = getattr(self.screen, "copy_text", None)
        text = getter() if getter else None
        if not text:
            self.notify("nothing to copy here", severity="warning")
            return
        self.copy_to_clipboard(text)
        n = text.count("\n") or 1
        self.notify(f"copied {n} line{'s' if n != 1 else ''} to the clipboard")

    def action_export(self) -> None:
        snap = self.snapshot
        if snap is None:
            self.notify("still loading", severity="warning")
            return
        default = str(Path.cwd() / f"{snap.run_id}-findings.md")
        if Path(default).resolve().is_relative_to(Path(snap.run_dir).resolve()):
            default = str(Path.home() / f"{snap.run_id}-findings.md")

        def done(path: str | None) -> None:
            if path:
                self.notify(f"findings written to {safe(path)}")

        self.push_screen(ExportScreen(snap.diagnosis, Path(snap.run_dir), default), done)

    def action_toggle_theme(self) -> None:
        """Dark <-> light (from any theme: a dark one goes light, a light one dark)."""
        dark = self.current_theme.dark if self.current_theme else True
        self.theme = self.LIGHT_THEME if dark else self.DARK_THEME
        self.notify(f"theme: {self.theme}", timeout=2)

    def action_toggle_help(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for mode, keys, title in SCREENS_HELP:
            yield SystemCommand(f"Go to {title}", f"Switch to the {title} screen ({keys})", lambda m=mode: self.switch_mode(m))
        yield SystemCommand("Copy", "Copy the current traceback or finding (c)", self.action_copy)
        yield SystemCommand("Export findings", "Write the findings as Markdown or JSON (e)", self.action_export)
        yield SystemCommand(
            "Toggle light/dark theme", f"Switch between {self.DARK_THEME} and {self.LIGHT_THEME} (ctrl+t or T)", self.action_toggle_theme
        )
        if isinstance(screen, FilterableScreen):
            yield SystemCommand("Filter this list", "Substring or /regex/, matches highlighted (/)", screen.action_filter)
            yield SystemCommand("Toggle faults only", f"{screen.FAULTS_LABEL.capitalize()} (f)", screen.action_toggle_faults)
        if isinstance(screen, TasksScreen):
            yield SystemCommand("Sort by next column", "(s; r reverses)", screen.action_sort_next)

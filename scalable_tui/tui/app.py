"""``ReviewApp``: the Textual app behind ``scalable-tui review``.

Data flows one way: a thread worker owns the run source (a ``RunDirReader``
or anything with ``load()``, ``refresh()`` and ``state``), loads it, and
while ``run.json`` says running refreshes it every ``poll_interval`` seconds.
After each change it recomputes the diagnosis, builds a ``RunSnapshot`` and
posts ``StateUpdated``; screens only render ``app.snapshot``.  The source is
a constructor parameter so tests inject a reader over fixture copies.
"""

from __future__ import annotations

import dataclasses
import gc
import inspect
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Protocol

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import get_current_worker

from scalable_tui.model.diagnosis import Diagnosis, Finding
from assistant.textsafe import one_line
from scalable_tui.tui.ai import AI_OFF_LINE, NO_AI_LINE, AIEntry, ai_status_line
from scalable_tui.tui.data import RunSnapshot, build_snapshot
from scalable_tui.model.run import RunState
from scalable_tui.tui.fmt import DEBUG_NEEDS_LIVE, clipboard_notice, safe
from scalable_tui.tui.messages import LoadFailed, LoadProgress, ModelDelta, ModelReplied, StateUpdated
from scalable_tui.tui.screens.base import FilterableScreen, RunScreen
from scalable_tui.tui.screens.explain import PromptPreviewScreen
from scalable_tui.tui.screens.export import ExportScreen
from scalable_tui.tui.screens.failures import FailuresScreen
from scalable_tui.tui.screens.findings import FindingsScreen
from scalable_tui.tui.screens.overview import OverviewScreen
from scalable_tui.tui.screens.picker import PickerScreen
from scalable_tui.tui.screens.tasks import TasksScreen
from scalable_tui.tui.screens.workers import WorkersScreen
from scalable_tui.tui.widgets.status import StatusLine

if TYPE_CHECKING:
    from assistant.llm import AIConfig, ExplanationResult, Prompt


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
#: screen is up in a blink.  The rest is read in bigger slices that only
#: report progress: building a snapshot per slice (copies of the task table)
#: made the whole load seconds slower on a 300k-task run.
FIRST_SLICE = 1 << 20
LOADING_SLICE = 32 << 20


def _refresh_slice(source: Any, max_bytes: int) -> Any:
    """One sliced refresh, or None for sources whose ``refresh`` takes no ``max_bytes``.

    Decided from the signature, not by catching ``TypeError``: a TypeError
    raised inside a reader is a bug to show, not "no slicing support" (it
    used to be swallowed and the run read again without a word).
    """
    try:
        params = inspect.signature(source.refresh).parameters
    except (TypeError, ValueError):  # not introspectable: call it plainly
        return None
    if "max_bytes" not in params and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return None
    return source.refresh(max_bytes=max_bytes)


#: The footer shows the screen keys as one compact group ("1 2 3 4 5 Screens",
#: each key's tooltip names its screen); ``?`` lists them in full.
SCREENS_GROUP = Binding.Group("Screens", compact=False)


def screen_key(keys: str, mode: str, label: str) -> Binding:
    return Binding(keys, f"switch_mode('{mode}')", label, group=SCREENS_GROUP, tooltip=label)


REVIEW_SCREEN_KEYS = [
    screen_key("1,o", "overview", "Overview"),
    screen_key("2,t", "tasks", "Tasks"),
    screen_key("3,f", "failures", "Failures"),
    screen_key("4,i", "findings", "Findings"),
    screen_key("5,w", "workers", "Workers"),
]
COMMON_KEYS = [
    Binding("c", "copy", "Copy"),
    Binding("e", "export", "Export"),
    Binding("ctrl+t,T", "toggle_theme", "Light/dark theme", show=False),
    Binding("question_mark", "toggle_help", "Keys"),
    Binding("q", "quit", "Quit"),
]


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
    BINDINGS = [*REVIEW_SCREEN_KEYS, *COMMON_KEYS, Binding("D", "debug_locally", "Debug locally", show=False)]
    CSS = """
    FooterLabel { margin-right: 1; }
    """

    def __init__(
        self,
        source: RunSource | None = None,
        *,
        runs: list[Path] | None = None,
        stale_after_s: float | None = None,
        no_ai: bool = False,
        ai_config: "AIConfig | None" = None,
        now: Callable[[], float] = time.time,
        poll_interval: float = 1.0,
        source_factory: Callable[[Path], RunSource] | None = None,
        slurm: str = "off",
    ) -> None:
        super().__init__()
        #: Join Slurm accounting for runs made on Slurm: "auto", "force" or "off" (see hpc_join).
        self.slurm = slurm
        self.source = source
        self.runs = runs or []
        self.stale_after_s = stale_after_s
        #: ``--no-ai``: the explain key only says that AI is off; nothing is ever sent.
        self.no_ai = no_ai
        #: Endpoint/model/key (``resolve_config``); None or not ``enabled``: AI is off.
        self.ai_config = ai_config
        #: AI state per finding id (asked, streaming, explained, failed, cancelled).
        self.ai_entries: dict[str, AIEntry] = {}
        self._ai_token = 0
        #: The clock (injectable so snapshots and elapsed times are deterministic in tests).
        self.now = now
        self.poll_interval = poll_interval
        self.source_factory = source_factory
        self.snapshot: RunSnapshot | None = None
        self.load_error: str | None = None
        #: How many snapshots arrived (tests wait on it).
        self.updates = 0
        #: (where, exception type) of screen-update errors already shown (each is shown once).
        self._screen_errors: set[tuple[str, str]] = set()

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
            from scalable_tui.sources.rundir.reader import RunDirReader

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
        from scalable_tui.session.slurm_join import SlurmJoin
        from scalable_tui.session import diagnose

        worker = get_current_worker()
        version = 0

        diag = None
        slurm_joined: SlurmJoin | None = None
        slurm_at = 0.0

        def publish(state: RunState, loading: float | None) -> None:
            nonlocal version, diag, slurm_joined, slurm_at
            version += 1
            now = self.now()
            # While indexing, the first slice's diagnosis stands in (the
            # screen says "indexing…"); the full one comes with the last slice.
            if loading is None or diag is None:
                if loading is None and self.slurm != "off":
                    from scalable_tui.session.slurm_join import slurm_join

                    # One sacct call per load, then at most every 5 minutes while tailing.
                    if slurm_joined is None or time.monotonic() - slurm_at > 300:
                        slurm_joined, slurm_at = slurm_join(state, self.slurm), time.monotonic()
                diag = diagnose(state, stale_after_s=self.stale_after_s, now=now,
                                joined=slurm_joined if loading is None else None)
            # A finished run, fully read: the reader stops right after this
            # publish, so the snapshot may share its tables.
            final = loading is None and state.meta.status != "running"
            snap = build_snapshot(state, diag, version, stale_after_s=self.stale_after_s, now=now, loading=loading,
                                  final=final)
            self.post_message(StateUpdated(snap))

        try:
            # A large run: the first screen shows after a small first slice
            # ("indexing…") and fills in when the rest has been read.
            res = _refresh_slice(source, FIRST_SLICE)
            if res is not None and res.more and not worker.is_cancelled:
                publish(source.state, res.progress)
                # The reader pauses the cyclic GC per refresh; between slices a
                # full collection would scan the growing state again and again
                # (about a second on a 300k-task run), so keep it paused
                # until the run is read.
                gc_was_enabled = gc.isenabled()
                gc.disable()
                try:
                    while res.more and not worker.is_cancelled:
                        res = source.refresh(max_bytes=LOADING_SLICE)
                        self.post_message(LoadProgress(res.progress))
                finally:
                    if gc_was_enabled:
                        gc.enable()
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
                changed = source.refresh().changed or self._threshold_passed(state, diag)
        except Exception as exc:  # noqa: BLE001 - shown to the user, never a crash
            self.post_message(LoadFailed(f"{type(exc).__name__}: {exc}"))

    def _threshold_passed(self, state: RunState, diag: Diagnosis | None) -> bool:
        """Has the clock alone changed the diagnosis?  (A quiet "running" run became abandoned.)

        The tail re-diagnoses on new data only; a run that stops writing never
        brings new data, so without this its ``run_abandoned`` finding would never
        show.  Cheap: timestamps only, no re-diagnosis unless the answer flips.
        """
        if diag is None or state.meta.status != "running":
            return False
        from assistant.abandoned import abandoned_info

        return abandoned_info(state, self.stale_after_s, self.now())[0] != diag.abandoned

    def report_screen_error(self, where: str, exc: BaseException) -> None:
        """A screen failed to take new data: logged, and shown once per kind (never silently dropped)."""
        key = (where, type(exc).__name__)
        self.log.error(f"{where}: screen update failed: {type(exc).__name__}: {exc}")
        if key in self._screen_errors:
            return
        self._screen_errors.add(key)
        self.notify(f"{where}: the screen could not be updated: {type(exc).__name__}: {safe(exc)}",
                    title="display error", severity="error", timeout=20)

    def on_state_updated(self, message: StateUpdated) -> None:
        self.snapshot = message.snapshot
        self.updates += 1
        self.sub_title = safe(message.snapshot.run_id)
        # (a diagnosis worker may post while the app is closing: no screen left to sync)
        if self.screen_stack and isinstance(self.screen, RunScreen):
            try:
                self.screen.sync()
            except Exception as exc:  # noqa: BLE001 - shown; the next snapshot may render (a monitor keeps going)
                self.report_screen_error("new diagnosis", exc)

    def on_load_progress(self, message: LoadProgress) -> None:
        snap = self.snapshot
        if snap is None or snap.loading is None:
            return
        # Same version: the screens keep what they show, only the status line moves.
        self.snapshot = dataclasses.replace(snap, loading=message.fraction)
        if isinstance(self.screen, RunScreen):
            self.screen.query_one(StatusLine).update_status()

    def on_load_failed(self, message: LoadFailed) -> None:
        self.load_error = message.error
        self.notify(safe(message.error), title="cannot read the run", severity="error", timeout=30)
        if isinstance(self.screen, RunScreen):
            self.screen.sync()

    # -- AI explanations ----------------------------------------------------------
    @property
    def ai_enabled(self) -> bool:
        return not self.no_ai and self.ai_config is not None and self.ai_config.enabled

    def ai_info(self) -> str:
        """A few words for the Findings info line: is AI on, and with which model."""
        if self.no_ai:
            return ", --no-ai"
        if self.ai_enabled:
            return f", x: explain with {safe(self.ai_config.model)}"  # type: ignore[union-attr]
        return ", AI off"

    def ai_busy(self) -> AIEntry | None:
        return next((e for e in self.ai_entries.values() if e.busy), None)

    def ai_status(self) -> str | None:
        """The status line's AI part (while a request runs)."""
        return ai_status_line(self.ai_busy())

    def explain_finding(self, finding: Finding | None) -> None:
        """``x``: preview the request for ``finding``; Send asks the model in a thread worker.

        With AI off (``--no-ai``, or no endpoint/key) it shows one line saying
        so and opens no connection.
        """
        if finding is None:
            self.notify("no finding selected", severity="warning")
            return
        if not self.ai_enabled:
            line = NO_AI_LINE if self.no_ai else AI_OFF_LINE
            self.ai_entries[finding.id] = AIEntry(finding.id, "off", message=line)
            self._ai_changed(finding.id)
            self.notify(line, title="AI", severity="warning", timeout=8)
            return
        busy = self.ai_busy()
        if busy is not None:
            self.notify("already asking the model; Esc cancels that request", severity="warning")
            return
        snap = self.snapshot
        if snap is None:
            self.notify("still loading", severity="warning")
            return
        cfg = self.ai_config
        assert cfg is not None
        from assistant.llm import cache

        if cfg.use_cache and cfg.cache_dir is not None and cache.usable_cache_dir(cfg.cache_dir, [Path(snap.run_dir)]) is None:
            cfg = dataclasses.replace(cfg, use_cache=False)  # never cache inside the run directory
        self._prepare_prompt(snap, finding, cfg)

    @work(thread=True, exclusive=True, group="ai-prompt", name="AI prompt", exit_on_error=False)
    def _prepare_prompt(self, snap: RunSnapshot, finding: Finding, cfg: "AIConfig") -> None:
        """Redact and budget the request off the UI thread (O(groups)), then preview it."""
        from assistant.llm import RedactionRulesError, build_prompt, run_context

        try:
            prompt = build_prompt(snap.diagnosis, [finding], cfg, context=run_context(snap))
        except RedactionRulesError as exc:
            self.call_from_thread(self._ai_failed_early, finding.id, f"{one_line(str(exc), 250)}; nothing was sent")
            return
        except Exception as exc:  # noqa: BLE001 - a message, never a crash
            self.call_from_thread(self._ai_failed_early, finding.id, f"cannot build the AI request: {type(exc).__name__}: {one_line(str(exc), 200)}")
            return
        if not get_current_worker().is_cancelled:  # x pressed again meanwhile: the newer one previews
            self.call_from_thread(self._preview, snap.diagnosis, finding, cfg, prompt)

    def _ai_failed_early(self, fid: str, line: str) -> None:
        self.ai_entries[fid] = AIEntry(fid, "error", message=line)
        self._ai_changed(fid)
        self.notify(safe(line), title="AI", severity="error", timeout=10)

    def _preview(self, diag: Diagnosis, finding: Finding, cfg: "AIConfig", prompt: "Prompt") -> None:
        def answered(send: bool | None) -> None:
            if send:
                self._send(diag, finding, cfg, prompt)
            else:
                self.notify("nothing was sent", timeout=3)

        self.push_screen(PromptPreviewScreen(prompt, finding), answered)

    def _send(self, diag: Diagnosis, finding: Finding, cfg: "AIConfig", prompt: "Prompt") -> None:
        if self.ai_busy() is not None:
            self.notify("already asking the model; Esc cancels that request", severity="warning")
            return
        self._ai_token += 1
        entry = AIEntry(
            finding.id, "asking", token=self._ai_token, model=cfg.model, endpoint=prompt.endpoint, cancel=threading.Event()
        )
        self.ai_entries[finding.id] = entry
        self._ai_changed(finding.id)
        self._ask_model(entry.token, diag, finding, cfg, prompt, entry.cancel)

    @work(thread=True, group="ai", name="AI explanation", exit_on_error=False)
    def _ask_model(
        self, token: int, diag: Diagnosis, finding: Finding, cfg: "AIConfig", prompt: "Prompt", cancel: threading.Event
    ) -> None:
        """One request (streamed; cancellable); never raises into the app."""
        from assistant.llm import ExplanationResult, explain_findings

        try:
            result = explain_findings(
                diag,
                [finding],
                cfg,
                on_delta=lambda text: self.post_message(ModelDelta(token, text)),
                cancel_event=cancel,
                prompt=prompt,
            )
        except Exception as exc:  # noqa: BLE001 - explain_findings should not raise; be sure
            result = ExplanationResult(
                "error", cfg.model, prompt.endpoint, error=f"AI explanations unavailable: {type(exc).__name__}: {one_line(str(exc), 200)}"
            )
        self.post_message(ModelReplied(token, result))

    def _entry_for(self, token: int) -> AIEntry | None:
        return next((e for e in self.ai_entries.values() if e.token == token and token), None)

    def on_model_delta(self, message: ModelDelta) -> None:
        entry = self._entry_for(message.token)
        if entry is None or not entry.busy:
            return  # cancelled (or replaced): late text is dropped
        entry.streamed.append(message.text)
        self._ai_changed(entry.finding_id)

    def on_model_replied(self, message: ModelReplied) -> None:
        entry = self._entry_for(message.token)
        if entry is None or not entry.busy:
            return  # cancelled already (shown as such)
        result: ExplanationResult = message.result
        entry.cancel = None
        entry.result = result
        if result.status == "cancelled":
            entry.status, entry.message = "cancelled", "AI request cancelled"
        elif result.error:
            entry.status, entry.message = "error", one_line(result.error, 300)
            self.notify(safe(entry.message), title="AI", severity="error", timeout=10)
        else:
            entry.status = "done"
            if not entry.explanation() and not result.text:
                self.notify("the model's reply did not explain this finding", title="AI", severity="warning")
        self._ai_changed(entry.finding_id)

    def cancel_ai(self) -> bool:
        """Esc: cancel the running AI request, if any (True when there was one)."""
        entry = self.ai_busy()
        if entry is None:
            return False
        if entry.cancel is not None:
            entry.cancel.set()
        entry.status, entry.message, entry.cancel = "cancelled", "AI request cancelled (Esc)", None
        self._ai_changed(entry.finding_id)
        self.notify("AI request cancelled", timeout=3)
        return True

    def _ai_changed(self, finding_id: str) -> None:
        screen = self.screen
        hook = getattr(screen, "ai_changed", None)
        if hook is not None:
            hook(finding_id)
        if isinstance(screen, RunScreen):
            screen.query_one(StatusLine).update_status()

    def explained_diagnosis(self, diag: Diagnosis) -> Diagnosis:
        """``diag`` with the explanations received so far (for export)."""
        from assistant.llm import attach_explanations

        for e in self.ai_entries.values():
            if e.status == "done" and e.result is not None:
                diag = attach_explanations(diag, e.result)
        return diag

    def on_unmount(self) -> None:
        for e in self.ai_entries.values():
            if e.cancel is not None:
                e.cancel.set()

    # -- actions ---------------------------------------------------------------
    def action_copy(self) -> None:
        getter = getattr(self.screen, "copy_text", None)
        text = getter() if getter else None
        if not text:
            self.notify("nothing to copy here", severity="warning")
            return
        self.copy_to_clipboard(text)
        self.notify(clipboard_notice(text), timeout=10)

    def action_debug_locally(self) -> None:
        """``D`` (attach's key) in review: say why it does nothing here."""
        self.notify(DEBUG_NEEDS_LIVE, severity="warning", timeout=6)

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

        self.push_screen(ExportScreen(self.explained_diagnosis(snap.diagnosis), Path(snap.run_dir), default), done)

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
        if isinstance(screen, RunScreen) and screen.can_explain():
            yield SystemCommand(
                "Explain with AI",
                "Ask the model to explain the selected finding (x); shows exactly what would be sent first",
                screen.action_explain,
            )
        if self.ai_busy() is not None:
            yield SystemCommand("Cancel the AI request", "Stop asking the model (Esc)", self.cancel_ai)

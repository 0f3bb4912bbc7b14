"""Findings: the assistant's findings, with a detail pane for the highlighted one."""

from __future__ import annotations

import re
from typing import Any, Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static
from textual.worker import get_current_worker

from scalable_tui.model.diagnosis import Finding
from assistant.render import names_text, retry_words, seen_text
from assistant.task_names import NAMES_SHOWN
from scalable_tui.tui.ai import ai_section
from scalable_tui.session.snapshot import RunSnapshot
from scalable_tui.session.lists import finding_text, select_findings
from scalable_tui.tui.fmt import SEVERITY_STYLE, distinct_title, fit_last, fmt_span, hl, safe, title_distinctions
from scalable_tui.tui.screens.base import FilterableScreen
from scalable_tui.tui.screens.explain import explain_binding
from scalable_tui.tui.screens.failures import FAULTS_BINDING, NARROW

#: Keys that scroll the detail pane while the list keeps the focus.
DETAIL_KEYS = [
    Binding("shift+down,J", "detail_scroll(1)", "Scroll detail", show=False),
    Binding("shift+up,K", "detail_scroll(-1)", "Scroll detail up", show=False),
    Binding("shift+pagedown", "detail_scroll(10)", "Page detail", show=False),
    Binding("shift+pageup", "detail_scroll(-10)", "Page detail up", show=False),
]


def finding_detail(f: Finding, pattern: re.Pattern[str] | None = None, distinct: str | None = None,
                   since: Text | None = None) -> Text:
    t = Text()
    t.append(f" {f.severity} ", style=SEVERITY_STYLE.get(f.severity, "bold"))
    t.append(" ")
    t.append(safe(f.title), style="bold")
    t.append("\n")
    if distinct:
        t.append("differs    ", style="bold")
        t.append(f"another finding has this title; this one: {distinct}\n", style="yellow")
    t.append(f"category {f.category}  ·  {f.count} failure(s)  ·  ")
    cell, words = retry_words(f)
    t.append(words, style="green" if f.transient or cell.startswith(("more", "bigger")) else
             ("red" if f.transient is False else "yellow"))
    t.append("\n")
    if f.exception_types:
        t.append("exception  ", style="bold")
        t.append(safe(" <- ".join(f.exception_types)) + "\n")
    if f.pattern:
        t.append("pattern    ", style="bold")
        t.append(safe(f.pattern) + "\n")
    if f.first_seen or f.last_seen or f.before_attach:
        t.append("seen       ", style="bold")
        t.append(f"{safe(seen_text(f))}\n" if f.before_attach else f"{fmt_span(f.first_seen, f.last_seen)}\n")
    if since is not None:
        t.append_text(since)
    if f.task_names:
        t.append("tasks      ", style="bold")
        t.append(names_text(f.task_names, NAMES_SHOWN, safe) + "\n")  # as the text and Markdown reports say them
    if f.workers:
        t.append("workers    ", style="bold")
        t.append(", ".join(safe(w) for w in f.workers[:5]) + "\n")
    t.append("\nSuggestion\n", style="bold")
    t.append(safe(f.suggestion) + "\n")
    if f.evidence:
        t.append("\nEvidence\n", style="bold")
        for e in f.evidence:
            t.append(f"  {safe(e.timestamp)}  ", style="dim")
            t.append(f"{safe(e.source)}  ", style="dim")
            t.append(safe(e.text) + "\n")
    if pattern is not None and pattern.pattern:
        t.highlight_regex(pattern, "reverse")
    return t


#: The "since" column's meaning, said in the detail pane.
SINCE_LEGEND = "MM-DD (UTC): first seen · ×N: in N runs in a row up to this one · regressed: not in the previous run"
#: The "since" column while the earlier runs are read, and in the detail pane when there are none.
PENDING = "…"
NO_HISTORY = "—"
#: Why a scheduler (attach, replay) has no "since".
NO_HISTORY_LIVE = "no history: a scheduler has no runs directory (review a run directory for 'since')"


class FindingsScreen(FilterableScreen):
    """The findings; ``/`` searches the same fields as on Failures, plus the
    failures of each finding; ``f`` keeps error/critical findings only; ``x``
    asks the model to explain the highlighted one (after a preview); ``y`` /
    ``Y`` copy its task ids / retry script.

    The "since" column matches each group by its grouping signature against
    the earlier runs of the project in the same runs directory
    (``session.history_view``); they are read in a worker once the run is
    read, so opening a run is not slowed: "…" until then.  Without an
    earlier run (a run alone in its directory, the first of its project, a
    scheduler) there is no column (a column of "—" would only take the
    title's room): the info line and the detail pane say "no history" and
    why; never a guessed "new".
    """

    BINDINGS = [FAULTS_BINDING, explain_binding(), *DETAIL_KEYS]
    FAULTS_LABEL = "faults only: error/critical"
    # The detail pane (suggestion, evidence, tracebacks) keeps a usable height
    # on a 24-line terminal: the list gives way first (it scrolls).
    DEFAULT_CSS = """
    FindingsScreen #findings-table { height: 45%; min-height: 4; }
    FindingsScreen #finding-detail { height: 1fr; min-height: 8; padding: 0 1; border-top: solid $primary; }
    FindingsScreen #findings-info { height: 1; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        #: Ids of the findings shown after the last filter (tests wait on it).
        self.shown_ids: list[str] = []
        self.pattern: re.Pattern[str] | None = None
        #: What the detail pane shows (tests read it).
        self.detail_text = Text()
        #: Finding id -> what tells it apart from findings with the same title.
        self.distinctions: dict[str, str] = {}
        #: The earlier runs of the project (``history_view.ProjectRuns``; None while read), the run they were
        #: read for, and the column (finding id -> ``history_view.Since``).
        self.history: Any = None
        self.history_for: str | None = None
        self.since: dict[str, Any] = {}
        #: Why the "since" column is empty ("—"), in words; None when it has values or is pending.
        self.no_history: str | None = None

    def compose_list(self) -> ComposeResult:
        yield Static(id="findings-info")
        yield DataTable(id="findings-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="finding-detail"):
            yield Static(id="finding-text")

    def on_resize(self) -> None:
        if self.query_one(DataTable).size.width != self.laid_out_width:
            self.apply()  # the title column takes what the others leave

    def render_snapshot(self, snap: RunSnapshot) -> None:
        self._want_history(snap)
        super().render_snapshot(snap)

    def _want_history(self, snap: RunSnapshot) -> None:
        """Start reading the earlier runs once per run, after the run itself is read (never slows its opening)."""
        if self.review.view.caps.live:
            self.history_for, self.no_history = snap.run_dir, NO_HISTORY_LIVE
            return
        if snap.loading is not None or self.history_for == snap.run_dir:
            return
        self.history_for, self.history = snap.run_dir, None
        self.no_history = self.review.history_view.lone_run_words(snap.run_dir)
        if self.no_history is None:
            self._read_history(snap.run_dir, snap.meta.project_name)

    @work(thread=True, exclusive=True, group="since", name="since", exit_on_error=False)
    def _read_history(self, run_dir: str, project: str | None) -> None:
        worker = get_current_worker()
        hv = self.review.history_view
        try:
            runs = hv.load_project_runs(run_dir, project, limit=hv.MAX_SINCE_RUNS, earlier_only=True,
                                        cancelled=lambda: worker.is_cancelled)
        except Exception as exc:  # noqa: BLE001 - the column says "—" and why; never a crash
            from pathlib import Path

            runs = hv.ProjectRuns(str(Path(run_dir).parent), project, error=f"{type(exc).__name__}: {exc}")
        if not worker.is_cancelled:
            self.app.call_from_thread(self._history_read, run_dir, runs)

    def _history_read(self, run_dir: str, runs: Any) -> None:
        if self.history_for != run_dir:
            return  # another run was picked meanwhile
        self.history = runs
        self.apply()

    def _since_values(self, snap: RunSnapshot) -> None:
        """Fill ``since`` / ``no_history`` for this snapshot (cheap: the earlier runs are read already)."""
        if self.history is None or self.history_for != snap.run_dir:
            self.since = {}  # "…" while read; or no history (said already)
            return
        hv = self.review.history_view
        current = hv.snapshot_summary(snap)
        self.since = hv.since_by_finding(self.history, current, snap.diagnosis.findings)
        self.no_history = hv.no_history_words(self.history, current)

    def since_cell(self, f: Finding) -> Text:
        s = self.since.get(f.id)
        if s is not None:
            return Text(s.text, style="bold yellow" if s.text == "new" else ("red" if "regressed" in s.text else ""))
        return Text(NO_HISTORY if self.no_history is not None else PENDING, style="dim")

    def select(self, snap: RunSnapshot, pattern: re.Pattern[str] | None, faults_only: bool, cancelled: Callable[[], bool]) -> list[Finding]:
        return select_findings(snap, snap.diagnosis.findings, pattern, faults_only, cancelled)

    def populate(self, snap: RunSnapshot, pattern: re.Pattern[str] | None, items: list[Finding]) -> None:
        self.pattern = pattern
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        self.distinctions = title_distinctions(snap.diagnosis.findings)
        width = table.size.width or self.app.size.width
        self.laid_out_width = table.size.width
        narrow = width < NARROW  # category and retry? are in the detail pane
        self._since_values(snap)
        rows: list[dict[str, Text]] = []
        for f in items:
            row = {
                "severity": hl(f.severity, pattern, SEVERITY_STYLE.get(f.severity, "")),
                "category": hl(f.category, pattern),
                "count": Text(str(f.count)),
                "since": self.since_cell(f),
                "retry?": Text(retry_words(f)[0]),
            }
            if narrow:
                del row["category"], row["retry?"]
            if self.no_history is not None:
                del row["since"]  # a column of "—" says nothing: the info line and the detail pane say why
            rows.append(row)
        cols = list(rows[0]) if rows else ["severity", *([] if narrow else ["category"]), "count",
                                            *([] if self.no_history is not None else ["since"]),
                                            *([] if narrow else ["retry?"])]
        widths = [max([len(c), *(r[c].cell_len for r in rows)]) for c in cols]
        room = fit_last(widths, width, minimum=20)
        table.clear(columns=True)
        for c, w in zip(cols, widths):
            table.add_column(c, key=c, width=w)
        table.add_column("title", key="title", width=room)
        for f, row in zip(items, rows):
            table.add_row(*row.values(), hl(distinct_title(f, self.distinctions, room), pattern), key=f.id)
        self.sort_table(table)
        if items:
            table.move_cursor(row=min(cursor, len(items) - 1))
        self.shown_ids = [f.id for f in items]
        self._show_current()

    def show_info(self, snap: RunSnapshot) -> None:
        info = Text()
        if self.query_text or self.faults_only or self.filter_error:
            # Filtered: say so first (the summary is long and gets cut at the right).
            info.append(f"showing {len(self.shown_ids)} of {len(snap.diagnosis.findings)} findings", style="bold")
            self.filter_summary(info)
            info.append("  ·  ")
        info.append(safe(snap.diagnosis.summary), style="bold")
        info.append(f"  ({snap.diagnosis.method}{self.review.ai_info()})", style="dim")
        if self.no_history is not None:
            info.append(f"  ·  {safe(self.no_history)}", style="dim")
        self.query_one("#findings-info", Static).update(info)

    @on(DataTable.RowHighlighted, "#findings-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_current()

    def current(self) -> Finding | None:
        snap = self.shown_snapshot()
        table = self.query_one(DataTable)
        if snap is None or not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return snap.finding(str(key))

    def _show_current(self) -> None:
        f = self.current()
        if f is not None:
            body = finding_detail(f, self.pattern, self.distinctions.get(f.id), self.since_detail(f))
            ai = ai_section(self.review.ai_entries.get(f.id))
            if ai.plain:
                body.append("\n")
                body.append_text(ai)
        elif self.shown_snapshot() is not None and self.shown_snapshot().diagnosis.findings:
            body = Text("no finding matches the filter", style="yellow")
        else:
            body = Text("no findings", style="green")
        self.detail_text = body
        self.query_one("#finding-text", Static).update(body)

    def since_detail(self, f: Finding) -> Text:
        """The "since" column of ``f`` in words (or why it is empty), with what its values mean."""
        t = Text()
        t.append("since      ", style="bold")
        s = self.since.get(f.id)
        if s is not None:
            t.append(safe(s.words) + "\n")
            if s.text != "new":
                t.append("           " + SINCE_LEGEND + "\n", style="dim")
            if self.history is not None and self.history.left_out:
                t.append(f"           (the {self.review.history_view.MAX_SINCE_RUNS} nearest earlier runs read; "
                         f"{self.history.left_out} older ones not)\n", style="dim")
        elif self.no_history is not None:
            t.append(f"{NO_HISTORY} {safe(self.no_history)}\n", style="yellow")
        else:
            t.append(f"{PENDING} reading the earlier runs of this project\n", style="dim")
        return t

    def group_target(self) -> Finding | None:
        """The failure group ``y`` / ``Y`` copy from (the highlighted finding)."""
        return self.current()

    def action_detail_scroll(self, lines: int) -> None:
        """Scroll the detail pane from the list (shift+↑/↓, J/K, shift+PgUp/PgDn)."""
        pane = self.query_one("#finding-detail", VerticalScroll)
        pane.scroll_relative(y=lines, animate=False)

    def can_explain(self) -> bool:
        return True

    def explain_target(self) -> Finding | None:
        return self.current()

    def ai_changed(self, finding_id: str | None) -> None:
        f = self.current()
        if f is not None and finding_id in (None, f.id):
            self._show_current()
            if finding_id is not None:
                # Keep the AI part (under the heuristic finding) in view while it changes: after the
                # refresh that lays out the new text (scroll_end defers once more), so the end scrolled
                # to is the new text's, not the old one's (a full test run once saw the old end).
                pane = self.query_one("#finding-detail", VerticalScroll)
                self.call_after_refresh(pane.scroll_end, animate=False)

    def copy_text(self) -> str | None:
        f = self.current()
        if f is None:
            return None
        entry = self.review.ai_entries.get(f.id)
        if entry is not None and entry.status == "done":
            return finding_text(f) + "\n" + ai_section(entry).plain + "\n"
        return finding_text(f)

"""Overview: run header, task counts and progress, failures by category, top findings, notices."""

from __future__ import annotations

from collections import Counter

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Sparkline, Static

from scalable_tui.session.snapshot import RunSnapshot, failures_text
from scalable_tui.session.lists import finding_text
from scalable_tui.model.words import run_states_said
from scalable_tui.tui.fmt import SEVERITY_STYLE, TASK_STATE_STYLE, distinct_title, fmt_duration, fmt_iso, parse_iso, safe, title_distinctions
from scalable_tui.tui.screens.base import NO_EXPLAIN_BINDING, RunScreen
from scalable_tui.tui.widgets.counts_sparkline import CountsSparkline
from scalable_tui.tui.widgets.progress import TaskBars

STATE_STYLE = TASK_STATE_STYLE
#: Task-name rows in the progress block; the rest are summed up in one line.
TOP_FINDINGS = 5


class OverviewScreen(RunScreen):
    BINDINGS = [NO_EXPLAIN_BINDING]
    DEFAULT_CSS = """
    OverviewScreen #overview { padding: 0 1; }
    OverviewScreen #run-header { margin-bottom: 1; }
    OverviewScreen #ov-columns { height: auto; }
    OverviewScreen #ov-tasks { width: 1fr; height: auto; padding-right: 2; }
    OverviewScreen #ov-failures { width: 1fr; height: auto; }
    OverviewScreen #progress { height: auto; margin-bottom: 1; }
    OverviewScreen Sparkline { height: 2; margin-bottom: 1; }
    OverviewScreen #spark-failed > .sparkline--max-color { color: $error; }
    OverviewScreen #spark-failed > .sparkline--min-color { color: $error 50%; }
    OverviewScreen #notices { color: $warning; margin-top: 1; }
    OverviewScreen #by-category, OverviewScreen #task-counts { margin-bottom: 1; }
    """

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="overview"):
            yield Static(id="run-header")
            with Horizontal(id="ov-columns"):
                with Vertical(id="ov-tasks"):
                    yield Static("Tasks", classes="title")
                    yield Static(id="task-counts")
                    yield TaskBars(id="progress")
                    yield Static("Completions over time", classes="title")
                    yield CountsSparkline([], id="spark-done")
                    yield Static("Failures over time", classes="title")
                    yield CountsSparkline([], id="spark-failed")
                with Vertical(id="ov-failures"):
                    yield Static("Failures by category", classes="title")
                    yield Static(id="by-category")
                    yield Static("Top findings", classes="title")
                    yield Static(id="top-findings")
            yield Static(id="notices")

    def render_snapshot(self, snap: RunSnapshot) -> None:
        self.query_one("#run-header", Static).update(self._header(snap))
        self.query_one("#task-counts", Static).update(self._counts(snap))
        self._progress(snap)
        self.query_one("#spark-done", Sparkline).data = snap.completions
        self.query_one("#spark-failed", Sparkline).data = snap.failures_timeline
        self.query_one("#by-category", Static).update(self._by_category(snap))
        self.query_one("#top-findings", Static).update(self._top_findings(snap))
        notices = self.query_one("#notices", Static)
        lines = list(snap.notices)
        notices.display = bool(lines)
        t = Text("Notices:\n", style="bold")
        for n in lines:
            t.append(f"  • {safe(n)}\n")
        notices.update(t)

    # -- parts ---------------------------------------------------------------
    def _header(self, snap: RunSnapshot) -> Text:
        m = snap.meta
        t = Text()
        t.append("Run ", style="bold")
        t.append(safe(m.run_id), style="bold")
        t.append("\n")
        t.append(f"project {safe(m.project_name)}  ·  target {safe(m.target_name)}  ·  provider {safe(m.provider_name)}\n")
        status = m.status or "unknown"
        t.append("status ")
        t.append(safe(status), style="bold green" if status == "completed" else ("bold cyan" if status == "running" else "bold yellow"))
        t.append(f"  ·  started {fmt_iso(m.started_at)}")
        start = parse_iso(m.started_at)
        end = parse_iso(m.finished_at)
        if end is not None:
            t.append(f"  ·  finished {fmt_iso(m.finished_at)}")
            if start is not None:
                t.append(f" (took {fmt_duration(end - start)})")
        elif start is not None:
            t.append(f"  ·  elapsed {fmt_duration(self.review.now() - start)}")
        return t

    def _counts(self, snap: RunSnapshot) -> Text:
        t = Text()
        d = snap.diagnosis  # the same counts as the status line and diagnose --format json
        t.append(f"{d.tasks_total} tasks", style="bold")
        for s, n, words in run_states_said(d.tasks, snap.ended()):
            t.append("  ·  ")
            t.append(f"{n} {safe(words)}", style=STATE_STYLE.get(s, ""))
        t.append(f"\n{failures_text(d)}")
        return t

    def _progress(self, snap: RunSnapshot) -> None:
        rows = snap.top_groups
        self.query_one("#progress", TaskBars).set_rows(rows, snap.groups - len(rows), snap.groups_by, snap.ended())

    def _by_category(self, snap: RunSnapshot) -> Text:
        cats: Counter[str] = Counter()
        for f in snap.failure_findings():
            cats[f.category] += f.count
        if not cats:
            return Text("no failures", style="green")
        t = Text()
        for cat, n in cats.most_common():
            t.append(f"{n:>6}  ", style="bold")
            t.append(f"{safe(cat)}\n")
        return t

    def _top_findings(self, snap: RunSnapshot) -> Text:
        findings = snap.diagnosis.findings[:TOP_FINDINGS]
        if not findings:
            return Text("none", style="green")
        t = Text()
        distinctions = title_distinctions(snap.diagnosis.findings)
        for f in findings:
            t.append(f"{f.severity:<8}", style=SEVERITY_STYLE.get(f.severity, ""))
            t.append(f" {distinct_title(f, distinctions)}")
            if f.count:
                t.append(f" ({f.count}×)", style="bold")
            t.append("\n")
        more = len(snap.diagnosis.findings) - TOP_FINDINGS
        if more > 0:
            t.append(f"… {more} more: press i\n", style="dim")
        return t

    def copy_text(self) -> str | None:
        snap = self.review.view.run
        if snap is None or not snap.diagnosis.findings:
            return None
        return finding_text(snap.diagnosis.findings[0])

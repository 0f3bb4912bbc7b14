"""The live Overview: the scheduler, progress by task prefix, workers' memory, failures by category."""

from __future__ import annotations

from collections import Counter

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Static

from scalable_tui.model.words import plural
from scalable_tui.session.view import diagnosis_failed_for, diagnosis_is_current, live_failures_line, live_failures_note
from scalable_tui.tui.fmt import (
    SEVERITY_STYLE,
    ago,
    clock,
    distinct_title,
    memory_of,
    safe,
    short_ids,
    title_distinctions,
)
from scalable_tui.tui.screens.base import NO_EXPLAIN_BINDING, RunScreen
from scalable_tui.tui.widgets.live_bars import memory_bar, prefix_bar
from scalable_tui.model.live import LiveSnapshot

from scalable_tui.tui.screens.live_base import STATUS_STYLE, view_time, LiveSyncMixin


#: The scheduler's task states in display order, with their style (``lost``: unfinished on a gone scheduler).
SCHEDULER_STATE_STYLE = {"processing": "cyan", "waiting": "", "queued": "", "no-worker": "yellow", "memory": "green",
                    "erred": "bold red", "released": "dim", "forgotten": "dim", "lost": "yellow"}

#: Every panel while the scheduler has never answered: nothing is known yet, which is not zero.
NOT_REACHED = "nothing seen yet: the scheduler has not answered"


class LiveOverviewScreen(LiveSyncMixin, RunScreen):
    BINDINGS = [NO_EXPLAIN_BINDING]
    DEFAULT_CSS = """
    LiveOverviewScreen #overview { padding: 0 1; }
    LiveOverviewScreen #lv-header { margin-bottom: 1; }
    LiveOverviewScreen #lv-columns { height: auto; }
    LiveOverviewScreen #lv-left { width: 1fr; height: auto; padding-right: 2; }
    LiveOverviewScreen #lv-right { width: 1fr; height: auto; }
    LiveOverviewScreen .block { margin-bottom: 1; }
    LiveOverviewScreen #lv-notices { color: $warning; }
    """

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="overview"):
            yield Static(id="lv-header")
            with Horizontal(id="lv-columns"):
                with Vertical(id="lv-left"):
                    yield Static("Workers", classes="title")
                    yield Static(id="lv-workers", classes="block")
                    yield Static("Tasks", classes="title")
                    yield Static(id="lv-tasks", classes="block")
                with Vertical(id="lv-right"):
                    yield Static("Failures by category", classes="title")
                    yield Static(id="lv-categories", classes="block")
                    yield Static("Top findings", classes="title")
                    yield Static(id="lv-findings", classes="block")
            yield Static(id="lv-notices")

    def render_live(self, live: LiveSnapshot) -> None:
        self.query_one("#lv-header", Static).update(self._header(live))
        if not live.reached:  # a wrong port showed "0 workers", "0 tasks", "no failures", "none"
            unknown = Text(NOT_REACHED, style="dim")
            for part in ("#lv-workers", "#lv-tasks", "#lv-categories", "#lv-findings"):
                self.query_one(part, Static).update(unknown)
            self.query_one("#lv-notices", Static).display = False
            return
        self.query_one("#lv-workers", Static).update(self._workers(live))
        self.query_one("#lv-tasks", Static).update(self._tasks(live))
        snap = self.app.view.run  # type: ignore[attr-defined]
        cats: Counter[str] = Counter()
        findings = []
        if snap is not None:
            for f in snap.failure_findings():
                cats[f.category] += f.count
            findings = snap.diagnosis.findings
        t = Text()
        failed = diagnosis_failed_for(live, self.app.view.diagnosis_failed)  # type: ignore[attr-defined]
        if snap is None:
            t.append("diagnosis failed, see the notice" if failed else "diagnosing…", style="dim")
        elif not diagnosis_is_current(live, snap):  # of an earlier poll
            t.append("the newest failures could not be diagnosed (see the notice); these are of an earlier poll\n"
                     if failed else "diagnosing the newest failures; these are of an earlier poll\n", style="dim")
        elif not cats:
            t.append("no failures", style="green")
        for cat, n in cats.most_common():
            t.append(f"{n:>6}  ", style="bold")
            t.append(f"{safe(cat)}\n")
        if live.failures_dropped or live.failures_missed:
            t.append(f"(+{live.failures_dropped} summarized, {live.failures_missed} missed)\n", style="dim")
        self.query_one("#lv-categories", Static).update(t)
        t = Text()
        distinctions = title_distinctions(findings)
        for f in findings[:6]:
            t.append(f"{f.severity:<8}", style=SEVERITY_STYLE.get(f.severity, ""))
            t.append(f" {distinct_title(f, distinctions)}")
            if f.count:
                t.append(f" ({f.count}×)", style="bold")
            t.append("\n")
        if len(findings) > 6:
            t.append(f"… {len(findings) - 6} more: press i\n", style="dim")
        if snap is not None and not findings:
            t.append("none", style="green")
        self.query_one("#lv-findings", Static).update(t)
        notes = Text()
        for p in live.limited_panels:
            notes.append(f"limited: {safe(p)}\n")
        for n in live.notices:
            if not (live.version_warning and n == live.version_warning):
                notes.append(f"• {safe(n)}\n")
        w = self.query_one("#lv-notices", Static)
        w.display = bool(notes.plain)
        w.update(notes)

    def _header(self, live: LiveSnapshot) -> Text:
        t = Text()
        t.append("Scheduler ", style="bold")
        t.append(safe(live.scheduler_address or live.address), style="bold")
        if live.scheduler_id:
            t.append(f"  ({safe(live.scheduler_id)})", style="dim")
        t.append("\n")
        sv = live.scheduler_versions
        t.append(f"distributed {safe(sv.get('distributed', '?'))} · dask {safe(sv.get('dask', '?'))} · "
                 f"Python {safe(sv.get('python', '?'))}")
        if live.scheduler_started:
            t.append(f"  ·  up {ago(view_time(self.app) - live.scheduler_started)}")
        t.append(f"  ·  attached {clock(live.attached_at)}")
        t.append("\n")
        if live.connected:
            t.append("connected", style="bold green")
            if live.poll_latency_ms is not None:
                t.append(f"  ·  poll {live.poll_latency_ms:.0f} ms")
            if live.last_reply_bytes:
                t.append(f", {live.last_reply_bytes / 1024:.1f} KB")
        else:
            t.append(safe(live.status_line()), style="bold red")
            t.append("  ·  showing the last data" if live.reached else "  ·  no data yet", style="dim")
        t.append(f"  ·  mode {live.mode}", style="" if live.mode == "plugin" else "bold yellow")
        t.append("  ·  read-only", style="dim")
        if live.version_warning:
            t.append("\n")
            t.append(f"warning: {safe(live.version_warning)}", style="yellow")
        return t

    def _workers(self, live: LiveSnapshot) -> Text:
        alive = live.alive_workers
        gone = live.departed_workers
        t = Text()
        threads = sum(w.nthreads or 0 for w in alive)
        used = sum(w.memory or 0 for w in alive)
        t.append(f"{len(alive)} workers", style="bold")
        t.append(f"  ·  {threads} threads  ·  memory {memory_of(used, [w.memory_limit for w in alive])}")
        by_status = Counter(w.status for w in alive)
        if by_status:
            t.append("\n")
            t.append("  ·  ".join(f"{n} {s}" for s, n in by_status.most_common()))
        restarts = sum(w.restarts for w in live.workers.values())
        kills = sum(w.memory_kills for w in live.workers.values())
        if restarts or kills or gone:
            t.append("\n")
            t.append(f"{restarts} restarts", style="bold red" if restarts else "")
            t.append(f"  ·  {kills} memory kills", style="bold red" if kills else "")
            t.append(f"  ·  {len(gone)} departed", style="dim")
        names = live.display_names  # one label per worker, never cut (it would stop telling them apart)
        top = sorted(alive, key=lambda w: -(w.memory_fraction or 0))[:6]
        width = max((len(names[w.key]) for w in top), default=0)
        for w in top:
            t.append("\n")
            t.append(f"{safe(names[w.key]):<{width}} ")
            t.append_text(memory_bar(w, 12))
            t.append(f"  {w.status}", style=STATUS_STYLE.get(w.status, ""))
        return t

    def _tasks(self, live: LiveSnapshot) -> Text:
        totals = live.task_totals()
        t = Text()
        n = sum(totals.values())
        t.append(f"{n} tasks", style="bold")
        # Every non-zero state, so the parts add up to the total (forgotten and no-worker used to be left out).
        shown = [k for k in SCHEDULER_STATE_STYLE if totals.get(k)] + sorted(k for k in totals if totals[k]
                                                                       and k not in SCHEDULER_STATE_STYLE)
        for k in shown:
            t.append("  ·  ")
            # a no-break space: a narrow column wraps between states, never inside "10 lost"
            t.append(f"{totals[k]}\u00a0{safe(k)}", style=SCHEDULER_STATE_STYLE.get(k, ""))
        if totals.get("lost"):
            t.append(f"\n{totals['lost']} lost: unfinished when an earlier scheduler went away", style="dim")
        tput = sum(p.throughput or 0 for p in live.prefixes.values())
        snap = self.app.view.run  # type: ignore[attr-defined]
        fails = live_failures_line(live, snap, self.app.view.diagnosis_failed)  # type: ignore[attr-defined]
        # counted since attach, like the failures: the note below counts what the scheduler holds now (in the
        # demo, "67 dependents erred" stood beside "46 of the scheduler's 77 erred are tasks whose input failed")
        t.append(f"\n{tput:.1f} tasks/s  ·  {fails}  ·  {plural(live.dependents_erred, 'dependent')} erred since attach")
        note = live_failures_note(live)  # "84 erred" beside "90 failures": say why they differ
        if note:
            t.append(f"\n{note}", style="dim")
        rows = sorted(live.prefixes.values(), key=lambda p: (-p.total, p.name))
        names = short_ids((safe(p.name) for p in rows[:10]), width=18, min_tail=6)
        width = max((len(v) for v in names.values()), default=0)
        for p in rows[:10]:
            t.append("\n")
            t.append(f"{names[safe(p.name)]:<{width}}  ", style="bold")
            t.append_text(prefix_bar(p, 14))
            t.append(f"  {p.done}/{p.total} done")
            if p.erred:
                t.append(f" · {p.erred} erred", style="bold red")

        if len(rows) > 10:
            t.append(f"\n… {len(rows) - 10} more prefixes: press t", style="dim")
        lim = self.limited_line(live, "Tasks")
        if lim is not None:
            t.append("\n")
            t.append_text(lim)
        return t

    def copy_text(self) -> str | None:
        snap = self.app.view.run  # type: ignore[attr-defined]
        if snap is None or not snap.diagnosis.findings:
            return None
        from scalable_tui.session.lists import finding_text

        return finding_text(snap.diagnosis.findings[0])


# -- list screens ----------------------------------------------------------------

"""The attach app's own screens: Overview, Workers, Tasks and Events on live data.

They render ``app.live`` (the latest ``LiveSnapshot``, every poll) and, for
findings, ``app.snapshot`` (the diagnosed ``RunSnapshot``, rebuilt off the UI
thread when failures or events change).  Failures and Findings are the review
app's screens, unchanged.  Lists are small (workers, task prefixes, a capped
event ring), so filtering and sorting run right here.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from typing import TYPE_CHECKING, Any, Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from scalable_tui.tui.data import failures_text
from scalable_tui.tui.fmt import (
    SEVERITY_STYLE,
    ago,
    clock,
    distinct_title,
    hl,
    line,
    memory_of,
    mib,
    safe,
    short_ids,
    title_distinctions,
)
from scalable_tui.tui.screens.base import NO_EXPLAIN_BINDING, ColumnSort, FilterableScreen, RunScreen
from scalable_tui.tui.screens.slurm_cells import shows_jobs, slurm_cause, worker_job, worker_job_cell
from scalable_tui.tui.widgets.live_bars import done_fraction, memory_bar, prefix_bar
from scalable_tui.tui.widgets.status import StatusLine
from scalable_tui.model.live import LiveEvent, LiveSnapshot, PrefixCounts, WorkerInfo

if TYPE_CHECKING:
    from scalable_tui.tui.attach import AttachApp

STATUS_STYLE = {"running": "green", "paused": "bold yellow", "closing": "magenta", "closing_gracefully": "magenta",
                "init": "cyan", "left": "dim"}
EVENT_STYLE = {
    "worker-added": "green", "worker-removed": "bold red", "worker-restart-memory": "bold red",
    "killed-worker": "bold red", "paused": "yellow", "resumed": "green", "log-warning": "yellow",
    "log-error": "red", "disconnected": "bold red", "reconnected": "green", "scheduler-restarted": "bold magenta",
    "cluster-restart": "magenta", "worker-ttl-timed-out": "red",
}
#: Events ``f`` keeps: what went wrong.
FAULT_EVENTS = frozenset({"worker-removed", "worker-restart-memory", "killed-worker", "paused", "log-warning",
                          "log-error", "disconnected", "scheduler-restarted", "worker-ttl-timed-out",
                          "no-workers-timeout-exceeded"})


def worker_label(w: WorkerInfo) -> str:
    """The worker's name as the screens show it.

    Local stand-in until the live model's ``display_name`` lands (another
    change adds it, one name for a worker on every screen); then this uses it.
    """
    name = getattr(w, "display_name", None)
    return name if isinstance(name, str) and name else w.name


def view_time(app: object) -> float:
    """The moment the screens show: now when live, the replayed moment in a replay."""
    get = getattr(app, "view_time", None)
    return get() if callable(get) else time.time()


class LiveSyncMixin:
    """``sync`` keyed on (poll, diagnosis) instead of the diagnosis version alone."""

    shown_live = -1

    def sync(self) -> None:  # type: ignore[override]
        app: AttachApp = self.app  # type: ignore[assignment]
        if not self.is_mounted or not getattr(self, "_columns_ready", True):  # type: ignore[attr-defined]
            return  # on_mount syncs
        try:
            self.query_one(StatusLine).update_status()  # type: ignore[attr-defined]
            body = self.query_one("#body")  # type: ignore[attr-defined]
        except NoMatches:
            return
        live = app.live
        if live is None:
            body.loading = True
            return
        body.loading = False
        snap = app.snapshot
        key = (app.live_version, snap.version if snap else -1)
        if key != getattr(self, "_live_key", None):
            self._live_key = key
            self.shown_live = app.live_version
            if snap is not None:
                self.shown_version = snap.version  # type: ignore[attr-defined]
            self.render_live(live)

    def render_live(self, live: LiveSnapshot) -> None:
        """Fill the widgets (subclasses)."""

    def limited_line(self, live: LiveSnapshot, panel: str) -> Text | None:
        hits = [p for p in live.limited_panels if p.startswith(panel)]
        if not hits:
            return None
        return Text("limited: " + "; ".join(h.split(": ", 1)[-1] for h in hits), style="yellow")


# -- Overview ------------------------------------------------------------------
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
        self.query_one("#lv-workers", Static).update(self._workers(live))
        self.query_one("#lv-tasks", Static).update(self._tasks(live))
        snap = self.app.snapshot  # type: ignore[attr-defined]
        cats: Counter[str] = Counter()
        findings = []
        if snap is not None:
            for f in snap.failure_findings():
                cats[f.category] += f.count
            findings = snap.diagnosis.findings
        t = Text()
        if snap is None:
            t.append("diagnosing…", style="dim")
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
            t.append("  ·  showing the last data", style="dim")
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
        for k, style in (("processing", "cyan"), ("waiting", ""), ("queued", ""), ("memory", "green"),
                         ("erred", "bold red"), ("released", "dim")):
            if totals.get(k):
                t.append("  ·  ")
                t.append(f"{totals[k]} {k}", style=style)
        tput = sum(p.throughput or 0 for p in live.prefixes.values())
        snap = self.app.snapshot  # type: ignore[attr-defined]
        fails = failures_text(snap.diagnosis) if snap is not None else f"{live.failures_total} task failures"
        t.append(f"\n{tput:.1f} tasks/s  ·  {fails}  ·  {live.dependents_erred} dependents erred")
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
        snap = self.app.snapshot  # type: ignore[attr-defined]
        if snap is None or not snap.diagnosis.findings:
            return None
        from scalable_tui.tui.data import finding_text

        return finding_text(snap.diagnosis.findings[0])


# -- list screens ----------------------------------------------------------------
class LiveListScreen(ColumnSort, LiveSyncMixin, FilterableScreen):
    """A filterable, sortable table over live rows (``s``/``r`` or a header click sorts)."""

    BINDINGS = [
        Binding("s", "sort_next", "Sort"),
        Binding("r", "sort_reverse", "Reverse", show=False),
        NO_EXPLAIN_BINDING,
    ]
    #: (column label, sort key over a row item) — subclasses.
    COLUMNS: tuple[tuple[str, Callable[[Any], Any]], ...] = ()
    INFO_ID = "live-info"

    def __init__(self) -> None:
        super().__init__()
        self.items: list[Any] = []

    def compose_list(self) -> ComposeResult:
        yield Static(id=self.INFO_ID)
        yield DataTable(id="live-table", cursor_type="row", zebra_stripes=True)
        box = Static(id="live-detail")
        box.display = False
        yield box

    def detail(self, item: Any) -> Text | None:
        """The highlighted row in full, under the table (what narrow columns cut); None: no line."""
        return None

    def show_detail(self) -> None:
        try:
            box = self.query_one("#live-detail", Static)
        except NoMatches:
            return
        item = self.current()
        d = self.detail(item) if item is not None else None
        box.display = d is not None
        box.update(d if d is not None else "")

    @on(DataTable.RowHighlighted, "#live-table")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_detail()

    _columns_ready = False

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        if not self._columns_ready:
            for label, _k in self.COLUMNS:
                table.add_column(label, key=label)
            self._columns_ready = True
        super().on_mount()

    def render_live(self, live: LiveSnapshot) -> None:
        self.apply()

    def n_sort_columns(self) -> int:
        return len(self.COLUMNS)

    #: Worker key -> display label (``LiveSnapshot.display_names``), refreshed by ``all_items``.
    names: dict[str, str] = {}

    def all_items(self, live: LiveSnapshot) -> list[Any]:
        return []

    def is_fault(self, item: Any) -> bool:
        return False

    def fields(self, item: Any) -> list[str]:
        return []

    def cells(self, item: Any, pattern: re.Pattern[str] | None) -> list[Text]:
        return []

    def row_style(self, item: Any) -> str:
        return ""

    def default_order(self, items: list[Any]) -> list[Any]:
        return items

    def fill_table(self, items: list[Any], pattern: re.Pattern[str] | None) -> None:
        """Refill the table with ``items``, keeping the cursor on the same row number."""
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear()
        for item in items:
            cells = self.cells(item, pattern)
            style = self.row_style(item)
            if style:
                for c in cells:
                    c.stylize(style)
            table.add_row(*cells)
        if items:
            table.move_cursor(row=min(max(cursor, 0), len(items) - 1))
        self.items = items
        self.show_detail()

    def filter_and_sort(self, items: list[Any]) -> tuple[Any, list[Any]]:
        """The rows ``/``, ``f`` and the sort column leave, and the filter pattern to highlight."""
        ok, pattern = self.filter_pattern()
        if not ok:
            return pattern, items
        if self.faults_only:
            items = [i for i in items if self.is_fault(i)]
        if pattern is not None:
            items = [i for i in items if any(pattern.search(safe(v)) for v in self.fields(i) if v)]
        if self.sort_column is None:
            return pattern, self.default_order(items)
        key = self.COLUMNS[self.sort_column][1]

        def k(i: Any) -> tuple[int, Any]:
            v = key(i)
            return (1, 0) if v is None else (0, v)

        return pattern, sorted(items, key=k, reverse=self.sort_reverse)

    def apply(self) -> None:
        live = self.app.live  # type: ignore[attr-defined]
        if live is None:
            return
        items = self.all_items(live)
        total = len(items)
        pattern, items = self.filter_and_sort(items)
        self.fill_table(items, pattern)
        info = Text()
        info.append(self.info_head(live, total, len(items)), style="bold")
        if self.sort_column is not None:
            info.append(f"  ·  sorted by {self.COLUMNS[self.sort_column][0]}{' ↓' if self.sort_reverse else ' ↑'}")
        self.filter_summary(info)
        lim = self.limited(live)
        if lim is not None:
            info.append("  ·  ")
            info.append_text(lim)
        self.query_one(f"#{self.INFO_ID}", Static).update(info)

    def info_head(self, live: LiveSnapshot, total: int, shown: int) -> str:
        return f"{shown} of {total}"

    def limited(self, live: LiveSnapshot) -> Text | None:
        return None

    def current(self) -> Any:
        table = self.query_one(DataTable)
        if not table.row_count or not self.items:
            return None
        return self.items[min(table.cursor_row, len(self.items) - 1)]

    def copy_text(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return "\t".join(str(c) for c in table.get_row_at(table.cursor_row)) + "\n"


def _w_mem(w: WorkerInfo) -> float | None:
    return w.memory_fraction


class LiveWorkersScreen(LiveListScreen):
    """Workers, alive first; departed ones dimmed with when and why they left."""

    DEFAULT_CSS = """
    LiveWorkersScreen #live-info { height: 1; padding: 0 1; }
    LiveWorkersScreen #live-table { height: 1fr; }
    LiveWorkersScreen #live-detail { height: auto; max-height: 4; padding: 0 1; background: $boost; }
    """
    BINDINGS = [Binding("f", "toggle_faults", "Troubled only",
                        tooltip="departed, paused, restarted or above 80% memory")]
    FAULTS_LABEL = "troubled only: departed, paused, restarted, memory ≥ 80%"
    WORKER_COLUMNS = (
        ("name", lambda w: w.name),
        ("address", lambda w: w.address),
        ("host", lambda w: w.host or ""),
        ("status", lambda w: w.status),
        ("memory", _w_mem),
        ("spill", lambda w: w.spilled or 0),
        ("cpu%", lambda w: w.cpu),
        ("exec", lambda w: w.executing),
        ("ready", lambda w: w.ready),
        ("mem", lambda w: w.in_memory),
        ("seen", lambda w: -(w.last_seen or 0)),
        ("up", lambda w: -(w.first_seen or 0)),
        ("rst", lambda w: w.restarts),
        ("left / why", lambda w: w.left_at or 0),
    )
    #: With a Slurm job source (attach) or recorded jobs (replay): the worker's job before "left / why".
    WORKER_COLUMNS_WITH_JOB = (*WORKER_COLUMNS[:-1], ("job", lambda w: 0), WORKER_COLUMNS[-1])

    @property  # type: ignore[override]
    def COLUMNS(self) -> tuple[tuple[str, Callable[[Any], Any]], ...]:  # noqa: N802 - the base's name
        return self.WORKER_COLUMNS_WITH_JOB if shows_jobs(self.app) else self.WORKER_COLUMNS

    def all_items(self, live: LiveSnapshot) -> list[WorkerInfo]:
        self.names = live.display_names
        return list(live.workers.values())

    def default_order(self, items: list[WorkerInfo]) -> list[WorkerInfo]:
        return sorted(items, key=lambda w: (not w.alive, -(w.left_at or 0) if not w.alive else 0, w.name))

    def is_fault(self, w: WorkerInfo) -> bool:
        return (not w.alive or w.status in ("paused", "closing", "closing_gracefully") or w.restarts > 0
                or w.memory_kills > 0 or (w.memory_fraction or 0) >= 0.8)

    def fields(self, w: WorkerInfo) -> list[str]:
        return [self.names.get(w.key, w.own_name), w.name, w.address, w.host or "", w.status, w.left_reason or "",
                *w.previous_addresses]

    def row_style(self, w: WorkerInfo) -> str:
        return "dim" if not w.alive else ""

    def cells(self, w: WorkerInfo, pattern: re.Pattern[str] | None) -> list[Text]:
        now = view_time(self.app)
        job = worker_job(self.app, w.name, w.alive, w.left_at)
        if w.alive:
            why = Text()
            if w.memory_kills:
                why.append(f"{w.memory_kills} memory kill(s)", style="red")
            mem = memory_bar(w, 10)
        else:
            why = Text(f"{clock(w.left_at)} ", style="bold")
            if job is not None and job.is_final:  # what Slurm says beats "the connection was lost"
                why.append(slurm_cause(job) + " · ", style="bold red" if job.is_failed else "")
            why.append_text(hl(line(w.left_reason, 90), pattern))
            mem = Text("-")
        return [
            hl(self.names.get(w.key, w.own_name), pattern, "bold"),
            hl(w.address.split("://", 1)[-1], pattern),
            hl(w.host, pattern),
            hl(w.status, pattern, STATUS_STYLE.get(w.status, "")),
            mem,
            Text(mib(w.spilled) if w.spilled else "-"),
            Text("-" if w.cpu is None or not w.alive else f"{w.cpu:.0f}"),
            Text("-" if w.executing is None or not w.alive else str(w.executing)),
            Text("-" if w.ready is None or not w.alive else str(w.ready)),
            Text("-" if w.in_memory is None or not w.alive else str(w.in_memory)),
            Text(ago(now - w.last_seen) if w.last_seen and w.alive else "-"),
            Text(ago(now - w.first_seen) if w.first_seen else "-"),
            Text(str(w.restarts) if w.restarts else "", style="bold red" if w.restarts else ""),
            *([worker_job_cell(job)] if shows_jobs(self.app) else []),
            why,
        ]

    def info_head(self, live: LiveSnapshot, total: int, shown: int) -> str:
        return (f"{len(live.alive_workers)} workers alive, {len(live.departed_workers)} departed"
                + (f"  ·  showing {shown}" if shown != total else "")
                + "  ·  memory: managed █ unmanaged ▓ free ░  ·  exec/ready/mem: tasks")

    def detail(self, w: WorkerInfo) -> Text:
        t = Text()
        t.append(safe(self.names.get(w.key, w.own_name)), style="bold")
        t.append(f"  {safe(w.address)}")
        if w.host:
            t.append(f"  on {safe(w.host)}")
        if w.previous_addresses:
            t.append(f"  (earlier: {', '.join(safe(a) for a in w.previous_addresses)})", style="dim")
        if w.restarts:
            t.append(f"  ·  restarted {w.restarts}×", style="bold red")
        if w.memory_kills:
            t.append(f"  ·  {w.memory_kills} memory kill(s)", style="red")
        job = worker_job(self.app, w.name, w.alive, w.left_at)
        if job is not None:
            t.append(f"\nSlurm job {job.job_id}: {job.state}", style="bold")
            if job.reason and job.reason not in ("None", job.state):
                t.append(f", reason {safe(job.reason)}")
            t.append(f" · {slurm_cause(job)}", style="bold red" if job.is_failed else "")
        if not w.alive:
            t.append(f"\nleft at {clock(w.left_at)}: ", style="bold")
            t.append(safe(w.left_reason or "no reason recorded"))
        return t

    def copy_text(self) -> str | None:
        w = self.current()
        if w is None:
            return None
        return (f"{self.names.get(w.key, w.own_name)}\t{w.address}\t{w.host}\t{w.status}\tmemory {memory_of(w.memory, [w.memory_limit])}\t"
                f"restarts {w.restarts}\t{w.left_reason or ''}\n")


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
        return items[::-1]  # newest first

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

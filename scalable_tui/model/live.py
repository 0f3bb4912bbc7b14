"""Snapshot types of the live source (a running Dask scheduler).

Plain slotted dataclasses, no ``distributed`` import: the UI and the assistant
read these without pulling in the cluster code.  ``LiveSnapshot.to_run_state``
turns a snapshot into the ``RunState`` every other part of the project reads,
so ``assistant.diagnose.diagnose_state`` works unchanged on live data.

Split by job: ``live_workers.py`` (``WorkerInfo``, display names),
``live_failures.py`` (``LiveFailure``, exception texts); this module holds
the snapshot and its conversion to a ``RunState``, and re-exports the names
above so ``from scalable_tui.model.live import ...`` keeps working.

A little over ~400 lines on purpose: ``LiveSnapshot`` and its
``to_run_state`` are one type (the conversion reads every field of it).
"""

from __future__ import annotations

import copy
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from scalable_tui.model.live_failures import (
    FILENAME_LOST,
    OS_ERROR_TYPES,
    TIME_BEFORE_ATTACH,
    LiveFailure,
    _iso,
    memory_kill_text,
    near_limit_text,
    os_error_message,
    split_exception_text,
)
from scalable_tui.model.live_workers import _SCHEME, WorkerInfo, display_names
from scalable_tui.model.run import FailureRecord, RunMeta, RunState, TaskTable, TaskTotals, WorkerEvent

__all__ = ["EVENT_KINDS", "LiveEvent", "LiveSnapshot", "PrefixCounts", "WorkerInfo", "display_names", "LiveFailure",
           "split_exception_text", "os_error_message", "memory_kill_text", "near_limit_text", "OS_ERROR_TYPES",
           "FILENAME_LOST", "TIME_BEFORE_ATTACH"]

#: How many failure events (deaths, graph errors) a snapshot keeps in full (each is a few hundred bytes).
MAX_INCIDENTS = 100_000


def is_incident(kind: str, details: dict[str, Any]) -> bool:
    """An event that is itself a failure: an unexpected worker death or a graph the scheduler could not load."""
    return kind == "graph-error" or (kind == "worker-removed" and bool(details.get("unexpected")))


#: Event kinds a LiveEvent can have (the UI may color by these).
EVENT_KINDS = (
    "worker-added",
    "worker-removed",
    "worker-restart-memory",
    "killed-worker",
    "paused",
    "resumed",
    "worker-status",
    "worker-ttl-timed-out",
    "no-workers-timeout-exceeded",
    "cluster-restart",
    "graph-error",
    "log-warning",
    "log-error",
    "scheduler-restarted",
    "disconnected",
    "reconnected",
    "monitor",
)


@dataclass(slots=True)
class PrefixCounts:
    """Task state counts of one task prefix (``inc`` for ``inc-<hash>``)."""

    name: str
    waiting: int = 0
    queued: int = 0
    no_worker: int = 0
    processing: int = 0
    memory: int = 0
    erred: int = 0
    released: int = 0
    forgotten: int = 0
    #: Tasks that reached memory since the monitor plugin was installed (None when limited).
    completed: int | None = None
    #: Tasks per second reaching memory, over the last ~30 s (None until two polls, or when limited).
    throughput: float | None = None
    duration_average: float | None = None

    @property
    def done(self) -> int:
        return self.memory + self.erred + self.released + self.forgotten

    @property
    def remaining(self) -> int:
        return self.waiting + self.queued + self.no_worker + self.processing

    @property
    def total(self) -> int:
        return self.done + self.remaining

    def as_dict(self) -> dict[str, int]:
        """Counts keyed by Dask's state names."""
        return {
            "waiting": self.waiting,
            "queued": self.queued,
            "no-worker": self.no_worker,
            "processing": self.processing,
            "memory": self.memory,
            "erred": self.erred,
            "released": self.released,
            "forgotten": self.forgotten,
        }


@dataclass(slots=True)
class LiveEvent:
    ts: float
    #: One of ``EVENT_KINDS``.
    kind: str
    #: Worker identity (``WorkerInfo.key``) when the event is about a worker.
    worker: str | None
    text: str
    address: str | None = None
    details: dict[str, Any] = field(default_factory=dict)



@dataclass(slots=True)
class LiveSnapshot:
    """Everything the monitor knows at one moment.  Returned by ``LiveSource.poll``.

    Containers are copies: the source keeps mutating its own state, a snapshot
    handed to the UI does not change (``LiveFailure``/``LiveEvent`` objects are
    shared and never mutated after they are handed out).
    """

    address: str
    scheduler_id: str | None = None
    scheduler_address: str | None = None
    scheduler_started: float | None = None
    attached_at: float = field(default_factory=time.time)
    #: {"python": "3.11.7", "distributed": "2026.8.0", "dask": …}
    client_versions: dict[str, str] = field(default_factory=dict)
    scheduler_versions: dict[str, str] = field(default_factory=dict)
    #: Set once when client and scheduler differ (show it once, not as a crash).
    version_warning: str | None = None
    #: True when the last poll succeeded.
    connected: bool = False
    #: connecting, ok, slow (one timeout), unresponsive (several), down (refused/closed), error, closed.
    link: str = "connecting"
    disconnected_since: float | None = None
    disconnect_reason: str | None = None
    #: When the next attempt is due while disconnected (backoff).
    retry_at: float | None = None
    last_poll_ok: float | None = None
    #: Scheduler clock minus this machine's clock (seconds, approx.).  Every time in a
    #: snapshot is already on this machine's clock (``time.time()``).
    clock_offset: float | None = None
    #: Round trip of the last successful poll, and the scheduler-side time inside it.
    poll_latency_ms: float | None = None
    scheduler_ms: float | None = None
    #: Size (msgpack) of the last reply.
    last_reply_bytes: int | None = None
    polls: int = 0
    polls_failed: int = 0
    #: "plugin" (full) or "limited" (msgpack-only handlers; see limited_panels).
    mode: str = "plugin"
    workers: dict[str, WorkerInfo] = field(default_factory=dict)
    prefixes: dict[str, PrefixCounts] = field(default_factory=dict)
    n_tasks: int | None = None
    n_queued: int | None = None
    #: Task failures, oldest first; detail capped (see failures_dropped).
    failures: list[LiveFailure] = field(default_factory=list)
    #: Exact number of distinct failed tasks seen since attach (detail or not).
    failures_total: int = 0
    #: Oldest failures whose detail was dropped to bound memory (still in the counts).
    failures_dropped: int = 0
    #: Failures that happened but whose detail never reached the monitor (scheduler ring overflowed).
    failures_missed: int = 0
    #: Exact counts by (prefix, exception type), including dropped and missed ones where known.
    failure_counts: dict[tuple[str, str], int] = field(default_factory=dict)
    #: Summary of the dropped detail: (prefix, type) -> [count, first ts, last ts, example key].
    dropped_summary: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    #: Erred tasks that only erred because a dependency did (counted, not listed).
    dependents_erred: int = 0
    #: Of the failed tasks seen, how many the scheduler still holds as erred (the others were released or
    #: retried); None when unknown (limited mode, a recording made before it was counted).
    failures_erred_now: int | None = None
    events: deque[LiveEvent] = field(default_factory=deque)
    #: The events that are failures (unexpected worker deaths, graph errors), kept apart from the display
    #: window ``events``: a long night of workers joining and leaving pushed early deaths out of that
    #: window, and the failure count then went *down*.  Bounded far higher (``MAX_INCIDENTS``).
    incidents: deque[LiveEvent] = field(default_factory=lambda: deque(maxlen=MAX_INCIDENTS))
    incidents_dropped: int = 0
    #: Task counts of the schedulers that answered at this address before the current one (each one's
    #: last counts, summed): a restarted scheduler counts from zero, and the night's totals must not.
    earlier_totals: dict[str, int] = field(default_factory=dict)
    events_total: int = 0
    events_dropped: int = 0
    event_counts: dict[str, int] = field(default_factory=dict)
    #: Memory evidence per worker address (nanny kills, deaths near the limit), newest last.
    memory_evidence: dict[str, list[str]] = field(default_factory=dict)
    #: Panels that show less than usual, each with why (limited mode, missing fields).
    limited_panels: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    closed: bool = False

    # -- derived -----------------------------------------------------------
    @property
    def reached(self) -> bool:
        """Has the scheduler ever answered?  Until then every count is unknown, not zero ("no failures")."""
        return self.scheduler_id is not None or self.last_poll_ok is not None

    @property
    def display_names(self) -> dict[str, str]:
        """Worker key -> the one label every screen shows (see ``display_names``).  O(workers): call once per render."""
        return display_names(self.workers.values())

    def display_name(self, worker: str | None, names: dict[str, str] | None = None) -> str:
        """The label of a worker given by key (events, failures) or address; "-" for none."""
        if not worker:
            return "-"
        names = self.display_names if names is None else names
        if worker in names:
            return names[worker]
        w = self.worker_by_address(worker)
        return names.get(w.key, w.own_name) if w is not None else _SCHEME.sub("", worker)

    @property
    def alive_workers(self) -> list[WorkerInfo]:
        return [w for w in self.workers.values() if w.alive]

    @property
    def departed_workers(self) -> list[WorkerInfo]:
        return [w for w in self.workers.values() if not w.alive]

    def task_totals(self) -> dict[str, int]:
        """Tasks per state: this scheduler's prefixes plus the earlier schedulers' (``earlier_totals``).

        The same numbers as the diagnosis's totals (``to_run_state``), so the Overview and ``diagnose``
        never disagree after a scheduler restart.
        """
        out: dict[str, int] = dict(self.earlier_totals)
        for p in self.prefixes.values():
            for k, v in p.as_dict().items():
                out[k] = out.get(k, 0) + v
        return out

    def status_line(self) -> str:
        """``connected`` / ``disconnected since 02:13:07 (reason)`` for the footer."""
        if self.closed:
            return "closed"
        if self.connected:
            return f"connected to {self.address}"
        if self.disconnected_since is None:
            return f"connecting to {self.address}"
        t = time.strftime("%H:%M:%S", time.localtime(self.disconnected_since))
        return f"disconnected since {t} ({self.disconnect_reason or self.link})"

    def copy(self) -> LiveSnapshot:
        """A snapshot the caller may keep: containers copied, workers copied."""
        c = copy.copy(self)
        c.client_versions = dict(self.client_versions)
        c.scheduler_versions = dict(self.scheduler_versions)
        c.workers = {k: copy.copy(w) for k, w in self.workers.items()}
        for w in c.workers.values():
            w.previous_addresses = list(w.previous_addresses)
        c.prefixes = {k: copy.copy(p) for k, p in self.prefixes.items()}
        c.failures = list(self.failures)
        c.failure_counts = dict(self.failure_counts)
        c.dropped_summary = {k: list(v) for k, v in self.dropped_summary.items()}
        c.events = deque(self.events, maxlen=self.events.maxlen)
        c.incidents = deque(self.incidents, maxlen=self.incidents.maxlen)
        c.event_counts = dict(self.event_counts)
        c.earlier_totals = dict(self.earlier_totals)
        c.memory_evidence = {k: list(v) for k, v in self.memory_evidence.items()}
        c.limited_panels = list(self.limited_panels)
        c.notices = list(self.notices)
        return c

    def add_event(self, ev: LiveEvent) -> None:
        """Append to the display window, and to ``incidents`` when the event is a failure."""
        self.events.append(ev)
        if is_incident(ev.kind, ev.details):
            if self.incidents.maxlen is not None and len(self.incidents) == self.incidents.maxlen:
                self.incidents_dropped += 1
            self.incidents.append(ev)

    def worker_by_address(self, address: str) -> WorkerInfo | None:
        for w in self.workers.values():
            if w.address == address or address in w.previous_addresses:
                return w
        return None

    # -- to the shared RunState --------------------------------------------
    def to_run_state(self, *, include_worker_deaths: bool = True) -> RunState:
        """A ``RunState`` for the assistant: one FailureRecord per failed task, and one per unexpected
        worker death that no KilledWorker names (see ``assistant.diagnose.failure_counts``).

        The task table holds the failed tasks only (their detail is all the
        monitor keeps); the task totals are the scheduler's prefix counts
        (``RunState.task_totals``), so no reader counts the table as "all tasks".

        KilledWorker records carry the suspect task and the workers it killed;
        when any of those workers was killed by its nanny for memory, or died
        with its memory near the limit, that evidence is in the message (so the
        ``worker_memory`` rule fires).
        """
        meta = RunMeta(
            run_id=self.scheduler_id or self.address,
            project_name=None,
            target_name=self.address,
            provider_name="dask",
            started_at=_iso(self.scheduler_started),
            finished_at=None if self._running() else _iso(self.disconnected_since or self.last_poll_ok),
            status="running" if self._running() else "finished",
            extra={"source": "live", "link": self.link, "mode": self.mode},
        )
        table = TaskTable()
        failures: list[FailureRecord] = []
        names = self.display_names  # one label per worker, as on the screens
        for f in self.failures:
            r = table.row.get(f.key)
            if r is None:
                r = table.add_row(f.key)
                table.state[r] = table.strings.get("failed")
                table.name[r] = table.strings.get(f.prefix)
                if f.first_seen is not None:
                    table.last_ts[r] = f.first_seen
                if f.erred_on:
                    table.worker[r] = self.display_name(f.erred_on[0], names)
                table.error[r] = (f.exception_type, f.message[:500])
            failures.append(self._failure_record(len(failures), f, names))
        # A worker death that a KilledWorker failure names is that failure (Dask
        # gave up on the task because of it): counted once, in that failure.
        killed = {a for f in self.failures for a in (*f.killed_addresses, *f.killed_workers)}
        deaths = 0
        worker_events: list[WorkerEvent] = []
        # Failures from ``incidents`` (every death and graph error), the worker timeline from the display
        # window ``events``: the count of deaths must not shrink as the window slides.
        for ev in self.incidents:
            if ev.kind == "graph-error":  # a failure with no task: the scheduler could not deserialize a graph
                failures.append(self._graph_error_record(len(failures), ev))
                continue
            deaths += 1
            if include_worker_deaths and ev.address not in killed and ev.worker not in killed:
                failures.append(self._death_record(len(failures), ev, names))
        for ev in self.events:
            if ev.kind not in ("worker-added", "worker-removed", "worker-restart-memory", "paused", "resumed",
                               "worker-ttl-timed-out", "killed-worker"):
                continue
            worker_events.append(WorkerEvent(
                timestamp=_iso(ev.ts), ts=ev.ts, state=ev.kind, provider="dask", worker_id=ev.worker,
                component=None, details={"text": ev.text, "address": ev.address, **ev.details},
            ))
        ts_all = [f.ts for f in failures if f.ts is not None]
        summary = {
            "source": "live",
            "scheduler_id": self.scheduler_id,
            "tasks_by_prefix": {n: p.as_dict() for n, p in self.prefixes.items()},
            "failures_total": self.failures_total,
            "failures_dropped": self.failures_dropped,
            "failures_missed": self.failures_missed,
            "dependents_erred": self.dependents_erred,
            "workers_alive": len(self.alive_workers),
            "workers_departed": len(self.departed_workers),
        }
        return RunState(
            run_dir=self.address,
            meta=meta,
            tasks=table,
            failures=failures,
            worker_events=worker_events,
            profiles=[],
            issues={},
            summary=summary,
            last_event_ts=self.last_poll_ok or (max(ts_all) if ts_all else None),
            first_event_ts=min(ts_all) if ts_all else self.attached_at,
            # The table above holds the failed tasks only: the totals are the scheduler's.
            task_totals=TaskTotals.from_scheduler([*(p.as_dict() for p in self.prefixes.values()), self.earlier_totals])
            if self.prefixes or self.earlier_totals
            else None,
            worker_deaths=deaths,
        )

    def _running(self) -> bool:
        return not self.closed and self.link in ("ok", "slow", "unresponsive", "connecting")

    def _memory_texts(self, addresses: list[str]) -> list[str]:
        out: list[str] = []
        for a in addresses:
            for t in self.memory_evidence.get(a, ()):
                if t not in out:
                    out.append(t)
        return out

    def _failure_record(self, index: int, f: LiveFailure, names: dict[str, str] | None = None) -> FailureRecord:
        message = f.message or f.exception
        details: dict[str, Any] = {"prefix": f.prefix, "scheduler_id": f.scheduler_id or ""}
        if f.before_attach:
            details["before_attach"] = True
            details["time"] = f"{TIME_BEFORE_ATTACH} (from the scheduler's {f.time_from})" if f.time_from \
                else f"{TIME_BEFORE_ATTACH} (time unknown)"
        if f.filename:
            details["filename"] = f.filename
            if f.filename2:
                details["filename2"] = f.filename2
            details["filename_from"] = f.filename_from or ""
        elif f.filename_lost:
            details["filename"] = FILENAME_LOST
        if f.suspicious:
            details["suspicious"] = f.suspicious
        if f.exception_type == "KilledWorker" or f.killed_workers:
            details["suspect_task"] = f.key
            if f.killed_workers:
                details["killed_workers"] = ", ".join(self.display_name(k, names) for k in f.killed_workers)
            mem = self._memory_texts(f.killed_addresses or f.erred_on_addresses)
            if mem:
                details["memory_evidence"] = " | ".join(mem)[:2000]
                message = f"{message}\nWorker deaths before it: " + " | ".join(mem)[:2000]
        return FailureRecord(
            index=index,
            failure_class=f.exception_type,
            message=message,
            timestamp=_iso(f.first_seen),
            ts=f.first_seen,
            task_id=f.key,
            provider="dask",
            worker=self.display_name(f.erred_on[0], names) if f.erred_on else None,
            traceback=f.traceback_text,
            details=details,
            # evidence lines print their source: say there why they have no time
            source="scheduler" if f.first_seen is not None else f"scheduler ({TIME_BEFORE_ATTACH}, time unknown)",
            task_name=f.prefix,
        )

    def _graph_error_record(self, index: int, ev: LiveEvent) -> FailureRecord:
        # No task: the tasks of that graph never existed on the scheduler (the client got the error).
        return FailureRecord(
            index=index,
            failure_class="RuntimeError",
            message=str(ev.details.get("message") or ev.text),
            timestamp=_iso(ev.ts),
            ts=ev.ts,
            task_id=None,
            provider="dask",
            details={k: v for k, v in ev.details.items() if isinstance(v, str) and v},
            source="scheduler-events",
        )

    def _death_record(self, index: int, ev: LiveEvent, names: dict[str, str] | None = None) -> FailureRecord:
        mem = self._memory_texts([ev.address]) if ev.address else []
        # Same wording for every death of one kind (names and addresses go to the
        # details), so the assistant groups them into one finding.
        text = f"worker died: {ev.details.get('reason') or ev.text}"
        if mem:
            text += "\n" + " | ".join(mem)[:2000]
        details = {k: v for k, v in ev.details.items() if isinstance(v, (str, int, float)) and k != "unexpected"}
        if mem:
            details["memory_evidence"] = " | ".join(mem)[:2000]
        return FailureRecord(
            index=index,
            failure_class="WorkerDied",
            message=text,
            timestamp=_iso(ev.ts),
            ts=ev.ts,
            task_id=None,
            provider="dask",
            worker=self.display_name(ev.worker, names) if ev.worker else None,
            details=details,
            source="scheduler-events",
        )

"""Snapshot types shared by every source (run directory, live scheduler, recording).

These are plain slotted dataclasses on purpose: a 300k-task run must not build
hundreds of thousands of validated objects.  Pydantic lives at the edges
(``scalable_tui.model.diagnosis``, JSON output, configuration).
"""

from __future__ import annotations

import math
import re
import threading
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

#: Terminal task states in Scalable's telemetry; the last event of a task wins.
TERMINAL_STATES = frozenset({"succeeded", "failed", "cancelled"})
#: Display order for state columns; unknown states sort after these.
STATE_ORDER = ("submitted", "running", "succeeded", "failed", "cancelled")

NAN = float("nan")

#: Dask's task states (the scheduler's task-prefix counts), in display order.
SCHEDULER_STATES = ("waiting", "queued", "no-worker", "processing", "memory", "erred", "released", "forgotten", "lost")
#: Scheduler states of a task that has not finished yet.
SCHEDULER_PENDING = frozenset({"waiting", "queued", "no-worker", "processing"})
#: What a gone scheduler's unfinished tasks are counted as: they went down with it (not "still waiting").
LOST_WITH_SCHEDULER = "lost"


def retired_counts(counts: dict[str, int]) -> dict[str, int]:
    """The last counts of a scheduler that is gone, its unfinished tasks counted as lost."""
    out: dict[str, int] = {}
    for k, v in counts.items():
        k = LOST_WITH_SCHEDULER if k in SCHEDULER_PENDING else k
        out[k] = out.get(k, 0) + int(v)
    return out


@dataclass(frozen=True, slots=True)
class TaskTotals:
    """How many tasks are in each state: the one number every door prints.

    A run directory counts Scalable's task events (``submitted``, ``running``,
    ``succeeded``, ``failed``, ``cancelled``: origin ``run``); a live
    scheduler or a recording counts what the scheduler's task prefixes say
    (``waiting`` … ``erred``, ``forgotten``: origin ``scheduler``), because the
    monitor only holds detail for the failed tasks and counting those rows
    would call every task failed.  Both origins answer the same questions
    (total, failed, unfinished) so no reader needs to know which it has.
    """

    by_state: dict[str, int]
    origin: str = "run"

    @property
    def total(self) -> int:
        return sum(self.by_state.values())

    @property
    def failed(self) -> int:
        return self.by_state.get("failed", 0) + self.by_state.get("erred", 0)

    @property
    def unfinished(self) -> int:
        if self.origin == "scheduler":
            return sum(n for k, n in self.by_state.items() if k in SCHEDULER_PENDING)
        return sum(n for k, n in self.by_state.items() if k not in TERMINAL_STATES)

    def ordered(self) -> dict[str, int]:
        """The non-zero states in display order (known states first, then the rest by name)."""
        order = SCHEDULER_STATES if self.origin == "scheduler" else STATE_ORDER
        keys = [k for k in order if k in self.by_state] + sorted(set(self.by_state) - set(order))
        return {k: self.by_state[k] for k in keys if self.by_state[k]}

    @classmethod
    def from_table(cls, table: TaskTable) -> TaskTotals:
        return cls(table.counts_by_state(), "run")

    @classmethod
    def from_scheduler(cls, per_prefix: Iterable[dict[str, int]]) -> TaskTotals:
        """Summed task-prefix counts (``PrefixCounts.as_dict()`` of each prefix)."""
        out: dict[str, int] = {}
        for counts in per_prefix:
            for k, v in counts.items():
                out[k] = out.get(k, 0) + int(v)
        return cls(out, "scheduler")


@dataclass(slots=True)
class RunMeta:
    """What ``run.json`` says about a run (all optional: the file may be missing)."""

    run_id: str
    project_name: str | None = None
    target_name: str | None = None
    provider_name: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    status: str | None = None
    schema_version: int | None = None
    manifest_lock: str | None = None
    source_manifest_path: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ResourceProfile:
    """A distinct set of requested resources; tasks point at one by index.

    Thousands of tasks share a handful of profiles, so storing the profile
    once keeps memory flat on big runs.
    """

    component: str | None
    provider: str | None
    requested_cpus: int | float | None
    requested_memory: str | None
    requested_walltime: str | None
    requested_workers: int | None


@dataclass(slots=True)
class FailureRecord:
    """One failure: a ``failures.jsonl`` record, or a failed task event without one."""

    index: int
    failure_class: str
    message: str
    timestamp: str | None
    ts: float | None
    task_id: str | None
    provider: str | None = None
    phase: str | None = None
    worker: str | None = None
    traceback: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    #: ``failures.jsonl`` or ``tasks.jsonl`` (synthesised from a failed task event).
    source: str = "failures.jsonl"
    line_no: int = 0
    # Joined from tasks.jsonl / resources.jsonl (filled by RunState.failures_joined).
    task_name: str | None = None
    component: str | None = None
    duration_s: float | None = None
    resources: ResourceProfile | None = None
    #: The Dask key of the task's future.  Scalable 2.0.0b6 writes it into the
    #: task event's ``worker`` field; it is kept apart so it is never shown as a worker.
    dask_key: str | None = None


@dataclass(slots=True)
class WorkerEvent:
    """A provider/cluster event from ``workers.jsonl``."""

    timestamp: str | None
    ts: float | None
    state: str
    provider: str | None
    worker_id: str | None
    component: str | None
    details: dict[str, Any]


@dataclass(slots=True)
class FileIssues:
    """What a tolerant read of one file had to skip or repair, for notices."""

    corrupt: int = 0
    non_utf8: int = 0
    invalid: int = 0
    fields_ignored: int = 0
    future_schema: int = 0
    unreadable: str | None = None
    truncated_rewind: int = 0
    #: A few ``(line_no, reason)`` examples, capped so a broken file stays cheap.
    examples: list[tuple[int, str]] = field(default_factory=list)
    #: Bytes after the last newline when the read reached the end: a line not yet (or never) finished.
    held_back: int = 0

    def total_skipped(self) -> int:
        return self.corrupt + self.non_utf8 + self.invalid

    def note(self, line_no: int, reason: str) -> None:
        if len(self.examples) < 5:
            self.examples.append((line_no, reason))


#: A future's key: ``name-<32 hex>`` (``pure=True``, the default), ``name-<uuid4>`` (``submit(pure=False)``)
#: or ``name-<uuid4>-<i>`` (``map(pure=False)``), as distributed makes them.
_DASK_KEY = re.compile(r"^[\w.<>-]+-(?:[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
                       r"(?:-[0-9]+)?)$")
_KEY_HEX = re.compile(r"[0-9a-f]{32}")
_KEY_NAME = re.compile(r"[\w.<>-]+")
_UUID_KEY = re.compile(r"[\w.<>-]+-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?:-[0-9]+)?")
#: "Not in the hint" (a hint's value may be None: no value).
_MISS = object()


def looks_like_dask_key(value: str) -> bool:
    """``run_gcam-402063bf…`` (a future's key), as opposed to ``tcp://…`` or a worker name.

    ``_DASK_KEY.match`` cut where it must split (the ``-`` 33 from the end,
    ``$`` also before one final newline): a worker address is refused by two
    comparisons, and a key costs two anchored scans instead of a backtracking
    one (100,000 keys per diagnosis of a Scalable 2.0.0b6 run).
    """
    if value.endswith("\n"):
        value = value[:-1]
    n = len(value) - 33
    if n > 0 and value[n] == "-" and _KEY_HEX.fullmatch(value, n + 1) is not None:
        return _KEY_NAME.fullmatch(value, 0, n) is not None
    # ``pure=False``: a uuid4 with its dashes (and a map's index); a worker address has no 4 dashes in a row
    return value.count("-") >= 5 and _UUID_KEY.fullmatch(value) is not None


class Interner:
    """Maps repeated strings (task names, states, components) to small ints.

    ``index`` (string -> int) is only needed to add strings: a table read
    back from the persistent index builds it on first use (``forget_index``),
    since hashing 300k per-task names again costs ~80 ms of a reopen.
    """

    __slots__ = ("_index", "values")

    def __init__(self) -> None:
        self._index: dict[Any, int] | None = {None: 0}
        self.values: list[Any] = [None]

    @property
    def index(self) -> dict[Any, int]:
        index = self._index
        if index is None:
            index = self._index = dict(zip(self.values, range(len(self.values))))
        return index

    @index.setter
    def index(self, value: dict[Any, int]) -> None:
        self._index = value

    def forget_index(self) -> None:
        """``values`` is whole and final: ``index`` is built from it when first asked for."""
        self._index = None

    def get(self, value: Any) -> int:
        index = self._index  # the slot, not the property: the reader calls this for every new string
        if index is None:
            index = self.index
        idx = index.get(value)
        if idx is None:
            idx = len(self.values)
            index[value] = idx
            self.values.append(value)
        return idx


#: Re-entrant: building ``row`` reads ``ids``, which may itself be built on first use.
_BUILD_LOCK = threading.RLock()


class _SparseMap:
    """A ``TaskTable`` dict (``row``, ``worker``, ``resource``), or its id list (``ids``), that
    ``forget_sparse`` may leave to be built on first use."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name, self.slot = name, "_" + name

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        value = obj.__dict__[self.slot]
        if value is None:
            # Built once, under a lock: the UI thread and a worker (the Tasks list's warm-up, the reader)
            # may ask first at the same time; the second must get the first's map, not build another
            # (a row added to one of two would be lost) nor find the loader gone.
            with _BUILD_LOCK:
                value = obj.__dict__[self.slot]
                if value is None:
                    value = obj.__dict__[self.slot] = obj._sparse_load.pop(self.name)()
                    obj._sparse_hint.pop(self.name, None)
        return value

    def __set__(self, obj: Any, value: dict[Any, Any]) -> None:
        obj.__dict__[self.slot] = value
        obj._sparse_load.pop(self.name, None)
        obj._sparse_hint.pop(self.name, None)


class TaskTable:
    """Columnar per-task state derived from the task event stream.

    One row per task id, arrays for the numbers, interned ints for the
    repeated strings and sparse dicts for what only a few tasks have (errors,
    workers).  About 150 bytes a task instead of several kilobytes of dicts.
    """

    #: Set once the table will never change again (a finished run, fully read, shown as it is): the
    #: Tasks list's caches then keep what they derive without copies of the columns to check against.
    frozen = False

    def __init__(self) -> None:
        #: ``forget_sparse``: how to build ``ids`` / ``row`` / ``worker`` / ``resource`` on first use, and
        #: some keys' answers meanwhile (None: no value).
        self._sparse_load: dict[str, Callable[[], Any]] = {}
        self._sparse_hint: dict[str, dict[Any, Any]] = {}
        self._ids: list[str] | None = []
        self._row: dict[str, int] | None = {}
        self.strings = Interner()
        self.state = array("I")
        self.name = array("I")
        self.component = array("I")
        self.tag = array("I")
        self.function = array("I")
        self.submitted_ts = array("d")
        self.last_ts = array("d")
        self.duration = array("d")
        self._worker: dict[int, str] | None = {}
        self.error: dict[int, tuple[str | None, str | None]] = {}
        self._resource: dict[int, int] | None = {}
        self.events = 0

    def __len__(self) -> int:
        return len(self.state)  # every column has a value per row (not ``ids``: it may be left marshalled)

    #: Row -> task id (300k ids unmarshalled cost 0.06-0.1 s of a reopen that shows the run without them).
    ids = _SparseMap()

    #: Task id -> row (hashing 300k ids costs 70-120 ms: built on first use after ``forget_rows``).
    row = _SparseMap()

    def forget_rows(self, hint: dict[str, int] | None = None) -> None:
        """``ids`` is whole: build ``row`` when first asked for.  ``hint``: ``row_get``'s answers for some ids
        meanwhile (-1: no row), e.g. the failures' tasks, which a reopened run's diagnosis looks up."""
        self.forget_sparse({"row": lambda: dict(zip(self.ids, range(len(self.ids))))},
                           {"row": {k: (None if r < 0 else r) for k, r in (hint or {}).items()}})

    def row_get(self, task_id: str) -> int | None:
        """``row.get(task_id)``, answered from the hint when it holds the id (the map is not built for it)."""
        return self._sparse_get("row", task_id)  # type: ignore[no-any-return]

    #: Row -> the task event's ``worker`` field; row -> index of its resource profile.
    worker = _SparseMap()
    resource = _SparseMap()

    def forget_sparse(self, loads: dict[str, Callable[[], Any]], hints: dict[str, dict[Any, Any]]) -> None:
        """``ids`` / ``row`` / ``worker`` / ``resource`` (the keys of ``loads``) are built by ``loads[k]()`` when
        first asked for.

        A table read back from the persistent index: hashing 300k ids and
        unmarshalling 300k workers (Dask keys) and profiles cost 0.15-0.3 s of
        a reopen that shows the run as it is without them.  ``hints[k]``:
        ``row_get`` / ``worker_get`` / ``resource_get``'s answers meanwhile
        (None: no value), for the failures, which the reopen's diagnosis looks up.
        """
        for k, load in loads.items():
            if k not in ("ids", "row", "worker", "resource"):
                raise ValueError(k)
            setattr(self, "_" + k, None)
            self._sparse_load[k] = load
            self._sparse_hint[k] = dict(hints.get(k) or {})

    def _sparse_get(self, name: str, r: Any) -> Any:
        if getattr(self, "_" + name) is None:
            hint = self._sparse_hint.get(name)
            if hint is not None and r in hint:
                return hint[r]
        return getattr(self, name).get(r)

    def sparse_getter(self, name: str) -> Callable[[int], Any]:
        """``row_get`` / ``worker_get`` / ``resource_get`` for many keys: the map's own ``get`` once it is
        built (the method calls cost ~0.1 s over the 100k failures of a diagnosis)."""
        built = getattr(self, "_" + name)
        if built is not None:
            return built.get  # type: ignore[no-any-return]
        hint = self._sparse_hint.get(name)
        if not hint:
            return lambda key: getattr(self, name).get(key)
        hint_get, miss = hint.get, _MISS

        def get(key: Any) -> Any:  # the hint first (its answers are the map's), else the map, built
            value = hint_get(key, miss)
            return getattr(self, name).get(key) if value is miss else value

        return get

    def worker_get(self, r: int) -> str | None:
        """``worker.get(r)``, from the hint while the map is not built and the hint holds the row."""
        return self._sparse_get("worker", r)  # type: ignore[no-any-return]

    def resource_get(self, r: int) -> int | None:
        """``resource.get(r)``, from the hint while the map is not built and the hint holds the row."""
        return self._sparse_get("resource", r)  # type: ignore[no-any-return]

    def add_row(self, task_id: str) -> int:
        r = len(self.ids)
        self.ids.append(task_id)
        self.row[task_id] = r
        self.state.append(0)
        self.name.append(0)
        self.component.append(0)
        self.tag.append(0)
        self.function.append(0)
        self.submitted_ts.append(NAN)
        self.last_ts.append(NAN)
        self.duration.append(NAN)
        return r

    def state_of(self, r: int) -> str:
        return self.strings.values[self.state[r]] or "unknown"

    def name_of(self, r: int) -> str | None:
        return self.strings.values[self.name[r]]

    def component_of(self, r: int) -> str | None:
        return self.strings.values[self.component[r]]

    def duration_of(self, r: int) -> float | None:
        d = self.duration[r]
        return None if math.isnan(d) else d

    def counts_by_state(self) -> dict[str, int]:
        """Tasks per final state; rows known only from resources.jsonl (no task event) are left out."""
        values = self.strings.values
        counts = Counter(self.state)
        counts.pop(0, None)
        return {values[k]: v for k, v in counts.items()}

    def n_tasks(self) -> int:
        return len(self.state) - self.state.count(0)

    def counts_by(self, column: str) -> dict[str, dict[str, int]]:
        """Per task name (or component, tag) the count of tasks in each state."""
        col: array = getattr(self, column)
        values = self.strings.values
        pairs = Counter(zip(col, self.state))
        out: dict[str, dict[str, int]] = {}
        for (g, s), n in pairs.items():
            if s == 0:
                continue
            out.setdefault(values[g] or "(none)", {})[values[s] or "unknown"] = n
        return out

    def unfinished(self) -> int:
        values = self.strings.values
        return sum(n for k, n in Counter(self.state).items() if k and values[k] not in TERMINAL_STATES)

    def durations(self) -> Iterator[float]:
        return (d for d in self.duration if not math.isnan(d))

    def row_dict(self, r: int) -> dict[str, Any]:
        """One task as a plain dict, for detail views and JSON output."""
        err = self.error.get(r, (None, None))
        return {
            "task_id": self.ids[r],
            "task_name": self.name_of(r),
            "component": self.component_of(r),
            "tag": self.strings.values[self.tag[r]],
            "function_name": self.strings.values[self.function[r]],
            "state": self.state_of(r),
            "duration_s": self.duration_of(r),
            "worker": self.worker.get(r),
            "error_type": err[0],
            "error_message": err[1],
        }


@dataclass(slots=True)
class RunState:
    """Everything known about one run directory at one moment."""

    run_dir: str
    meta: RunMeta
    tasks: TaskTable
    failures: list[FailureRecord]
    worker_events: list[WorkerEvent]
    profiles: list[ResourceProfile]
    issues: dict[str, FileIssues]
    summary: dict[str, Any] | None = None
    plan: dict[str, Any] | None = None
    manifest_text: str | None = None
    cache_hits: int = 0
    cache_misses: int = 0
    artifacts: int = 0
    cost_events: int = 0
    resource_events: int = 0
    #: Newest event timestamp seen in any stream (epoch seconds).
    last_event_ts: float | None = None
    first_event_ts: float | None = None
    #: Where the parquet snapshots stood in for missing JSONL files.
    parquet_used: list[str] = field(default_factory=list)
    #: When ``run.json`` last changed (the reader's stat): the abandoned-run check's clock when no event has a time.
    run_json_mtime: float | None = None
    #: Whole lines read per JSONL file: the share of skipped lines is said against it (the assistant reads no files).
    lines_read: dict[str, int] = field(default_factory=dict)
    #: Task counts when ``tasks`` is not the whole story (live / recording: the
    #: scheduler's prefix counts); None means "count the task table".
    task_totals: TaskTotals | None = None
    #: Unexpected worker departures seen (live / recording), each counted once.
    worker_deaths: int = 0
    #: ``join_key()`` when the failures were last joined to their tasks (``assistant.grouping.join_failures``):
    #: a reopen from the index, whose failures were stored joined, need not join 15k failures again.
    joined_mark: tuple[int, ...] | None = field(default=None, repr=False, compare=False)

    @property
    def run_id(self) -> str:
        return self.meta.run_id

    def join_key(self) -> tuple[int, ...]:
        """What joining the failures reads: the failure list, the task table and the resource profiles.

        Every way the readers change them moves one of these (a failure appended or
        the list replaced, a task or resource event counted, a profile added).
        """
        return (id(self.failures), len(self.failures), id(self.tasks), self.tasks.events, self.resource_events,
                len(self.profiles))

    def failures_joined(self) -> bool:
        return self.joined_mark == self.join_key()

    def totals(self) -> TaskTotals:
        """Tasks per state, whichever source made this state (see ``TaskTotals``)."""
        return self.task_totals if self.task_totals is not None else TaskTotals.from_table(self.tasks)

    def failed_tasks_without_record(self) -> int:
        return sum(1 for f in self.failures if f.source == "tasks.jsonl")

    def resources_for(self, task_id: str | None) -> ResourceProfile | None:
        if task_id is None:
            return None
        r = self.tasks.row_get(task_id)
        if r is None:
            return None
        p = self.tasks.resource_get(r)
        return None if p is None else self.profiles[p]

    def notices(self) -> list[str]:
        """Human-readable lines about what the tolerant reader skipped."""
        out: list[str] = []
        for name, iss in sorted(self.issues.items()):
            if iss.unreadable:
                out.append(f"{name}: unreadable ({iss.unreadable})")
            parts = []
            if iss.corrupt:
                parts.append(f"{iss.corrupt} corrupt line(s)")
            if iss.non_utf8:
                parts.append(f"{iss.non_utf8} non-UTF-8 line(s)")
            if iss.invalid:
                parts.append(f"{iss.invalid} record(s) with missing or wrong-typed required fields")
            if parts:
                where = ", ".join(f"line {n}: {why}" for n, why in iss.examples[:3])
                out.append(f"{name}: skipped {', '.join(parts)}" + (f" ({where})" if where else ""))
            if iss.fields_ignored:
                out.append(f"{name}: ignored {iss.fields_ignored} field value(s) of the wrong type")
            if iss.future_schema:
                out.append(
                    f"{name}: {iss.future_schema} record(s) have a newer schema_version than 1; read best-effort"
                )
            if iss.truncated_rewind:
                out.append(f"{name}: file shrank while being read; re-read from the start")
            if iss.held_back and self.finished():  # while the run is written, the writer may be mid-line
                out.append(f"{name}: its last line is incomplete ({iss.held_back} bytes, no newline) and "
                           "was not read: the writer stopped mid-line")
        return out

    def finished(self) -> bool:
        """run.json says the session closed: nothing more will be written."""
        return self.meta.status in ("completed", "failed")


def duration_text(seconds: float) -> str:
    """``2d 3h`` / ``1h 05m`` / ``4m 02s`` / ``9s``: an idle time or a gap, in the words every report uses."""
    seconds = int(seconds)
    if seconds >= 86400:
        return f"{seconds // 86400}d {seconds % 86400 // 3600}h"
    if seconds >= 3600:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds}s"

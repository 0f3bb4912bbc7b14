"""The run-directory source: Scalable telemetry files -> ``RunState``.

Tolerant (never raises on bad input: it counts and reports what it skipped),
incremental (``refresh()`` reads only appended bytes) and lean (orjson on raw
bytes, columnar task state, no model validation per line).  It opens files
read-only and never writes into the run directory.

Layout: this module owns the cursors and the refresh cycle; ``tasks.py`` folds
``tasks.jsonl`` (the hot loop) with the templated fast paths of
``fastpath.py``; ``fold.py`` folds the other streams; ``jsonl.py`` tails a
file by byte offset; ``values.py`` decodes timestamps; ``index/`` is the
persistent run index for big finished runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Generator
from typing import Any, Callable

import orjson

from scalable_tui.model.bulk import gc_paused
from scalable_tui.model.run import FileIssues, RunMeta, RunState, TaskTable
from scalable_tui.sources.rundir.fold import StreamFolds
from scalable_tui.sources.rundir.files import read_regular
from scalable_tui.sources.rundir.jsonl import JsonlTail
from scalable_tui.sources.rundir.tasks import TaskLines
from scalable_tui.sources.rundir.values import KNOWN_SCHEMA, _str_or_none, parse_ts

#: ``RunDirReader``, ``load_run``; ``parse_ts`` for callers that import it from here.
__all__ = ["RunDirReader", "RefreshResult", "load_run", "parse_ts", "STREAMS"]

STREAMS = ("tasks", "failures", "resources", "workers", "cache", "artifacts", "cost")


@dataclass(slots=True)
class RefreshResult:
    """What one ``refresh()`` added; lets a UI update only what changed."""

    task_events: int = 0
    new_failures: int = 0
    new_worker_events: int = 0
    reloaded: bool = False
    meta_changed: bool = False
    #: True when ``max_bytes`` stopped the read early: call ``refresh`` again.
    more: bool = False
    #: Bytes consumed so far over the bytes present, across all streams (0..1).
    progress: float = 1.0

    @property
    def changed(self) -> bool:
        return bool(
            self.task_events or self.new_failures or self.new_worker_events or self.reloaded or self.meta_changed
        )


class RunDirReader(TaskLines, StreamFolds):
    """Owns the cursors over one run directory and the ``RunState`` built from them."""

    def __init__(self, run_dir: str | Path, *, store_index: bool = True) -> None:
        self.path = Path(run_dir)
        #: False for a read that only looks (``history``, ``runs``): it may start from the persistent
        #: index but never adds to it, so a listing of many big runs does not churn the cache.
        self.store_index = store_index
        #: ``refresh(progress=…)``'s hook while a read runs, and whether it stopped that read
        self._progress_hook: Callable[[], bool] | None = None
        self._halted = False
        #: the second process reading the back half of the task events, during a whole read (``split.py``)
        self._split_job: Any = None
        self._reset()

    # -- state ---------------------------------------------------------------
    def _reset(self) -> None:
        self.tails = {name: JsonlTail(self.path / f"{name}.jsonl") for name in STREAMS}
        self.state = RunState(
            run_dir=str(self.path),
            meta=RunMeta(run_id=self.path.name),
            tasks=TaskTable(),
            failures=[],
            worker_events=[],
            profiles=[],
            issues={},
        )
        self._profile_index: dict[tuple[Any, ...], int] = {}
        self._resource_cache: dict[bytes, int] = {}
        self._line_cache: dict[bytes, tuple[Any, ...]] = {}
        self._done_cache: dict[tuple[bytes, ...], tuple[Any, ...]] = {}
        #: [lines probed, template hits, chunks skipped since, chunks skipped in all]: the template
        #: probe is skipped where it never hits (``TaskLines._probe_templates``)
        self._probe = [0, 0, 0, 0]
        self._failed_with_record: set[str] = set()
        self._synthetic: dict[str, int] = {}
        self._run_json_mtime: float | None = None
        self._static_loaded = False
        self._index_checked = getattr(self, "_index_checked", False)
        self._index_stored = getattr(self, "_index_stored", False)
        #: Leave the persistent-index store to ``store_in_index()`` (the review app stores after the
        #: first full screen is out: the store costs ~0.3 s on a 300k-task run).
        self.defer_index = getattr(self, "defer_index", False)

    def _issues(self, name: str) -> FileIssues:
        iss = self.state.issues.get(name)
        if iss is None:
            iss = self.state.issues[name] = FileIssues()
        return iss

    def _seen_ts(self, ts: float | None) -> None:
        if ts is None:
            return
        st = self.state
        if st.last_event_ts is None or ts > st.last_event_ts:
            st.last_event_ts = ts
        if st.first_event_ts is None or ts < st.first_event_ts:
            st.first_event_ts = ts

    # -- public --------------------------------------------------------------
    def load(self) -> RunState:
        self.refresh()
        return self.state

    def refresh(self, max_bytes: int | None = None, *, progress: Callable[[], bool] | None = None) -> RefreshResult:
        """Read whatever was appended since the last call (everything the first time).

        With ``max_bytes``, each stream reads at most about that much and
        ``result.more`` says whether to call again: a UI opening a huge run
        shows the first screen after the first slice instead of after the
        whole file.

        The cyclic GC is paused meanwhile: the reader allocates many small
        objects and no cycles, and generation scans over a large live state
        would otherwise cost more than the parsing.

        ``progress`` is called after every chunk (about 1 MB): the caller reports
        ``progress_now()`` from it, and stops the read by returning False (the
        read then ends after that chunk, as a ``max_bytes`` read does, with
        ``result.more`` set).  A whole read with it is the review app's load
        after its first slice: unsliced, so the task events can be split
        across two processes (``split.py``).
        """
        self._progress_hook = progress
        self._halted = False
        try:
            with gc_paused():
                return self._refresh(max_bytes)
        finally:
            self._progress_hook = None

    def _refresh(self, max_bytes: int | None = None) -> RefreshResult:
        if not self._static_loaded and not self._index_checked:
            # first read: a big finished run may already be in the persistent index (index/)
            self._index_checked = True
            from scalable_tui.sources.rundir.index import adopt_cached

            if adopt_cached(self):
                return RefreshResult(task_events=self.state.tasks.events, new_failures=len(self.state.failures),
                                     new_worker_events=len(self.state.worker_events), meta_changed=True)
        res = RefreshResult()
        self._budget = max_bytes
        self._stopped_early = False
        if any(t.changed_identity() for t in self.tails.values()):
            self._reset()
            res.reloaded = True
            for name in STREAMS:
                self._issues(f"{name}.jsonl").truncated_rewind += 1
        res.meta_changed = self._read_run_json()
        if not self._static_loaded:
            self._read_static()
            self._static_loaded = True
        n_fail = len(self.state.failures)
        n_workers = len(self.state.worker_events)
        n_task_events = self.state.tasks.events
        # a whole read of many task events: the back half in a second process from now on (``split.py``)
        self._split_job = self._split() if max_bytes is None else None
        try:
            # resources before tasks so that synthesised failures can join them;
            # failures before tasks so a failed task with a record is not duplicated.
            self._read_stream("resources", self._on_resource_lines)
            self._read_stream("failures", self._on_failure_lines)
            self._read_stream("tasks", self._on_task_lines)
        finally:
            if self._split_job is not None:
                self._split_job.kill()
                self._split_job = None
        self._read_stream("workers", self._on_worker_lines)
        self._read_stream("cache", self._on_cache_lines)
        self._read_stream("artifacts", self._on_count_lines("artifacts"))
        self._read_stream("cost", self._on_count_lines("cost_events"))
        self._reconcile_synthetic()
        res.more = self._stopped_early
        res.progress = self.progress_now()
        res.task_events = self.state.tasks.events - n_task_events
        res.new_failures = len(self.state.failures) - n_fail
        res.new_worker_events = len(self.state.worker_events) - n_workers
        if self.state.summary is None:
            self.state.summary = self._read_json("summary.json")
        if not res.more and not self.defer_index:
            self.store_in_index()
        return res

    def store_in_index(self) -> None:
        """Store a big finished run in the persistent index once it is read to its end (at most once;
        never for a reader made with ``store_index=False``)."""
        if not self.store_index or self._index_stored or getattr(self, "_stopped_early", True):
            return
        self._index_stored = True
        from scalable_tui.sources.rundir.index import remember

        remember(self)  # a big finished run opens from the persistent index next time

    def progress_now(self) -> float:
        """Bytes consumed over the bytes present, across all streams (0..1).

        While a second process reads the back half of the task events, its part
        counts as read as far as this process has read its own (they are cut to
        finish together): the bar moves on instead of jumping at the end.
        """
        done = total = 0
        for t in self.tails.values():
            try:
                size = os.stat(t.path).st_size
            except OSError:
                continue
            done += t.offset
            total += size
        split = self._split_job
        if split is not None and total:
            own = done - split.front_start
            done += int((split.end - split.at) * max(0.0, min(1.0, own / max(1, split.front_bytes))))
        return 1.0 if total == 0 else min(1.0, done / total)

    # -- whole-file JSON/YAML ------------------------------------------------
    def _read_json(self, name: str) -> dict[str, Any] | None:
        p = self.path / name
        try:
            raw = read_regular(p)
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._issues(name).unreadable = exc.strerror or str(exc)
            return None
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            self._issues(name).unreadable = f"not valid JSON: {exc}"
            return None
        if not isinstance(obj, dict):
            self._issues(name).unreadable = "not a JSON object"
            return None
        return obj

    def _read_run_json(self) -> bool:
        p = self.path / "run.json"
        try:
            mtime = p.stat().st_mtime
        except OSError:
            return False
        if mtime == self._run_json_mtime:
            return False
        self._run_json_mtime = mtime
        self.state.run_json_mtime = mtime
        obj = self._read_json("run.json")
        if obj is None:
            return False
        known = {
            "run_id",
            "project_name",
            "target_name",
            "provider_name",
            "started_at",
            "finished_at",
            "status",
            "schema_version",
            "manifest_lock",
            "source_manifest_path",
        }
        sv = obj.get("schema_version")
        if isinstance(sv, int) and sv > KNOWN_SCHEMA:
            self._issues("run.json").future_schema = 1
        self.state.meta = RunMeta(
            run_id=_str_or_none(obj.get("run_id")) or self.path.name,
            project_name=_str_or_none(obj.get("project_name")),
            target_name=_str_or_none(obj.get("target_name")),
            provider_name=_str_or_none(obj.get("provider_name")),
            started_at=_str_or_none(obj.get("started_at")),
            finished_at=_str_or_none(obj.get("finished_at")),
            status=_str_or_none(obj.get("status")),
            schema_version=sv if isinstance(sv, int) else None,
            manifest_lock=_str_or_none(obj.get("manifest_lock")),
            source_manifest_path=_str_or_none(obj.get("source_manifest_path")),
            extra={k: v for k, v in obj.items() if k not in known},
        )
        return True

    def _read_static(self) -> None:
        self.state.plan = self._read_json("plan.json")
        try:
            raw = read_regular(self.path / "manifest.yaml")
            self.state.manifest_text = raw.decode("utf-8", errors="replace")
        except FileNotFoundError:
            pass
        except OSError as exc:
            self._issues("manifest.yaml").unreadable = exc.strerror or str(exc)

    # -- streams -------------------------------------------------------------
    def _read_stream(self, name: str, on_lines: Callable[[list[bytes], int, FileIssues], None]) -> None:
        if self._halted:
            return  # the caller stopped this read (``refresh(progress=…)``): the next one goes on from here
        tail = self.tails[name]
        fname = f"{name}.jsonl"
        issues = self._issues(fname)
        budget = getattr(self, "_budget", None)
        if budget is not None and name == "failures":
            # A failure record costs the assistant ~100x what a task event
            # costs: a smaller slice keeps a sliced refresh's diagnosis quick.
            budget = max(4096, budget // 8)
        first_offset = tail.offset
        split = self._split_job if name == "tasks" and budget is None else None
        if split is not None:
            self._consume(tail, tail.chunks(limit=split.at), on_lines, issues)
            res = split.result() if tail.offset == split.at and not self._halted else None
            split.kill()
            self._split_job = None
            if res is not None:
                from scalable_tui.sources.rundir.split import merge

                merge(self, res, issues)
                chunks = tail.chunks()  # anything appended since
            else:  # the child failed: the back half here, on the same grid of reads
                chunks = tail.chunks(first_read=split.first_read if tail.offset == split.at else None)
        else:
            chunks = tail.chunks() if budget is None else tail.chunks(max(4096, min(budget, 1 << 20)))
        if not self._halted:
            self._consume(tail, chunks, on_lines, issues, budget, first_offset)
            issues.held_back = tail.held_back
        self.state.lines_read[fname] = tail.line_no
        if tail.error:
            issues.unreadable = tail.error
        if not tail.exists and tail.offset == 0:
            self._parquet_fallback(name, on_lines)
        if issues == FileIssues():
            del self.state.issues[fname]

    def _consume(self, tail: JsonlTail, chunks: Generator[list[bytes], None, None],
                 on_lines: Callable[[list[bytes], int, FileIssues], None], issues: FileIssues,
                 budget: int | None = None, first_offset: int = 0) -> None:
        """Hand each chunk to ``on_lines`` (with the number of the line before it) until the stream's end,
        the slice's ``budget`` or the caller's ``progress`` hook says stop; the offset stays after the
        last whole chunk handled."""
        hook = self._progress_hook
        for lines in chunks:
            on_lines(lines, tail.line_no - len(lines), issues)  # the tail counted the chunk's lines already
            if budget is not None and tail.offset - first_offset >= budget:
                chunks.close()
                if tail.pending_bytes() > 0:
                    self._stopped_early = True
                return
            if hook is not None and not hook():
                chunks.close()
                self._halted = self._stopped_early = True
                return

    def _split(self) -> Any:
        tail = self.tails["tasks"]
        if tail.pending_bytes() < (1 << 20):  # tiny: not even worth the import
            return None
        from scalable_tui.sources.rundir import split

        # this process reads the other streams meanwhile: its share of the task events is smaller by that
        others = {name: t.pending_bytes() for name, t in self.tails.items() if name in ("resources", "failures")}
        return split.start(tail, others, sum(t.offset for t in self.tails.values()))

    def _parquet_fallback(self, name: str, on_lines: Callable[[list[bytes], int, FileIssues], None]) -> None:
        """Read ``NAME.parquet`` once when ``NAME.jsonl`` is missing (pyarrow optional)."""
        if name in self.state.parquet_used:
            return
        p = self.path / f"{name}.parquet"
        if not p.exists():
            return
        self.state.parquet_used.append(name)
        try:
            import pyarrow.parquet as pq  # optional extra
        except ImportError:
            self._issues(f"{name}.parquet").unreadable = "pyarrow is not installed (pip install 'scalable-tui[parquet]')"
            return
        try:
            rows = pq.read_table(p).to_pylist()
        except Exception as exc:  # noqa: BLE001 - any parquet damage is a notice, not a crash
            self._issues(f"{name}.parquet").unreadable = f"{type(exc).__name__}: {exc}"
            return
        lines = [orjson.dumps(r, default=str) for r in rows]
        on_lines(lines, 0, self._issues(f"{name}.parquet"))

    @staticmethod
    def _decode(line: bytes, line_no: int, issues: FileIssues) -> dict[str, Any] | None:
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            if not line.strip():
                return None
            if "UTF-8" in str(exc):
                issues.non_utf8 += 1
                issues.note(line_no, "not UTF-8")
            else:
                issues.corrupt += 1
                issues.note(line_no, "not valid JSON")
            return None
        if not isinstance(obj, dict):
            issues.invalid += 1
            issues.note(line_no, "not a JSON object")
            return None
        sv = obj.get("schema_version")
        if isinstance(sv, int) and sv > KNOWN_SCHEMA:
            issues.future_schema += 1
        return obj



def load_run(run_dir: str | Path, *, store_index: bool = True) -> RunState:
    """Read a whole run directory once: big finished runs through the run index (``index/``).

    ``store_index=False``: a valid index entry is still used, but a cold read is not stored (listings
    over many runs would otherwise write ~50 MB per big run and push out the runs the user opens).
    """
    from scalable_tui.sources.rundir.index import load_indexed

    reader = load_indexed(run_dir, store=store_index)
    return reader.state if reader is not None else RunDirReader(run_dir, store_index=store_index).load()

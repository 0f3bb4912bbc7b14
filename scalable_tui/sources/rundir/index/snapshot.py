"""A loaded reader as plain data and back: what makes the second open of a 300k-task run instant.

``marshal`` of lists, dicts, strings and raw array bytes: no code runs when a
snapshot is read (unlike pickle) and 300k ids load in a few milliseconds.
Every field of every dataclass is written, so a field added to the models
later is either carried or (a new name) makes ``FORMAT`` mismatch obvious.
"""

from __future__ import annotations

import marshal
import os
import zlib
from array import array
from dataclasses import fields
from typing import Any, BinaryIO, Callable, Iterator

from scalable_tui.model.bulk import gc_paused
from scalable_tui.model.run import (
    FailureRecord,
    FileIssues,
    ResourceProfile,
    RunMeta,
    RunState,
    TaskTable,
    WorkerEvent,
)
from scalable_tui.sources.rundir.reader import RunDirReader

#: Bump when the snapshot layout or the reader's semantics change: old snapshots are then ignored.
FORMAT = 4

_COLUMNS = ("state", "name", "component", "tag", "function", "submitted_ts", "last_ts", "duration")
_SCALARS = ("summary", "plan", "manifest_text", "cache_hits", "cache_misses", "artifacts", "cost_events",
            "resource_events", "last_event_ts", "first_event_ts", "parquet_used")


def _names(cls: type) -> list[str]:
    return [f.name for f in fields(cls)]


def _row(obj: Any, names: list[str]) -> list[Any]:
    return [getattr(obj, n) for n in names]


def _sections(reader: RunDirReader) -> Iterator[tuple[str, Any]]:
    """The snapshot, one section at a time (each built just before it is written: a low memory peak)."""
    st = reader.state
    t = st.tasks
    yield "format", FORMAT
    yield "fields", [_names(FailureRecord), _names(WorkerEvent), _names(FileIssues), _names(RunMeta),
                     _names(ResourceProfile)]
    yield "run_dir", st.run_dir
    yield "meta", _row(st.meta, _names(RunMeta))
    yield "ids", _sealed(t.ids)  # unmarshalled on first use (``TaskTable.forget_sparse``)
    yield "strings", t.strings.values
    for c in _COLUMNS:
        yield "column", (c, getattr(t, c).typecode, getattr(t, c).tobytes())
    # worker and resource: marshalled apart, unmarshalled on first use (``TaskTable.forget_sparse``)
    yield "worker", _sealed((list(t.worker), list(t.worker.values())))
    yield "error", (list(t.error), [list(v) for v in t.error.values()])
    yield "resource", _sealed((list(t.resource), list(t.resource.values())))
    yield "events", t.events
    fr = _names(FailureRecord)
    failures = []
    for f in st.failures:
        row = _row(f, fr)
        row[fr.index("resources")] = None if f.resources is None else _row(f.resources, _names(ResourceProfile))
        failures.append(row)
    yield "failures", failures
    yield "joined", st.failures_joined()
    # the failures' rows: the reopen's diagnosis looks them up without building the 300k-id map
    row_get = t.row_get
    row_hint = {f.task_id: (-1 if (r := row_get(f.task_id)) is None else r)
                for f in st.failures if f.task_id is not None}
    yield "row_hint", row_hint
    rows = [r for r in row_hint.values() if r >= 0]
    yield "sparse_hint", {"worker": {r: t.worker.get(r) for r in rows}, "resource": {r: t.resource.get(r) for r in rows}}
    yield "worker_events", [_row(w, _names(WorkerEvent)) for w in st.worker_events]
    yield "profiles", [_row(p, _names(ResourceProfile)) for p in st.profiles]
    yield "issues", {k: _row(v, _names(FileIssues)) for k, v in st.issues.items()}
    yield "scalars", {k: getattr(st, k) for k in _SCALARS}
    yield "tails", {k: (v.offset, v.line_no, v._ino, v.exists, v.error) for k, v in reader.tails.items()}
    yield "failed_with_record", sorted(reader._failed_with_record)
    yield "synthetic", reader._synthetic
    yield "profile_index", [list(k) + [v] for k, v in reader._profile_index.items()]
    yield "run_json_mtime", reader._run_json_mtime
    yield "end", True


def dump(reader: RunDirReader, f: BinaryIO) -> None:
    """Write the reader's state to ``f`` as length-prefixed marshal records (one whole read per record)."""
    for section in _sections(reader):
        b = marshal.dumps(section)
        f.write(len(b).to_bytes(8, "little"))
        f.write(b)


def _read(f: BinaryIO) -> dict[str, Any] | None:
    data: dict[str, Any] = {"column": {}}
    size = os.fstat(f.fileno()).st_size
    while True:
        n = int.from_bytes(f.read(8), "little")
        if n > size:
            raise EOFError("snapshot damaged: record longer than the file")
        b = f.read(n)
        if len(b) != n:
            raise EOFError("snapshot cut short")
        key, value = marshal.loads(b)
        del b
        if key == "end":
            return data
        if key == "format" and value != FORMAT:
            return None
        if key == "column":
            data["column"][value[0]] = value[1:]
        else:
            data[key] = value


def load(f: BinaryIO, run_dir: str) -> RunDirReader | None:
    """The reader back, or None when the snapshot is from another format (then rebuild).

    The cyclic GC is paused meanwhile: hundreds of thousands of new objects and
    no cycles, so generation scans would only cost time.
    """
    with gc_paused():
        data = _read(f)
        return None if data is None else _load(data, run_dir)


def _sealed(value: Any) -> tuple[int, bytes]:
    """A section kept marshalled until used, with a checksum: damage is found at the reopen, not at first use."""
    raw = marshal.dumps(value)
    return zlib.adler32(raw), raw


def _lazy(section: Any) -> Callable[[], Any]:
    """A loader for a ``_sealed`` section: checked now, unmarshalled when called."""
    check, raw = section
    if not isinstance(raw, bytes) or zlib.adler32(raw) != check:
        raise ValueError("snapshot damaged: a lazy section does not match its checksum")
    return lambda: marshal.loads(raw)


def _lazy_dict(section: Any) -> Callable[[], dict[int, Any]]:
    """A loader for a ``_sealed`` ``(keys, values)`` section: checked now, unmarshalled when called."""
    load = _lazy(section)

    def build() -> dict[int, Any]:
        keys, values = load()
        return dict(zip(keys, values))

    return build


def _load(data: dict[str, Any], run_dir: str) -> RunDirReader | None:
    expect = [_names(FailureRecord), _names(WorkerEvent), _names(FileIssues), _names(RunMeta),
              _names(ResourceProfile)]
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("fields") != expect:
        return None
    reader = RunDirReader(run_dir)
    t = TaskTable()
    # 300k ids: unmarshalled when first used (the Tasks list, a lookup the hint does not answer)
    t.forget_sparse({"ids": _lazy(data["ids"])}, {})
    # Both maps are built on first use (hashing 300k ids and per-task names again cost 0.07-0.2 s of a
    # reopen, measured): a finished run shown as it is needs neither, except the failures' rows (the hint).
    t.forget_rows(data["row_hint"])
    t.strings.values = data["strings"]
    t.strings.forget_index()
    for c, (code, raw) in data["column"].items():
        a = array(code)
        a.frombytes(raw)
        setattr(t, c, a)
    t.error = {r: tuple(v) for r, v in zip(*data["error"])}  # type: ignore[misc]
    # 300k workers (Dask keys) and profile indices: built when first used (a reopen shown as it is needs only
    # the failures' rows, in the hint); unmarshalling them cost 0.08-0.12 s of the reopen, measured
    t.forget_sparse({"worker": _lazy_dict(data["worker"]), "resource": _lazy_dict(data["resource"])},
                    data["sparse_hint"])
    t.events = data["events"]
    failures = []
    ri = expect[0].index("resources")
    for row in data["failures"]:
        if row[ri] is not None:
            row[ri] = ResourceProfile(*row[ri])
        failures.append(FailureRecord(*row))
    st = RunState(
        # the path as this open was given it, not as the open that stored the snapshot was: the
        # diagnosis, the retry plan's manifest path and the screens name it
        run_dir=reader.state.run_dir,
        meta=RunMeta(*data["meta"]),
        tasks=t,
        failures=failures,
        worker_events=[WorkerEvent(*w) for w in data["worker_events"]],
        profiles=[ResourceProfile(*p) for p in data["profiles"]],
        issues={k: FileIssues(*v) for k, v in data["issues"].items()},
    )
    for k, v in data["scalars"].items():
        setattr(st, k, v)
    for iss in st.issues.values():
        iss.examples = [tuple(e) for e in iss.examples]  # type: ignore[misc]
    if data.get("joined") is True:  # stored after the diagnosis joined them: the reopen's need not
        st.joined_mark = st.join_key()
    reader.state = st
    for k, (offset, line_no, ino, exists, error) in data["tails"].items():
        tail = reader.tails[k]
        tail.offset, tail.line_no, tail._ino, tail.exists, tail.error = offset, line_no, ino, exists, error
    reader._failed_with_record = set(data["failed_with_record"])
    reader._synthetic = data["synthetic"]
    reader._profile_index = {tuple(k[:-1]): k[-1] for k in data["profile_index"]}
    reader._run_json_mtime = st.run_json_mtime = data["run_json_mtime"]
    st.lines_read = {f"{k}.jsonl": t.line_no for k, t in reader.tails.items() if t.exists}
    reader._static_loaded = True
    return reader

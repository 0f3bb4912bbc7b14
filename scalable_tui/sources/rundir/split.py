"""Read the back half of a big ``tasks.jsonl`` in a second process while this one reads the front half.

The reader's hot loop is Python and holds the interpreter; a second core is
only usable from another process.  When a whole read (no ``max_bytes``) meets
more than ``MIN_BYTES`` of unread task events, the unread part is cut at a
chunk end of the sequential read (``JsonlTail.chunk_ends``), a child runs the
same ``TaskLines`` code on the back half (``python -m`` this module) and
sends its table back as ``marshal`` data, and ``merge`` folds it into the
front half's table with the reader's rules:

- a task seen in both halves keeps its front row; the back half's state wins,
  as do its names, last time, duration, worker and error where it set them;
  the first ``submitted`` time is the front half's when it has one;
- new tasks and new strings take rows and codes in the order the back half
  first met them (the order a sequential read gives them);
- issues are counted with line numbers shifted by the front half's lines;
- a failed task without a failure record becomes a synthesised failure, as
  ``TaskLines._synthesize`` does, with the worker known at the end of its
  chunk (the chunks are the sequential read's: both halves read on its grid).

The result is the state a sequential read gives (``tests/test_split_read.py``
compares them, field by field).  Whatever goes wrong with the child (it cannot
start, dies, sends something unreadable, the file was replaced) leaves the
back half to this process, on the same grid: slower, never different.
``SCALABLE_TUI_SPLIT=0`` turns the split off.
"""

from __future__ import annotations

import gc
import itertools
import logging
from array import array
import marshal
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import astuple
from pathlib import Path
from typing import Any, Iterator

from scalable_tui.model.run import FileIssues
from scalable_tui.sources.rundir.jsonl import JsonlTail, complete_end

log = logging.getLogger(__name__)

ENV = "SCALABLE_TUI_SPLIT"
#: Below this many unread bytes of task events the child's start-up (~0.1 s) is not worth it.
MIN_BYTES = 48 << 20
#: Cost per byte of the streams this process reads meanwhile, relative to task events
#: (profiled: resource records are about half as dear, failure records about 1.5 times).
OTHER_COST = {"resources": 0.5, "failures": 1.5}
#: The child's start-up and sending its table back, in bytes of task events (tuned on bench/gen_big_run.py
#: runs: more would idle the child on equal task names, less this process on per-task names).
CHILD_COST = 60 << 20
_COLUMNS = ("state", "name", "component", "tag", "function", "submitted_ts", "last_ts", "duration")


def min_bytes() -> int:
    raw = os.environ.get(ENV + "_MIN_BYTES")
    try:
        return int(raw) if raw else MIN_BYTES
    except ValueError:
        return MIN_BYTES


def enabled() -> bool:
    if (os.environ.get(ENV) or "1").strip() in ("0", "off", "no", "false"):
        return False
    if not sys.executable:
        return False
    try:
        return len(os.sched_getaffinity(0)) >= 2
    except (AttributeError, OSError):
        return (os.cpu_count() or 1) >= 2


#: The directory that holds the ``scalable_tui`` package.
_ROOT = str(Path(__file__).resolve().parents[3])


def _command() -> list[str]:
    """How the child is started (tests start a failing one instead)."""
    return [sys.executable, "-m", "scalable_tui.sources.rundir.split"]


class Split:
    """A running child reading ``[at, end)`` of ``tasks.jsonl``."""

    def __init__(self, tail: JsonlTail, at: int, first_read: int, end: int, ino: int, front_start: int = 0,
                 front_bytes: int = 0) -> None:
        self.at, self.first_read, self.end, self.ino = at, first_read, end, ino
        #: this process's own share of the read (all streams: offsets summed at the start, bytes to read),
        #: for ``RunDirReader.progress_now``
        self.front_start, self.front_bytes = front_start, front_bytes
        self.res: dict[str, Any] | None = None
        self.bad = ""
        self._err = tempfile.TemporaryFile()  # the child's complaints, for the debug log (never a pipe to fill)
        # this very code in the child, whatever else is installed: the package's own root comes first
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(x for x in (_ROOT, env.get("PYTHONPATH")) if x)
        self.proc = subprocess.Popen(
            [*_command(), str(tail.path), str(at), str(first_read), str(end), str(ino)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._err, env=env,
        )
        # read meanwhile, a section at a time: the child never waits on a full pipe, and its sections'
        # bytes are never all in memory at once beside their objects (~30 MB less at the peak)
        self._drain = threading.Thread(target=self._read, name="split read", daemon=True)
        self._drain.start()

    def _read(self) -> None:
        f = self.proc.stdout
        assert f is not None
        res: dict[str, Any] = {}
        try:
            # a table is far smaller than the lines it was read from: a bigger length is not the child's
            limit = max(64 << 20, 4 * (self.end - self.at))
            while head := f.read(8):
                n = int.from_bytes(head, "little")
                if len(head) != 8 or n > limit:
                    raise ValueError(f"not a section header: {head!r}")
                raw = f.read(n)
                if len(raw) != n:
                    raise EOFError("cut short")
                key, value = marshal.loads(raw)
                del raw
                res[key] = value
        except (EOFError, ValueError, TypeError, OSError) as exc:
            self.bad = f"{type(exc).__name__}: {exc}"
            return
        finally:
            f.close()
        self.res = res

    def result(self) -> dict[str, Any] | None:
        """The child's table, or None (then the caller reads the back half itself)."""
        try:
            self._drain.join()
            code = self.proc.wait()
            res, self.res = self.res, None
            if code != 0 or res is None:
                self._err.seek(0)
                log.debug("split read failed (exit %s, %s): %s", code, self.bad, self._err.read()[-500:])
                return None
        finally:
            self.kill()
        ok = res.get("end") == self.end and res.get("ino") == self.ino and _SECTIONS <= res.keys()
        return res if ok else None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._err.close()


def front_share(task_bytes: int, others: dict[str, int]) -> float:
    """The share of the task events this process reads so that both finish together (clamped)."""
    other = sum(OTHER_COST.get(k, 1.0) * v for k, v in others.items())
    return min(0.6, max(0.2, (task_bytes - other + CHILD_COST) / (2 * task_bytes)))


def start(tail: JsonlTail, others: dict[str, int] | None = None, front_start: int = 0) -> Split | None:
    """Start a child on the back part of the unread task events, if that is worth it; None otherwise.

    ``others``: unread bytes of the streams this process reads meanwhile (they shift the cut).
    ``front_start``: the reader's offsets summed now (its progress counts from there).
    """
    if not enabled():
        return None
    try:
        fd = os.open(tail.path, os.O_RDONLY)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if tail._ino is not None and st.st_ino != tail._ino:
            return None  # replaced: the sequential read starts over, not this
        if st.st_size - tail.offset < min_bytes():
            return None
        end, _ = complete_end(fd, st.st_size)  # a partial last line is the sequential read's to hold back
    except OSError:
        return None
    finally:
        os.close(fd)
    if end - tail.offset < min_bytes():
        return None
    share = front_share(end - tail.offset, others or {})
    cut = tail.chunk_ends(tail.offset + int((end - tail.offset) * share))
    if cut is None:
        return None
    at, first_read = cut
    if not tail.offset < at < end:
        return None
    try:
        return Split(tail, at, first_read, end, st.st_ino, front_start,
                     (at - tail.offset) + sum((others or {}).values()))
    except OSError as exc:
        log.debug("split read not started: %s", exc)
        return None


def merge(reader: Any, res: dict[str, Any], issues: FileIssues) -> None:
    """Fold the back half's table (``res``) into ``reader``'s, as a sequential read would have."""
    import numpy as np

    from scalable_tui.sources.rundir.fastpath import _grow

    t = reader.state.tasks
    base = reader.tails["tasks"].line_no
    # strings, in the order the back half met them
    index, values = t.strings.index, t.strings.values
    codes = array("I")  # compact: 450k per-task names as Python ints would be ~16 MB more at the peak
    add = codes.append
    get = index.get
    for v in res.pop("strings"):
        c = get(v)  # None -> 0 (the interner's code for None)
        if c is None:
            c = index[v] = len(values)
            values.append(v)
        add(c)
    cmap = np.frombuffer(codes, dtype=np.uint32)
    # rows: a task the front half saw keeps its row; a new one is appended
    row_of = t.row
    ids = res.pop("ids")
    rows = list(map(row_of.get, ids))
    n0 = len(t.ids)
    new = [i for i, r in enumerate(rows) if r is None]
    prow = np.asarray([-1 if r is None else r for r in rows] if new else rows, dtype=np.intp)
    if new:
        new_ids = [ids[i] for i in new]
        row_of.update(zip(new_ids, range(n0, n0 + len(new))))
        t.ids.extend(new_ids)
        prow[new] = np.arange(n0, n0 + len(new), dtype=np.intp)
    del ids, rows  # the back half's copies of ids the front half had: freed before the maps grow
    # the synthesised failures take the worker known at their chunk's end: the back half's, else the
    # front half's (all of whose events came before); taken before the back half's workers are merged
    worker = t.worker
    synth = []
    for r, tid, ts_s, et, em, w in res["synth"]:
        pr = int(prow[r])
        synth.append((pr, tid, ts_s, et, em, w if w is not None else worker.get(pr)))
    _grow(t, len(new))
    cols = {c: np.frombuffer(res["columns"][c], dtype=np.uint32 if c in _COLUMNS[:5] else np.float64)
            for c in _COLUMNS}
    for c in _COLUMNS[:5]:
        mine = np.asarray(memoryview(getattr(t, c)))
        theirs = cols[c]
        if c == "state":
            mine[prow] = cmap[theirs]
        else:
            m = theirs != 0
            mine[prow[m]] = cmap[theirs[m]]
        del mine
    sub = np.asarray(memoryview(t.submitted_ts))
    m = np.isnan(sub[prow])
    sub[prow[m]] = cols["submitted_ts"][m]
    del sub
    for c in ("last_ts", "duration"):
        mine = np.asarray(memoryview(getattr(t, c)))
        theirs = cols[c]
        m = ~np.isnan(theirs)
        mine[prow[m]] = theirs[m]
        del mine
    keys, workers = res.pop("worker")
    worker.update(zip(prow[keys].tolist(), workers))
    del keys, workers
    keys, errors = res.pop("error")
    t.error.update(zip(prow[keys].tolist(), map(tuple, errors)))
    t.events += res["events"]
    for ts in res["ts"]:
        reader._seen_ts(ts)
    theirs_issues = FileIssues(*res["issues"])
    for name in ("corrupt", "non_utf8", "invalid", "fields_ignored", "future_schema"):
        setattr(issues, name, getattr(issues, name) + getattr(theirs_issues, name))
    for line_no, why in theirs_issues.examples:
        issues.note(base + line_no, why)
    reader._synthesize_with(synth)
    tail = reader.tails["tasks"]
    tail.offset = res["end"]
    tail.line_no = base + res["lines"]


# ----------------------------------------------------------------------------- the child
#: What the child sends, one length-prefixed ``marshal`` record each.
_SECTIONS = frozenset({"end", "ino", "lines", "events", "ts", "issues", "synth", "strings", "ids", "columns", "worker",
                       "error"})


def _child(path: str, at: int, first_read: int, end: int, ino: int) -> Iterator[tuple[str, Any]]:
    from scalable_tui.sources.rundir.reader import RunDirReader

    reader = RunDirReader(Path(path).parent, store_index=False)
    t = reader.state.tasks
    synth: list[tuple[Any, ...]] = []

    def collect(new_failed: list[tuple[int, str, Any, Any, Any]]) -> None:
        worker_get = t.worker.get
        synth.extend((r, tid, ts_s, et, em, worker_get(r)) for r, tid, ts_s, et, em in new_failed)

    reader._synthesize = collect  # type: ignore[method-assign]
    tail = reader.tails["tasks"]
    tail.offset = at
    issues = FileIssues()
    start = 0
    for lines in tail.chunks(first_read=first_read, limit=end):
        reader._on_task_lines(lines, start, issues)
        start = tail.line_no
    if tail.error or tail.offset != end or tail._ino != ino:
        raise OSError(f"read stopped at {tail.offset} of {end}: {tail.error or 'another file'}")
    st = reader.state
    # small sections first; each big one is built just before it is written
    yield "end", end
    yield "ino", ino
    yield "lines", tail.line_no
    yield "events", t.events
    yield "ts", [x for x in (st.first_event_ts, st.last_event_ts) if x is not None]
    yield "issues", astuple(issues)
    yield "synth", synth
    yield "strings", t.strings.values
    yield "ids", t.ids
    yield "columns", {c: getattr(t, c).tobytes() for c in _COLUMNS}
    yield "worker", (list(t.worker), list(t.worker.values()))
    yield "error", (list(t.error), [list(v) for v in t.error.values()])


def main(argv: list[str]) -> int:
    gc.disable()  # many small objects, no cycles (as RunDirReader.refresh)
    path, at, first_read, end, ino = argv[0], int(argv[1]), int(argv[2]), int(argv[3]), int(argv[4])
    out = sys.stdout.buffer
    sections = _child(path, at, first_read, end, ino)
    try:
        first = next(sections)  # the whole read happens here, before any byte is sent
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"{type(exc).__name__}: {exc}\n")
        return 2
    for section in itertools.chain((first,), sections):
        raw = marshal.dumps(section)
        out.write(len(raw).to_bytes(8, "little"))
        out.write(raw)
        del raw
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

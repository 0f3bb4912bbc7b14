"""The second half of a big ``tasks.jsonl``, parsed by a second process.

Why: the reader's hot loop is pure Python and CPU-bound; on the 2-core
machines our users open runs on, a second interpreter parsing the tail of the
file while the first one reads the rest nearly halves a full load.  The
child gets a line-aligned byte range, runs the very same per-line code
(``RunDirReader._on_task_lines``) on a private table and pickles it back; the
parent merges it as if it had read those lines itself (see
``RunDirReader._merge_part``).  Anything unexpected (the child fails, is
killed, the file was replaced) makes the parent read the range itself, so a
split load is never less correct than a plain one, only sometimes not faster.

A fresh interpreter (not ``fork``): the TUI calls the reader from a thread,
and forking a threaded process can deadlock the child.  It imports only
orjson and this package (~50 ms), and is started before the parent reads
resources.jsonl so its start-up overlaps useful work.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Below this many unread bytes a second process is not worth its start-up.
PARALLEL_MIN_BYTES = 48 << 20
_WINDOW = 1 << 16
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


def _line_start_at_or_after(f: Any, pos: int, limit: int) -> int | None:
    """First byte after a newline at or after ``pos`` (None when none before ``limit``)."""
    while pos < limit:
        f.seek(pos)
        data = f.read(min(_WINDOW, limit - pos))
        if not data:
            return None
        i = data.find(b"\n")
        if i >= 0:
            return pos + i + 1
        pos += len(data)
    return None


def _line_end_before(f: Any, size: int, floor: int) -> int | None:
    """Byte after the last newline before ``size`` (so a partial last line stays unread)."""
    pos = size
    while pos > floor:
        lo = max(floor, pos - _WINDOW)
        f.seek(lo)
        data = f.read(pos - lo)
        i = data.rfind(b"\n")
        if i >= 0:
            return lo + i + 1
        pos = lo
    return None


@dataclass
class Split:
    """One running child and the range it owns: ``[mid, end)`` of ``path``."""

    path: Path
    mid: int
    end: int
    proc: subprocess.Popen[bytes] | None = None

    def collect(self, timeout: float) -> dict[str, Any] | None:
        """The child's table, or None when it failed (the caller then reads the range)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            return None
        if proc.returncode != 0 or not out:
            return None
        try:
            part = pickle.loads(out)
        except Exception:  # noqa: BLE001 - a damaged answer is the same as no answer
            return None
        if not isinstance(part, dict) or part.get("offset") != self.end:
            return None
        return part

    def close(self) -> None:
        """Kill a child whose answer is no longer wanted (error or cancel in the parent)."""
        proc, self.proc = self.proc, None
        if proc is not None:
            proc.kill()
            proc.communicate()


def plan(path: Path, start: int, other_bytes: int) -> Split | None:
    """Choose a line-aligned ``[mid, end)`` for a child, balancing the two processes.

    ``other_bytes`` is what the parent reads besides tasks (resources,
    failures): the child takes a larger share of tasks.jsonl to match.
    """
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            pending = size - start
            if pending < PARALLEL_MIN_BYTES:
                return None
            # Parent work in task-byte equivalents: other streams cost about as
            # much per byte, and merging the child's rows costs ~10% of a read.
            share = (pending + other_bytes + 0.1 * pending) / 2
            child = int(min(0.8 * pending, max(0.2 * pending, share)))
            end = _line_end_before(f, size, start)
            if end is None:
                return None
            mid = _line_start_at_or_after(f, max(start, end - child), end)
            if mid is None or mid >= end:
                return None
            ino = os.fstat(f.fileno()).st_ino
    except OSError:
        return None
    env = dict(os.environ)
    env["PYTHONPATH"] = _PACKAGE_ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "scalable_tui.sources.tasks_part", str(path), str(mid), str(end), str(ino)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
        )
    except OSError:
        return None
    return Split(path=path, mid=mid, end=end, proc=proc)


def parse_range(path: Path, start: int, end: int, ino: int | None = None) -> dict[str, Any]:
    """Child side: the task table of ``[start, end)``; line numbers count from ``start``."""
    from scalable_tui.models import FileIssues
    from scalable_tui.sources.rundir import RunDirReader

    reader = RunDirReader(path.parent, parallel=False)
    failed: list[tuple[int, str, Any, Any, Any]] = []
    reader._failed_sink = failed.extend  # the parent synthesises failures: it knows failures.jsonl
    tail = reader.tails["tasks"]
    tail.offset = start
    issues = FileIssues()
    reader.state.issues["tasks.jsonl"] = issues
    import gc

    gc.disable()
    for lines in tail.chunks(end=end):
        reader._on_task_lines(lines, tail.line_no - len(lines), issues)
    if tail.error or (ino is not None and tail._ino != ino):
        raise OSError(tail.error or "tasks.jsonl was replaced")
    t = reader.state.tasks
    return {
        "offset": tail.offset,
        "lines": tail.line_no,
        "ids": t.ids,
        "strings": t.strings.values,
        "columns": [t.state, t.name, t.component, t.tag, t.function, t.submitted_ts, t.last_ts, t.duration],
        "worker": t.worker,
        "error": t.error,
        "events": t.events,
        "ts": (reader.state.first_event_ts, reader.state.last_event_ts),
        "issues": issues,
        "failed": failed,
    }


def main(argv: list[str]) -> int:
    path, start, end, ino = Path(argv[0]), int(argv[1]), int(argv[2]), int(argv[3])
    part = parse_range(path, start, end, ino)
    sys.stdout.buffer.write(pickle.dumps(part, protocol=pickle.HIGHEST_PROTOCOL))
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

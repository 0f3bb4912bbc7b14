"""The split read (``sources/rundir/split.py``): a second process reads the back half of tasks.jsonl.

The state must be the one a sequential read gives, to the last field: rows and
their order, string codes, every column, workers, errors, issues with their
line numbers, synthesised failures with the worker known at their chunk's end.
Runs are written by ``bench/gen_big_run.py`` (Scalable's exact line format) and
then damaged in every way the reader tolerates, across the cut.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from dataclasses import asdict, astuple
from pathlib import Path
from typing import Any

import pytest

from scalable_tui.sources.rundir import split
from scalable_tui.sources.rundir.reader import RunDirReader

ROOT = Path(__file__).resolve().parent.parent


def _generate(base: Path, *extra: str, tasks: int = 16000) -> Path:
    subprocess.run([sys.executable, str(ROOT / "bench" / "gen_big_run.py"), str(base), "--tasks", str(tasks),
                    "--fail-every", "7", *extra], check=True, stdout=subprocess.DEVNULL)
    return next(base.glob("run-*"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("split-runs")
    equal = _generate(base / "equal")
    varied = _generate(base / "varied", "--varied", tasks=12000)
    damaged = base / "damaged" / equal.name
    shutil.copytree(equal, damaged)
    _damage(damaged / "tasks.jsonl", seed=7)
    return {"equal": equal, "varied": varied, "damaged": damaged}


def _task_line(tid: str, state: str, **fields: Any) -> bytes:
    obj = {"component": "gcam", "duration_s": None, "error_message": None, "error_type": None, "event_type": "task",
           "function_name": "run_gcam", "requested_workers": 1, "run_id": "r", "schema_version": 1, "state": state,
           "tag": "gcam", "task_id": tid, "task_name": "run_gcam", "timestamp": "2026-11-23T22:00:05Z",
           "worker": None}
    obj.update(fields)
    return json.dumps(obj, sort_keys=True).encode()


def _damage(path: Path, seed: int) -> None:
    """Every kind of line the reader skips, counts or synthesises from, spread so that the cut matters.

    - Synthesised failures in pairs: a ``failed`` line without a worker, then 1-3 lines later one with
      the worker.  Whether the failure gets it depends on both lines being in one chunk: with a pair
      every few lines, some straddle every chunk end, so both halves must read on the sequential
      read's grid of chunks.
    - Tasks met early with a worker, a name and a duration, failing (no record, no worker, no name, no
      time) half a file later: the failure takes the early worker, the row keeps the early values.
    - Damaged lines: a few near the start, the rest in the last quarter (the child's), so the five
      examples kept per file come from both halves and their line numbers must be shifted.
    """
    rnd = random.Random(seed)
    lines = path.read_bytes().split(b"\n")[:-1]
    n = len(lines)
    out: list[bytes] = []
    later: dict[int, list[bytes]] = {}
    for i, line in enumerate(lines):
        out.append(line)
        out.extend(later.pop(i, []))
        if i % 7 == 3:
            tid = f"synth-{i}"
            out.append(_task_line(tid, "failed", error_type="OSError", error_message=f"disk {i}"))
            later.setdefault(i + rnd.randint(1, 3), []).append(
                _task_line(tid, "failed", worker=f"tcp://10.0.0.{i % 250}:4000", error_type="OSError"))
        if i % 101 == 7 and i < 0.3 * n:
            tid = f"span-{i}"
            out.append(_task_line(tid, "running", worker=f"tcp://span-{i}:4000", task_name="span_task",
                                  duration_s=1.5))
            later.setdefault(i + n // 2, []).append(
                _task_line(tid, "failed", task_name=None, component=None, error_type="KeyError", timestamp=None))
        kind = i % 997 if (i < 30 or i > 0.75 * n) else -1
        if kind == 11:
            out.append(b'{"task_id": "cut-off", "state": "runn')
        elif kind == 23:
            out.append(b'{"task_id": "\xff\xfe", "state": "running"}')
        elif kind == 31:
            out.append(_task_line(f"typed-{i}", "running", task_name=12, duration_s="long"))
        elif kind == 41:
            out.append(b"   ")
        elif kind == 53:
            out.append(_task_line(f"future-{i}", "running", schema_version=99))
        elif kind == 61:
            out.append(b"[1, 2, 3]")
    # two lines longer than a chunk (1 MiB): a chunk that ends in no newline, around the middle
    mid = len(out) // 2
    for at in (mid, mid + 3):
        out.insert(at, _task_line(f"huge-{at}", "failed", error_type="ValueError", error_message="x" * (1 << 20 | 77)))
    out.append(_task_line("latest", "running", timestamp="2026-11-24T09:00:00Z"))  # the run's last moment
    path.write_bytes(b"\n".join(out) + b"\n" + b'{"task_id": "partial", "state": "run')  # a partial last line


def s_line(run: Path, offset: int) -> int:
    """The line number the byte offset starts."""
    with open(run / "tasks.jsonl", "rb") as f:
        return f.read(offset).count(b"\n") + 1


def whole_state(reader: RunDirReader) -> dict[str, Any]:
    st = reader.state
    t = st.tasks
    return {
        "ids": list(t.ids),
        "strings": list(t.strings.values),
        "columns": {c: getattr(t, c).tobytes() for c in ("state", "name", "component", "tag", "function",
                                                            "submitted_ts", "last_ts", "duration")},
        "row": dict(t.row),
        "worker": dict(t.worker),
        "error": dict(t.error),
        "resource": dict(t.resource),
        "events": t.events,
        "failures": [astuple(f) for f in st.failures],
        "profiles": [astuple(p) for p in st.profiles],
        "issues": {k: asdict(v) for k, v in st.issues.items()},
        "ts": (st.first_event_ts, st.last_event_ts),
        "lines_read": dict(st.lines_read),
        "tails": {k: (v.offset, v.line_no) for k, v in reader.tails.items()},
        "synthetic": dict(reader._synthetic),
    }


def read(run: Path, monkeypatch: pytest.MonkeyPatch, *, split_on: bool) -> tuple[dict[str, Any], list[Any]]:
    """The whole state of one read, and the splits it started."""
    started: list[Any] = []
    real = split.Split.__init__

    def spy(self: Any, *a: Any, **k: Any) -> None:
        real(self, *a, **k)
        started.append(self)

    with monkeypatch.context() as m:
        m.setenv("SCALABLE_TUI_READER", "python")
        m.setenv(split.ENV, "1" if split_on else "0")
        m.setenv(split.ENV + "_MIN_BYTES", str(1 << 20))
        m.setattr(split.Split, "__init__", spy)
        m.setattr(split, "enabled", lambda: split_on)  # one core here would turn it off
        reader = RunDirReader(run)
        reader.load()
    return whole_state(reader), started


@pytest.mark.parametrize("shape", ["equal", "varied", "damaged"])
def test_the_split_read_gives_the_sequential_state(runs: dict[str, Path], shape: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    seq, none = read(runs[shape], monkeypatch, split_on=False)
    par, started = read(runs[shape], monkeypatch, split_on=True)
    assert none == [] and len(started) == 1
    s = started[0]
    assert 0 < s.at < s.end and s.proc.returncode == 0  # the child did its half
    for key in seq:
        assert par[key] == seq[key], key
    if shape == "damaged":
        iss = par["issues"]["tasks.jsonl"]
        assert iss["corrupt"] > 5 and iss["non_utf8"] > 5 and iss["invalid"] > 5 and iss["fields_ignored"] > 5
        assert iss["future_schema"] > 5
        examples = [line for line, _ in iss["examples"]]
        assert len(examples) == 5 and examples[1] < 100 < s_line(runs[shape], s.at) < examples[-1]
        texts = [" ".join(str(x) for x in f) for f in seq["failures"]]
        pairs = [x for x in texts if "synth-" in x]
        # both outcomes of the chunk-end rule occur, so the grid was checked on both sides of the cut
        assert len(pairs) > 1000 and 0 < sum("tcp://10.0.0." in x for x in pairs) < len(pairs)
        # the early worker, for failures the child read
        assert sum("tcp://span-" in x for x in texts) == sum("span-" in x for x in texts if "KeyError" in x) > 5


def test_a_failing_child_leaves_the_back_half_to_the_reader(runs: dict[str, Path],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    seq, _ = read(runs["damaged"], monkeypatch, split_on=False)
    crashed: list[Any] = []
    monkeypatch.setattr(threading, "excepthook", crashed.append)
    section = "import marshal,sys; o=sys.stdout.buffer; r=marshal.dumps(('end', 1)); o.write(len(r).to_bytes(8,'little'))"
    for command in (["/bin/false"], [sys.executable, "-c", "print('not marshal')"],
                    [sys.executable, "-c", "import marshal,sys; sys.stdout.buffer.write(marshal.dumps({'end': 1}))"],
                    [sys.executable, "-c", section + "; o.write(r[:-1])"],  # a section cut short
                    [sys.executable, "-c", section + "; o.write(r)"]):  # a well-formed section, but not the rest
        monkeypatch.setattr(split, "_command", lambda c=command: c)
        par, started = read(runs["damaged"], monkeypatch, split_on=True)
        assert len(started) == 1 and started[0].proc.returncode is not None
        assert par == seq, command
    assert crashed == []  # the reading thread said what was wrong, it did not die of it


def test_the_child_is_stopped_when_the_read_fails(runs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Any] = []
    real = split.Split.__init__

    def spy(self: Any, *a: Any, **k: Any) -> None:
        real(self, *a, **k)
        started.append(self)

    def boom(*a: Any) -> None:
        raise RuntimeError("reader bug")

    monkeypatch.setenv("SCALABLE_TUI_READER", "python")
    monkeypatch.setenv(split.ENV + "_MIN_BYTES", str(1 << 20))
    monkeypatch.setattr(split, "enabled", lambda: True)
    monkeypatch.setattr(split.Split, "__init__", spy)
    # a child that would take long: the read must not wait for it, nor leave it running
    monkeypatch.setattr(split, "_command", lambda: [sys.executable, "-c", "import time; time.sleep(600)"])
    reader = RunDirReader(runs["equal"])
    monkeypatch.setattr(reader, "_on_task_lines", boom)
    with pytest.raises(RuntimeError, match="reader bug"):
        reader.load()
    assert len(started) == 1 and started[0].proc.poll() is not None


def test_small_or_sliced_reads_do_not_split(runs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCALABLE_TUI_READER", "python")
    monkeypatch.setattr(split, "enabled", lambda: True)
    monkeypatch.setattr(split.Split, "__init__", lambda *a, **k: pytest.fail("split started"))
    RunDirReader(runs["equal"]).load()  # 25 MB of task events: below the default threshold
    monkeypatch.setenv(split.ENV + "_MIN_BYTES", str(1 << 20))
    reader = RunDirReader(runs["equal"])
    while reader.refresh(max_bytes=8 << 20).more:  # the review app's slices: never split
        pass


def test_the_share_keeps_both_processes_busy() -> None:
    # this process also reads resources and failures: it takes less of the task events
    alone = split.front_share(400 << 20, {})
    busy = split.front_share(400 << 20, {"resources": 120 << 20, "failures": 8 << 20})
    assert 0.5 < alone <= 0.6 and 0.2 <= busy < alone
    assert split.front_share(400 << 20, {"resources": 4000 << 20}) == 0.2


def test_the_review_app_s_load_splits_reports_progress_and_gives_the_same_state(
        runs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """The review session reads a first slice, then the rest in one read with a progress hook: split."""
    from scalable_tui.session.review import FIRST_SLICE, ReviewSession

    monkeypatch.setenv("SCALABLE_TUI_READER", "python")
    monkeypatch.setenv(split.ENV + "_MIN_BYTES", str(1 << 20))
    monkeypatch.setattr(split, "enabled", lambda: False)
    ref = RunDirReader(runs["damaged"])  # the same read without the split: a first slice, then the rest
    ref.refresh(max_bytes=FIRST_SLICE)
    ref.refresh()
    started: list[Any] = []
    real = split.Split.__init__

    def spy(self: Any, *a: Any, **k: Any) -> None:
        real(self, *a, **k)
        started.append(self)

    monkeypatch.setattr(split, "enabled", lambda: True)
    monkeypatch.setattr(split.Split, "__init__", spy)
    monkeypatch.setattr("scalable_tui.session.review.PROGRESS_EVERY", 0.0)
    reader = RunDirReader(runs["damaged"])
    fractions: list[float] = []
    views: list[Any] = []
    ReviewSession(reader).run(views.append, fractions.append)
    assert len(started) == 1 and started[0].proc.returncode == 0
    from assistant.grouping import join_failures

    join_failures(ref.state)  # the session diagnosed its state: each failure got its task's name, …
    assert whole_state(reader) == whole_state(ref)
    assert views[0].run.loading is not None and views[-1].run.loading is None
    assert len(views[-1].run.tasks) == len(ref.state.tasks)
    # the bar moves through the child's half too (counted as read as far as this process read its own)
    assert fractions == sorted(fractions) and len(fractions) > 5 and 0 < fractions[0] < 0.5 and 0.85 < fractions[-1] <= 1
    assert max(b - a for a, b in zip(fractions, fractions[1:])) < 0.2  # no jump when the child's half lands


def test_a_cancelled_load_stops_at_a_chunk_end_and_reads_on_correctly(
        runs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCALABLE_TUI_READER", "python")
    monkeypatch.setenv(split.ENV + "_MIN_BYTES", str(1 << 20))
    monkeypatch.setattr(split, "enabled", lambda: True)
    seq, _ = read(runs["equal"], monkeypatch, split_on=False)
    started: list[Any] = []
    real = split.Split.__init__

    def spy(self: Any, *a: Any, **k: Any) -> None:
        real(self, *a, **k)
        started.append(self)

    monkeypatch.setattr(split.Split, "__init__", spy)
    reader = RunDirReader(runs["equal"])
    calls: list[float] = []

    def hook() -> bool:
        calls.append(reader.progress_now())
        return len(calls) < 12  # stop after 12 chunks: inside the task events, before the cut

    res = reader.refresh(progress=hook)
    assert res.more and len(calls) == 12 and started and started[0].proc.poll() is not None
    tail = reader.tails["tasks"]
    assert 0 < tail.offset < started[0].at  # stopped in this process's half; the child's work dropped
    assert reader.tails["workers"].offset == 0  # and the streams after it were not read
    assert not reader.refresh().more  # the next read goes on from there
    assert whole_state(reader) == seq

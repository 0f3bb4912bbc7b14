"""Property tests: whatever the bytes, the reader neither crashes nor loses count,
and reading in pieces gives the same state as reading at once."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scalable_tui.sources.rundir.reader import RunDirReader, load_run

STATES = ["submitted", "running", "succeeded", "failed", "cancelled"]


def _event(i: int, state: str, tid: int) -> bytes:
    ev = {
        "component": "gcam", "duration_s": None if state in ("submitted", "running") else 1.5 + i,
        "error_message": "boom" if state == "failed" else None, "error_type": "ValueError" if state == "failed" else None,
        "event_type": "task", "function_name": "run_gcam", "requested_workers": 1, "run_id": "run-x",
        "schema_version": 1, "state": state, "tag": "gcam", "task_id": f"{tid:032x}", "task_name": "run_gcam",
        "timestamp": f"2026-11-23T08:{i // 60 % 60:02d}:{i % 60:02d}Z", "worker": None,
    }
    return json.dumps(ev, sort_keys=True).encode() + b"\n"


events = st.lists(st.tuples(st.sampled_from(STATES), st.integers(0, 15)), min_size=1, max_size=60)
junk = st.one_of(
    st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"") + b"\n"),
    st.just(b"\n"),
    st.just(b"\xff\xfe\n"),
    st.just(b'{"task_id": 5, "state": "failed"}\n'),
    st.just(b"[]\n"),
)


def _write(d: Path, data: bytes) -> Path:
    run = d / "run-20261123T080000Z-p-00000000"
    run.mkdir(exist_ok=True)
    (run / "tasks.jsonl").write_bytes(data)
    return run


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(evs=events, noise=st.lists(st.tuples(st.integers(0, 60), junk), max_size=8), cut=st.integers(0, 200))
def test_corrupted_input_never_crashes_and_everything_is_accounted_for(evs, noise, cut) -> None:
    lines = [_event(i, s, t) for i, (s, t) in enumerate(evs)]
    for pos, j in noise:
        lines.insert(min(pos, len(lines)), j)
    data = b"".join(lines)
    partial = _event(999, "failed", 99)[: cut % 80]  # a writer killed mid-line
    with tempfile.TemporaryDirectory() as tmp:
        run = _write(Path(tmp), data + partial)
        state = load_run(run)
        iss = state.issues.get("tasks.jsonl")
        skipped = (iss.corrupt + iss.non_utf8 + iss.invalid) if iss else 0
        blank = sum(1 for ln in lines if not ln.strip())
        assert state.tasks.events + skipped + blank == len(lines)
        # the last event of each task id is its state
        expected: dict[str, str] = {}
        for s, t in evs:
            expected[f"{t:032x}"] = s
        got = {tid: state.tasks.state_of(r) for tid, r in state.tasks.row.items() if len(tid) == 32}
        assert {k: v for k, v in got.items() if k in expected} == expected
        assert f"{99:032x}" not in state.tasks.row  # the partial line is held back


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(evs=events, splits=st.lists(st.integers(0, 10_000), max_size=6))
def test_reading_in_pieces_equals_reading_at_once(evs, splits) -> None:
    data = b"".join(_event(i, s, t) for i, (s, t) in enumerate(evs))
    cuts = sorted({c % (len(data) + 1) for c in splits}) + [len(data)]
    with tempfile.TemporaryDirectory() as tmp:
        run = _write(Path(tmp), b"")
        reader = RunDirReader(run)
        reader.load()
        written = 0
        for c in cuts:
            with (run / "tasks.jsonl").open("ab") as f:
                f.write(data[written:c])
            written = c
            reader.refresh()
        whole = load_run(run)
        assert reader.state.tasks.counts_by_state() == whole.tasks.counts_by_state()
        assert reader.state.tasks.events == whole.tasks.events == len(evs)
        assert [f.task_id for f in reader.state.failures] == [f.task_id for f in whole.failures]
        assert sorted(reader.state.tasks.durations()) == sorted(whole.tasks.durations())
        assert reader.state.notices() == whole.notices() == []

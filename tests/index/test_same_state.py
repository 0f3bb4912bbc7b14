"""The engine's RunState equals the Python reader's (the reference) on every kind of run."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.index.helpers import assert_same, engine_reader

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_RUNS = sorted(p for p in (ROOT / "fixtures" / "runs").glob("*/run-*") if p.is_dir())
SAMPLES = sorted((ROOT / "fixtures" / "runs" / "gcam-stitches").glob("run-*"))  # the real Scalable sample, committed


@pytest.mark.parametrize("run", FIXTURE_RUNS, ids=lambda p: p.parent.name)
def test_every_fixture(run: Path) -> None:
    assert_same(run)


@pytest.mark.skipif(not SAMPLES, reason="the committed sample run is missing")
@pytest.mark.parametrize("run", SAMPLES, ids=lambda p: p.name)
def test_sample_run(run: Path) -> None:
    assert_same(run, expect_engine=True)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Generated runs (equal names; per-task names and varied fields) and a damaged one."""
    base = tmp_path_factory.mktemp("gen")
    out = {}
    for shape, extra in (("equal", []), ("varied", ["--varied"])):
        d = base / shape
        subprocess.run([sys.executable, str(ROOT / "bench" / "gen_big_run.py"), str(d), "--tasks", "6000", *extra],
                       check=True, stdout=subprocess.DEVNULL)
        out[shape] = next(d.glob("run-*"))
    nasty = subprocess.run([sys.executable, str(ROOT / "bench" / "state_fingerprint.py"), "nasty", str(base / "nasty")],
                           check=True, capture_output=True, text=True).stdout.strip()
    out["nasty"] = Path(nasty)
    return out


@pytest.mark.parametrize("shape", ["equal", "varied"])
def test_generated_runs_are_certified_by_the_engine(generated: dict[str, Path], shape: str) -> None:
    got = assert_same(generated[shape], expect_engine=True)
    assert got is not None and len(got.state.tasks) == 6000


def test_damaged_run_same_answer_and_bad_lines_numbered(generated: dict[str, Path]) -> None:
    """Corrupt, non-UTF-8, wrong-typed, escaped, blank, future-schema lines and a partial last line."""
    got = assert_same(generated["nasty"], expect_engine=True)
    assert got is not None
    iss = got.state.issues["tasks.jsonl"]
    assert iss.corrupt and iss.non_utf8 and iss.invalid and iss.future_schema and iss.fields_ignored
    assert all(n > 0 for n, _ in iss.examples)


STATES = ["submitted", "running", "succeeded", "failed", "cancelled"]


def _event(i: int, state: str, tid: int, *, name: str = "run_gcam", worker: str | None = None) -> bytes:
    ev = {
        "component": "gcam", "duration_s": None if state in ("submitted", "running") else 1.5 + i,
        "error_message": "boom" if state == "failed" else None, "error_type": "ValueError" if state == "failed" else None,
        "event_type": "task", "function_name": "run_gcam", "requested_workers": 1, "run_id": "run-x",
        "schema_version": 1, "state": state, "tag": "gcam", "task_id": f"{tid:032x}", "task_name": name,
        "timestamp": f"2026-11-23T08:{i // 60 % 60:02d}:{i % 60:02d}Z", "worker": worker,
    }
    return json.dumps(ev, sort_keys=True).encode() + b"\n"


junk = st.one_of(
    st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"") + b"\n"),
    st.just(b"\n"),
    st.just(b"  \t\n"),
    st.just(b"\xff\xfe\n"),
    st.just(b'{"task_id": 5, "state": "failed"}\n'),
    st.just(b"[]\n"),
    # what the engine alone would accept but orjson rejects or reads differently
    st.just(b'{"task_id": "00000000000000000000000000000003", "state": "failed",}\n'),
    st.just(b'{"task_id": "00000000000000000000000000000004", "state": NaN}\n'),
    st.just(b'{"task_id": "00000000000000000000000000000001", "state": "running", "state": "cancelled"}\n'),
    st.just(b'{"task_id": "00000000000000000000000000000002", "state": "running", "duration_s": 1e400}\n'),
    st.just(b'{"task_id": "0000000000000000000000000000000\\u0035", "state": "succeeded"}\n'),
    st.just(b'{"task_id": "00000000000000000000000000000006", "state": "failed", "error_message": {"a": 1}}\n'),
    st.just(b'{"task_id": "00000000000000000000000000000007", "state": "x", "timestamp": "not a time"}\n'),
)


def _mutate(line: bytes, how: int) -> bytes:
    """Same-length or near-canonical damage to a real line (the cases a length check must not wave through)."""
    if how == 0:
        return line.replace(b'"tag": "gcam"', b'"tag": 12345', 1)
    if how == 1:
        return line.replace(b'"schema_version": 1', b'"schema_version": 2', 1)
    if how == 2:
        return line.replace(b'"worker": null', b'"worker": 12345', 1)
    if how == 3:
        return line.replace(b'"duration_s": null', b'"duration_s": -1.0', 1)
    if how == 4:
        return line.replace(b'"task_name": "run_gcam"', b'"task_name": "run_g\\u0041m"', 1)
    return line.replace(b", ", b",", 1)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(evs=st.lists(st.tuples(st.sampled_from(STATES), st.integers(0, 15)), min_size=1, max_size=60),
       noise=st.lists(st.tuples(st.integers(0, 60), junk), max_size=8),
       mutations=st.lists(st.tuples(st.integers(0, 60), st.integers(0, 5)), max_size=4),
       cut=st.integers(0, 200), with_resources=st.booleans())
def test_hypothesis_corrupted_runs(evs, noise, mutations, cut, with_resources) -> None:
    lines = [_event(i, s, t, worker=f"w{i}" if i % 3 == 0 else None) for i, (s, t) in enumerate(evs)]
    for pos, how in mutations:
        if lines:
            k = min(pos, len(lines) - 1)
            lines[k] = _mutate(lines[k], how)
    for pos, j in noise:
        lines.insert(min(pos, len(lines)), j)
    partial = _event(999, "failed", 99)[: cut % 80]
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run-20261123T080000Z-p-00000000"
        run.mkdir()
        (run / "tasks.jsonl").write_bytes(b"".join(lines) + partial)
        if with_resources:
            res = [json.dumps({"component": "gcam", "entity_id": f"{t:032x}", "entity_type": "task",
                               "event_type": "resource", "observed_cpu": None, "observed_memory_gb": None,
                               "provider": "local", "requested_cpus": 4 if t % 2 else 4.0, "requested_memory": "16G",
                               "requested_walltime": None, "requested_workers": 1, "run_id": "run-x",
                               "schema_version": 1, "timestamp": "2026-11-23T08:00:00Z"}, sort_keys=True).encode()
                   for _, t in evs]
            (run / "resources.jsonl").write_bytes(b"\n".join(res) + b"\n")
        assert_same(run)


def test_engine_refuses_what_it_cannot_line_up(tmp_path: Path) -> None:
    """A carriage return splits lines differently in the engine: the Python reader takes the run."""
    run = tmp_path / "run-20261123T080000Z-p-00000000"
    run.mkdir()
    (run / "tasks.jsonl").write_bytes(_event(1, "running", 1).replace(b"\n", b"\r\n") + _event(2, "failed", 2))
    assert engine_reader(run) is None


@pytest.mark.parametrize("shape", ["equal", "varied"])
def test_large_generated_run_without_failure_records(tmp_path: Path, shape: str) -> None:
    """40k tasks (~50 MB, dozens of 1 MB read chunks) with failures.jsonl gone: every failed task is
    synthesised from its task event, with the worker known at the end of its chunk, as the Python reader does."""
    subprocess.run([sys.executable, str(ROOT / "bench" / "gen_big_run.py"), str(tmp_path), "--tasks", "40000",
                    *(["--varied"] if shape == "varied" else [])], check=True, stdout=subprocess.DEVNULL)
    run = next(tmp_path.glob("run-*"))
    (run / "failures.jsonl").unlink()
    got = assert_same(run, expect_engine=True)
    assert got is not None and got.state.failed_tasks_without_record() == 2000


def test_synthesised_failure_takes_the_worker_known_at_the_end_of_its_read_chunk(tmp_path: Path) -> None:
    """The Python reader synthesises a failure after each 1 MB chunk: a later event's worker counts only
    when it is in the same chunk.  The engine must reproduce that, not "the last worker"."""
    run = tmp_path / "run-20261123T080000Z-p-00000000"
    run.mkdir()
    lines = [_event(0, "failed", 1, worker="w-early"), _event(1, "running", 1, worker="w-same-chunk"),
             _event(2, "failed", 2, worker="w-early")]
    filler = [_event(3 + i % 3000, "running", 1000 + i) for i in range(4000)]  # > 1 MB
    lines += filler + [_event(5, "running", 2, worker="w-next-chunk")]
    (run / "tasks.jsonl").write_bytes(b"".join(lines))
    got = assert_same(run, expect_engine=True)
    assert got is not None
    by_tid = {f.task_id: f.worker for f in got.state.failures}
    assert by_tid == {f"{1:032x}": "w-same-chunk", f"{2:032x}": "w-early"}

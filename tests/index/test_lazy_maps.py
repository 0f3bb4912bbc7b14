"""A run reopened from the persistent index builds its id, string, worker and resource maps only when something asks.

Hashing 300k task ids and per-task names again cost 0.07-0.2 s of every
reopen, and a finished run shown as it is needs neither: the diagnosis looks
up only the failures' tasks, which the snapshot stores as a hint.  These
tests hold the maps, once built, and the hint's answers to the maps of a
fresh read, and check the reopen's publish does not build them.
"""

from __future__ import annotations

import json
import marshal
import subprocess
import sys
from pathlib import Path

import pytest

from scalable_tui.model.run import Interner
from scalable_tui.sources.rundir.index import cache, policy
from scalable_tui.sources.rundir.reader import RunDirReader

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def reopened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, private_cache: Path) -> tuple[Path, RunDirReader]:
    subprocess.run([sys.executable, str(ROOT / "bench" / "gen_big_run.py"), str(tmp_path / "runs"), "--tasks", "2000",
                    "--varied"], check=True, stdout=subprocess.DEVNULL)
    run = next((tmp_path / "runs").glob("run-*"))
    # a failure record whose task has no task event: the hint must say "no row", not guess one
    with open(run / "failures.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps({"task_id": "never-started", "timestamp": "2026-11-24T00:00:00Z", "failure_class": "X",
                            "message": "m", "traceback": "", "phase": "task_execution"}) + "\n")
    monkeypatch.setattr(policy, "MIN_INDEX_BYTES", 0)
    RunDirReader(run).load()  # stores the entry
    hit = cache.lookup(run)
    assert hit is not None
    return run, hit


def test_the_maps_are_built_on_first_use_and_equal_a_fresh_reads(reopened: tuple[Path, RunDirReader]) -> None:
    run, hit = reopened
    ref = RunDirReader(run, store_index=False).load()
    t, r = hit.state.tasks, ref.tasks
    assert t._row is None and t.strings._index is None and t._ids is None
    assert len(t) == len(r) and t.n_tasks() == r.n_tasks() and t._ids is None  # counted without the ids
    failure_ids = {f.task_id for f in ref.failures if f.task_id}
    assert "never-started" in failure_ids and "never-started" not in r.row
    for tid in sorted(failure_ids):  # answered from the hint: the map stays unbuilt
        assert t.row_get(tid) == r.row.get(tid), tid
    assert t._row is None and t._ids is None
    assert t.row_get(r.ids[0]) == 0 and t._row is not None  # not in the hint: the map is built (from the ids)
    assert t._ids is not None and t.ids == r.ids
    assert t.row == r.row and t.strings.index == r.strings.index
    assert t.row_get("never-started") is None  # the map answers now, the same


def test_worker_and_resource_maps_are_built_on_first_use_and_equal_a_fresh_reads(
        reopened: tuple[Path, RunDirReader]) -> None:
    """Unmarshalling 300k workers (Dask keys) and profile indices cost 0.08-0.12 s of a reopen."""
    run, hit = reopened
    ref = RunDirReader(run, store_index=False).load()
    t, r = hit.state.tasks, ref.tasks
    assert t._worker is None and t._resource is None
    rows = sorted({r.row[f.task_id] for f in ref.failures if f.task_id in r.row})
    assert rows and r.worker and r.resource
    get_w, get_r = t.sparse_getter("worker"), t.sparse_getter("resource")
    for row in rows:  # the failures' rows: answered from the hint
        assert t.worker_get(row) == r.worker.get(row) and t.resource_get(row) == r.resource.get(row), row
        assert get_w(row) == r.worker.get(row) and get_r(row) == r.resource.get(row), row
    assert t._worker is None and t._resource is None
    other = next(x for x in range(len(r.ids)) if x not in rows)
    assert get_r(other) == r.resource.get(other) and t._resource is not None  # not in the hint: built
    assert get_r(rows[0]) == r.resource.get(rows[0])
    assert t.worker_get(other) == r.worker.get(other) and t._worker is not None  # not in the hint: built
    assert t.worker == r.worker
    assert t.sparse_getter("worker") == t.worker.get  # built: the map's own get, no method call per row
    assert t.resource == r.resource and list(t.resource) == list(r.resource)  # the order too
    assert hit.state.resources_for(r.ids[other]) == ref.resources_for(r.ids[other])


@pytest.mark.parametrize("section", ["worker", "ids"])
def test_a_damaged_lazy_section_is_rebuilt_not_trusted(reopened: tuple[Path, RunDirReader], section: str) -> None:
    """The worker and id sections are read only when first used: their checksums find damage at the reopen."""
    run, _ = reopened
    state = cache.entry_dir(run) / "state.bin"
    data = bytearray(state.read_bytes())
    pos = 0
    while True:  # the length-prefixed records (snapshot.dump): find the worker section's
        n = int.from_bytes(data[pos:pos + 8], "little")
        key, value = marshal.loads(bytes(data[pos + 8:pos + 8 + n]))
        if key == section:
            break
        pos += 8 + n
    assert isinstance(value[1], bytes) and len(value[1]) > 1000
    at = pos + 8 + n - len(value[1]) // 2  # inside the kept bytes: a worker name, or a row number
    data[at] ^= 0x01  # one bit: still valid marshal, a different answer
    state.write_bytes(bytes(data))
    assert cache.lookup(run) is None  # rebuilt from the files, never answered from the damaged entry


def test_new_strings_and_rows_after_a_reopen_extend_the_maps(reopened: tuple[Path, RunDirReader]) -> None:
    _, hit = reopened
    t = hit.state.tasks
    known = t.strings.values[5]
    n = len(t.strings.values)
    assert t.strings.get(known) == 5 and t.strings.get("a new name") == n and t.strings.get("a new name") == n
    rows = len(t.ids)
    assert t.add_row("a-new-task") == rows and t.row_get("a-new-task") == rows and t.row["a-new-task"] == rows


def test_the_reopens_publish_builds_neither_map(reopened: tuple[Path, RunDirReader]) -> None:
    from scalable_tui.session.review import ReviewSession

    run, _ = reopened
    views: list = []
    session = ReviewSession(RunDirReader(run))
    session.run(views.append)
    t = session.source.state.tasks
    assert views and views[-1].run.loading is None and views[-1].run.diagnosis.failures_total > 0
    assert t._row is None and t.strings._index is None and t._ids is None
    assert t._worker is None and t._resource is None
    # and what it showed joined each failure to its task as a fresh read does
    ref = RunDirReader(run, store_index=False).load()
    from assistant.grouping import join_failures

    join_failures(ref)
    def joined(fs: list) -> set:
        return {(f.task_id, f.task_name, f.component, f.duration_s, f.worker, f.dask_key, repr(f.resources))
                for f in fs}

    assert joined(session.source.state.failures) == joined(ref.failures)


def test_interner_forget_index_keeps_its_answers() -> None:
    s = Interner()
    codes = [s.get(v) for v in ("a", "b", None, "a", "c")]
    s.forget_index()
    assert [s.get(v) for v in ("a", "b", None, "a", "c")] == codes and s.get("d") == 4
    assert s.index == {None: 0, "a": 1, "b": 2, "c": 3, "d": 4}


@pytest.mark.parametrize("name", ["ids", "row", "worker", "resource"])
def test_two_threads_asking_first_get_one_map(name: str) -> None:
    """The UI thread and the Tasks list's warm-up may ask for a lazy map at once: the second waits for the
    first's map (it found the loader gone and raised KeyError, or built a second map)."""
    import threading

    from scalable_tui.model.run import TaskTable

    t = TaskTable()
    t.ids = ["a", "b"]
    started, go = threading.Event(), threading.Event()
    built: list[dict] = []

    def load() -> dict:
        started.set()
        assert go.wait(10)
        built.append({"a": 0, "b": 1} if name == "row" else {0: "x", 1: "y"})
        return built[-1]

    t.forget_sparse({name: load}, {name: {}})
    got: dict[str, object] = {}
    errors: list[BaseException] = []

    def ask(who: str) -> None:
        try:
            got[who] = getattr(t, name)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    first = threading.Thread(target=ask, args=("first",))
    first.start()
    assert started.wait(10)
    second = threading.Thread(target=ask, args=("second",))
    second.start()
    second.join(0.3)  # without the lock it has already failed here
    go.set()
    first.join(10)
    second.join(10)
    assert not errors, errors
    assert len(built) == 1 and got["first"] is got["second"] is built[0]

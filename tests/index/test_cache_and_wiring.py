"""Persistent index (hit, invalidation, privacy, never in the run dir) and the load_run wiring."""

from __future__ import annotations

import json
import shutil
import time
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scalable_tui.sources.rundir.index import cache, policy
from scalable_tui.sources.rundir.reader import RunDirReader, load_run
from state_fingerprint import fingerprint
from tests.conftest import tree_fingerprint

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def finished_run(tmp_path: Path) -> Path:
    subprocess.run([sys.executable, str(ROOT / "bench" / "gen_big_run.py"), str(tmp_path / "runs"), "--tasks", "3000"],
                   check=True, stdout=subprocess.DEVNULL)
    return next((tmp_path / "runs").glob("run-*"))


def _count_builds(monkeypatch: pytest.MonkeyPatch, cold: str = "engine") -> list[Path]:
    """Count cold builds (engine or Python reader) that ``load_run`` does for the index."""
    calls: list[Path] = []
    monkeypatch.setattr(policy, "COLD_BUILD", cold)
    real = policy.build_reader

    def counting(path: Path) -> RunDirReader:
        calls.append(path)
        return real(path)

    class CountingReader(RunDirReader):
        def load(self):  # type: ignore[no-untyped-def]
            calls.append(self.path)
            return super().load()

    monkeypatch.setattr(policy, "build_reader", counting)
    monkeypatch.setattr(policy, "RunDirReader", CountingReader)
    return calls


@pytest.mark.parametrize("cold", ["engine", "python"])
def test_second_open_is_a_cache_hit_with_the_same_state(finished_run: Path, private_cache: Path,
                                                        monkeypatch: pytest.MonkeyPatch, cold: str) -> None:
    monkeypatch.setattr(policy, "MIN_INDEX_BYTES", 0)
    builds = _count_builds(monkeypatch, cold)
    before = tree_fingerprint(finished_run)
    first = load_run(finished_run)
    second = load_run(finished_run)
    assert len(builds) == 1
    ref = RunDirReader(finished_run).load()
    assert fingerprint(first) == fingerprint(second) == fingerprint(ref)
    assert second.failures == ref.failures and second.tasks.ids == ref.tasks.ids
    assert tree_fingerprint(finished_run) == before  # nothing written into the run directory
    entry = cache.entry_dir(finished_run)
    assert entry.is_relative_to(private_cache / "scalable-tui" / "index")
    for p in [private_cache / "scalable-tui", private_cache / "scalable-tui" / "index", entry]:
        assert p.stat().st_mode & 0o777 == 0o700, p
    for p in entry.iterdir():
        assert p.stat().st_mode & 0o777 == 0o600, p


@pytest.mark.parametrize("change", ["append", "touch", "replace", "new_file", "remove_file"])
def test_any_change_invalidates(finished_run: Path, monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    monkeypatch.setattr(policy, "MIN_INDEX_BYTES", 0)
    builds = _count_builds(monkeypatch)
    load_run(finished_run)
    tasks = finished_run / "tasks.jsonl"
    extra = json.dumps({"state": "cancelled", "task_id": "f" * 32, "timestamp": "2026-11-24T00:00:00Z"}).encode()
    if change == "append":
        with open(tasks, "ab") as f:
            f.write(extra + b"\n")
    elif change == "touch":
        st = tasks.stat()
        os.utime(tasks, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    elif change == "replace":  # same size and mtime, new inode
        data, st = tasks.read_bytes(), tasks.stat()
        tmp = finished_run / "tasks.jsonl.new"
        tmp.write_bytes(data)
        os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.replace(tmp, tasks)
    elif change == "new_file":
        (finished_run / "summary.json").write_text("{}")
    else:
        (finished_run / "workers.jsonl").unlink()
    after = load_run(finished_run)
    assert len(builds) == 2
    assert fingerprint(after) == fingerprint(RunDirReader(finished_run).load())


def test_damaged_snapshot_is_rebuilt(finished_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policy, "MIN_INDEX_BYTES", 0)
    builds = _count_builds(monkeypatch)
    load_run(finished_run)
    (cache.entry_dir(finished_run) / "state.bin").write_bytes(b"\x00garbage")
    state = load_run(finished_run)
    assert len(builds) == 2
    assert fingerprint(state) == fingerprint(RunDirReader(finished_run).load())


def test_reader_choice(finished_run: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(policy, "MIN_INDEX_BYTES", 0)
    assert policy.wants_index(finished_run)
    monkeypatch.setenv("SCALABLE_TUI_READER", "python")
    assert not policy.wants_index(finished_run)
    builds = _count_builds(monkeypatch)
    load_run(finished_run)
    assert builds == []
    monkeypatch.delenv("SCALABLE_TUI_READER")
    meta = json.loads((finished_run / "run.json").read_text())
    meta.update(status="running", finished_at=None)
    (finished_run / "run.json").write_text(json.dumps(meta))
    assert not policy.wants_index(finished_run)  # a run being written is tailed by the Python reader
    monkeypatch.setenv("SCALABLE_TUI_READER", "index")
    assert policy.wants_index(finished_run)
    monkeypatch.setattr(policy, "MIN_INDEX_BYTES", 1 << 40)
    monkeypatch.delenv("SCALABLE_TUI_READER")
    meta.update(status="completed", finished_at="2026-11-24T00:00:00Z")
    (finished_run / "run.json").write_text(json.dumps(meta))
    assert not policy.wants_index(finished_run)  # small runs: the engine's start-up does not pay off


def test_indexed_reader_tails_appended_bytes(finished_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader loaded from the index continues with the Python tail reader on appended lines."""
    monkeypatch.setattr(policy, "MIN_INDEX_BYTES", 0)
    from scalable_tui.sources.rundir.index import load_indexed

    reader = load_indexed(finished_run)
    assert reader is not None
    tasks = finished_run / "tasks.jsonl"
    tid = reader.state.tasks.ids[-1]
    line = json.dumps({"state": "cancelled", "task_id": tid, "timestamp": "2026-11-24T00:00:00Z",
                       "task_name": "late"}, sort_keys=True).encode()
    with open(tasks, "ab") as f:
        f.write(line + b"\n" + line[:20])  # one whole line and a partial one
    before = reader.tails["tasks"].offset
    res = reader.refresh()
    assert res.task_events == 1
    assert reader.tails["tasks"].offset - before == len(line) + 1
    assert fingerprint(reader.state) == fingerprint(RunDirReader(finished_run).load())


def test_help_does_not_import_duckdb() -> None:
    code = ("import sys, runpy; sys.argv = ['scalable-tui', '--help']\n"
            "try:\n    runpy.run_module('scalable_tui', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "print('DUCKDB' if 'duckdb' in sys.modules else 'CLEAN')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("CLEAN")


def test_engine_threads_and_memory_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from scalable_tui.sources.rundir.index.engine import DEFAULT_MEMORY_LIMIT, connect

    con = connect()
    threads, = con.execute("SELECT current_setting('threads')").fetchone()
    limit, = con.execute("SELECT current_setting('memory_limit')").fetchone()
    assert threads == len(os.sched_getaffinity(0))
    assert limit == "238.4 MiB" and DEFAULT_MEMORY_LIMIT == "250MB"  # DuckDB reports 250 MB in MiB
    monkeypatch.setenv("SCALABLE_TUI_INDEX_MEMORY", "100MB")
    assert connect().execute("SELECT current_setting('memory_limit')").fetchone()[0] == "95.3 MiB"
    monkeypatch.setenv("SCALABLE_TUI_INDEX_MEMORY", "100MB'; SELECT 1; --")
    assert connect().execute("SELECT current_setting('memory_limit')").fetchone()[0] == "238.4 MiB"


def test_cache_is_pruned_to_the_most_recent_entries(tmp_path: Path, private_cache: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policy, "MIN_INDEX_BYTES", 0)
    monkeypatch.setattr(cache, "MAX_ENTRIES", 2)
    runs = []
    for i in range(3):
        d = tmp_path / f"r{i}"
        subprocess.run([sys.executable, str(ROOT / "bench" / "gen_big_run.py"), str(d), "--tasks", "50"],
                       check=True, stdout=subprocess.DEVNULL)
        runs.append(next(d.glob("run-*")))
    for i, run in enumerate(runs):
        load_run(run)
        os.utime(cache.entry_dir(run) / "key.json", (1000 + i, 1000 + i))
    cache.prune(2)
    assert not cache.entry_dir(runs[0]).exists()
    assert cache.entry_dir(runs[1]).exists() and cache.entry_dir(runs[2]).exists()


def test_review_app_reader_adopts_the_index_and_fills_it(finished_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's own RunDirReader (sliced refresh) stores a big finished run once read, and the next
    fresh reader starts from the index in one refresh, then tails appended bytes as usual."""
    monkeypatch.setattr(policy, "MIN_INDEX_BYTES", 0)
    first = RunDirReader(finished_run)
    while first.refresh(max_bytes=1 << 20).more:
        pass
    assert (cache.entry_dir(finished_run) / "state.bin").exists()
    second = RunDirReader(finished_run)
    res = second.refresh(max_bytes=1 << 20)
    assert not res.more and res.task_events == first.state.tasks.events
    assert fingerprint(second.state) == fingerprint(first.state)
    line = json.dumps({"state": "cancelled", "task_id": "e" * 32, "timestamp": "2026-11-24T00:00:00Z"}).encode()
    with open(finished_run / "tasks.jsonl", "ab") as f:
        f.write(line + b"\n")
    assert second.refresh().task_events == 1
    third = RunDirReader(finished_run)  # the key no longer matches: a normal read
    third.load()
    assert fingerprint(third.state) == fingerprint(second.state)


def test_partly_written_run_is_not_stored(finished_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policy, "MIN_INDEX_BYTES", 0)
    with open(finished_run / "tasks.jsonl", "ab") as f:
        f.write(b'{"state": "runn')  # a partial last line: the run is not what the key would say
    load_run(finished_run)
    assert not (cache.entry_dir(finished_run) / "state.bin").exists()


def test_the_review_session_stores_the_index_after_the_full_screen_is_out(finished_run: Path,
                                                                           private_cache: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The store (~0.3 s on a 300k-task run) used to sit between the last slice and the first full
    screen; it now comes after that screen, and still happens."""
    from scalable_tui.session.review import ReviewSession

    monkeypatch.setattr(policy, "MIN_INDEX_BYTES", 0)
    key_file = cache.entry_dir(finished_run) / "key.json"
    stored_when_shown: list[bool] = []

    def emit(view) -> None:  # type: ignore[no-untyped-def]
        if view.run is not None and view.run.loading is None:
            stored_when_shown.append(key_file.exists())

    ReviewSession(RunDirReader(finished_run)).run(emit)
    assert stored_when_shown == [False]  # the full screen went out before the store …
    assert key_file.exists()  # … which happened right after
    assert fingerprint(load_run(finished_run)) == fingerprint(RunDirReader(finished_run).load())


def test_a_reopen_names_the_run_as_this_open_was_given_it(finished_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The index stored the first open's spelling of the path; a reopen from elsewhere said that one.

    ``diagnose runs/run-x`` from one directory, then ``diagnose /abs/…/run-x``
    from another, printed ``run_dir: runs/run-x`` (wrong from there), and a
    retry script's manifest path pointed nowhere.
    """
    from assistant.retry_plan import build_retry_plan
    from scalable_tui.session.pipeline import diagnose

    monkeypatch.setattr(policy, "MIN_INDEX_BYTES", 0)
    monkeypatch.chdir(finished_run.parent)
    relative = load_run(finished_run.name)  # cold: stored in the index
    assert relative.run_dir == finished_run.name
    diagnose(relative)  # and its diagnosis beside it
    monkeypatch.chdir("/")
    absolute = load_run(str(finished_run))  # from the index
    assert cache.lookup(finished_run) is not None
    assert absolute.run_dir == str(finished_run)
    assert diagnose(absolute).run_dir == str(finished_run)
    assert build_retry_plan(absolute, diagnose(absolute)).run_dir == str(finished_run)


def test_the_review_session_stores_the_index_once_the_ui_has_painted(finished_run: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The store takes the interpreter for ~0.3-0.5 s on a 300k-task run: it waits until the app has painted
    the full view (``ReviewSession.painted``), at most ``PAINT_WAIT``; headless it does not wait at all."""
    import threading

    import scalable_tui.session.review as review
    from scalable_tui.session.review import ReviewSession

    monkeypatch.setattr(policy, "MIN_INDEX_BYTES", 0)
    views: list[object] = []
    session = ReviewSession(RunDirReader(finished_run))
    session.painted = threading.Event()
    t = threading.Thread(target=session.run, args=(views.append,))
    t.start()
    try:
        deadline = time.monotonic() + 30
        while not (views and views[-1].run.loading is None) and time.monotonic() < deadline:  # type: ignore[attr-defined]
            time.sleep(0.01)
        assert views and views[-1].run.loading is None  # type: ignore[attr-defined]
        t.join(0.5)  # a store not waiting for the paint is done well within this (~50 ms for this run)
        assert t.is_alive() and cache.lookup(finished_run) is None  # shown, not stored yet
        session.painted.set()
        t.join(30)
        assert not t.is_alive() and cache.lookup(finished_run) is not None
    finally:
        session.painted.set()
        t.join(30)
    # a UI that never says so: stored after PAINT_WAIT anyway
    monkeypatch.setattr(review, "PAINT_WAIT", 0.2)
    other = finished_run.parent / "copy"
    shutil.copytree(finished_run, other)
    session = ReviewSession(RunDirReader(other))
    session.painted = threading.Event()
    session.run(views.append)
    assert cache.lookup(other) is not None

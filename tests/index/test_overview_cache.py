"""The Overview's bars and timelines of a finished run, stored beside its index entry and read back on a reopen.

What is read back must be what the reopen would have counted; a changed run, a
damaged file or other snapshot code must be counted again.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scalable_tui.session import overview_cache, snapshot
from scalable_tui.session.review import ReviewSession
from scalable_tui.sources.rundir.index import cache, policy
from scalable_tui.sources.rundir.reader import RunDirReader

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, private_cache: Path) -> Path:
    subprocess.run([sys.executable, str(ROOT / "bench" / "gen_big_run.py"), str(tmp_path / "runs"), "--tasks", "2000",
                    "--varied"], check=True, stdout=subprocess.DEVNULL)
    monkeypatch.setattr(policy, "MIN_INDEX_BYTES", 0)
    return next((tmp_path / "runs").glob("run-*"))


def _open(run: Path):  # type: ignore[no-untyped-def]
    views: list = []
    ReviewSession(RunDirReader(run)).run(views.append)
    snap = views[-1].run
    assert snap.loading is None
    return snap


def _overview(snap) -> tuple:  # type: ignore[no-untyped-def]
    return overview_cache.of_snapshot(snap)


def test_a_reopen_reads_the_bars_it_would_have_counted(run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = _open(run)  # counts, stores the index, then the overview beside it
    assert (cache.entry_dir(run) / overview_cache.NAME).exists()
    assert first.top_groups and first.groups > 0 and sum(first.completions) > 0

    def counted(*a, **k):  # type: ignore[no-untyped-def]
        raise AssertionError("counted again on a reopen")

    with monkeypatch.context() as m:
        m.setattr(snapshot, "overview_groups", counted)
        m.setattr(snapshot, "_timeline", counted)
        again = _open(run)
    assert _overview(again) == _overview(first)
    assert isinstance(again.top_groups[0], tuple)  # as the screens get it from the counting


def test_a_changed_run_or_a_damaged_file_is_counted_again(run: Path) -> None:
    first = _open(run)
    stored = cache.entry_dir(run) / overview_cache.NAME
    stored.write_bytes(stored.read_bytes()[:-20])  # cut short
    assert _overview(_open(run)) == _overview(first)  # counted, and stored whole again
    assert overview_cache.lookup(RunDirReader(run).load()) is not None
    # the run grows (a late line): its index key no longer matches, the stored bars are not used
    with open(run / "tasks.jsonl", "rb") as f:
        last = f.read().splitlines()[-1]
    with open(run / "tasks.jsonl", "ab") as f:
        f.write(last.replace(b'"succeeded"', b'"failed"') + b"\n")
    state = RunDirReader(run, store_index=False).load()
    assert overview_cache.lookup(state) is None

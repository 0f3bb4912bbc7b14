"""Both readers on one run directory, compared field by field."""

from __future__ import annotations

from pathlib import Path
from state_fingerprint import fingerprint

from scalable_tui.sources.rundir.index.build import Fallback
from scalable_tui.sources.rundir.index.engine import connect
from scalable_tui.sources.rundir.index.merge import load_reader
from scalable_tui.sources.rundir.reader import RunDirReader


def engine_reader(run: Path) -> RunDirReader | None:
    """The engine's reader, or None when it (rightly) hands the run to the Python reader."""
    con = connect()
    try:
        return load_reader(con, run)
    except Fallback:
        return None
    finally:
        con.close()


def assert_same(run: Path, *, expect_engine: bool | None = None) -> RunDirReader | None:
    ref = RunDirReader(run).load()
    got = engine_reader(run)
    if expect_engine is not None:
        assert (got is not None) == expect_engine, f"engine {'refused' if got is None else 'accepted'} {run}"
    if got is None:
        return None
    a, b = fingerprint(ref), fingerprint(got.state)
    diff = {k: (a[k], b[k]) for k in a if a[k] != b[k]}
    assert not diff, f"{run}: {str(diff)[:2000]}"
    # the parts the fingerprint hashes are compared in full too
    assert got.state.tasks.ids == ref.tasks.ids
    assert [got.state.tasks.row_dict(r) for r in range(len(ref.tasks))] == [
        ref.tasks.row_dict(r) for r in range(len(ref.tasks))]
    assert got.state.failures == ref.failures
    assert got.state.worker_events == ref.worker_events
    assert got.state.meta == ref.meta
    assert got.state.notices() == ref.notices()
    assert got.state.issues == ref.issues
    return got


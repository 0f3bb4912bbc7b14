"""The reader's fast paths (templated lines) give exactly the plain result.

The reference is the reader with every line fully decoded (template caches
off) in one process; the fingerprint covers every column, failure, issue and
line number the reader produces (``bench/state_fingerprint.py``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from scalable_tui.sources.rundir.reader import RunDirReader
from tests.conftest import ROOT, fixture_run


def _fp_module() -> Any:
    spec = importlib.util.spec_from_file_location("state_fingerprint", ROOT / "bench" / "state_fingerprint.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


FP = _fp_module()


@pytest.fixture(scope="module")
def nasty_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3000 generated tasks with every kind of damage, both halves of the file."""
    return FP.nasty(tmp_path_factory.mktemp("nasty"))


def _reference(run: Path) -> dict[str, Any]:
    reader = RunDirReader(run)
    reader._line_cache = FP._NeverStore()
    reader._resource_cache = FP._NeverStore()
    reader._done_cache = FP._NeverStore()
    return FP.fingerprint(reader.load())


def test_fast_paths_equal_the_plain_decode_on_damaged_input(nasty_run: Path) -> None:
    ref = _reference(nasty_run)
    assert ref["issues"]["tasks.jsonl"]["corrupt"] > 0 and ref["n_failures"] > 0
    assert FP.fingerprint(RunDirReader(nasty_run).load()) == ref


def test_finished_lines_take_the_template_path(nasty_run: Path) -> None:
    reader = RunDirReader(nasty_run)
    reader.load()
    # One template per (component, state) shape, not one per line.
    assert 0 < len(reader._done_cache) < 50


def test_fast_paths_equal_the_plain_decode_on_a_real_run() -> None:
    run = fixture_run("gcam-stitches")
    assert FP.fingerprint(RunDirReader(run).load()) == _reference(run)


def test_growing_file_read_with_fast_paths_equals_the_plain_tail(nasty_run: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    fast = FP._incremental(nasty_run, tmp_path)
    orig = RunDirReader._reset

    def plain_reset(self: RunDirReader) -> None:
        orig(self)
        self._line_cache = FP._NeverStore()
        self._resource_cache = FP._NeverStore()
        self._done_cache = FP._NeverStore()

    monkeypatch.setattr(RunDirReader, "_reset", plain_reset)
    assert FP._incremental(nasty_run, tmp_path) == fast


def test_skipping_the_template_probe_where_it_never_hits_gives_the_same_state(nasty_run: Path,
                                                                              tmp_path: Path) -> None:
    """Per-task names (a scenario id in the name) defeat the templates: after enough misses the reader
    stops probing, and probes again later.  Varied lines first, then templatable damaged ones; read in
    64 KB slices so that probing, skipping and probing again all happen in one file."""
    import shutil
    import subprocess
    import sys

    varied_dir = tmp_path / "varied"
    subprocess.run([sys.executable, str(ROOT / "bench" / "gen_big_run.py"), str(varied_dir), "--tasks", "3000",
                    "--varied"], check=True, stdout=subprocess.DEVNULL)
    varied = next(varied_dir.glob("run-*"))
    run = tmp_path / "mixed" / nasty_run.name
    shutil.copytree(nasty_run, run)
    (run / "tasks.jsonl").write_bytes((varied / "tasks.jsonl").read_bytes() + (nasty_run / "tasks.jsonl").read_bytes())

    reader = RunDirReader(run)
    while reader.refresh(max_bytes=65536).more:
        pass
    assert reader._probe[3] > 0, reader._probe  # the probe was skipped on some chunks …
    assert reader._probe[1] > 0, reader._probe  # … and tried again, and hit, on the templatable part
    ref = _reference(run)
    assert FP.fingerprint(reader.state) == ref
    assert FP.fingerprint(RunDirReader(run).load()) == ref

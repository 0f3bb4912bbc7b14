"""``history`` and ``runs`` read many runs once each: they may use the persistent index, never fill it.

Before, every big finished run a listing read was stored (~50 MB each, 16 entries kept), pushing out
the runs the user actually opens and costing a snapshot write per run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scalable_tui.session.history import collect
from scalable_tui.session.runlist import run_rows
from scalable_tui.sources.rundir.index import cache, policy
from scalable_tui.sources.rundir.reader import load_run
from state_fingerprint import fingerprint

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def two_runs_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("listing") / "runs"
    for seed in (1, 2):
        subprocess.run([sys.executable, str(ROOT / "bench" / "gen_big_run.py"), str(root), "--tasks", "1500",
                        "--seed", str(seed)], check=True, stdout=subprocess.DEVNULL)
    return root


@pytest.fixture
def big_runs(two_runs_src: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Two finished runs that count as "big" (every run does with ``MIN_INDEX_BYTES = 1``)."""
    monkeypatch.setattr(policy, "MIN_INDEX_BYTES", 1)
    runs = sorted(p for p in two_runs_src.iterdir() if p.is_dir())
    assert len(runs) == 2 and all(policy.wants_index(r) for r in runs)
    return runs


def _index_entries(private_cache: Path) -> list[Path]:
    root = private_cache / "scalable-tui" / "index"
    return sorted(root.iterdir()) if root.is_dir() else []


@pytest.mark.parametrize("cold", ["python", "engine"])
def test_history_leaves_the_index_empty(big_runs: list[Path], private_cache: Path,
                                        monkeypatch: pytest.MonkeyPatch, cold: str) -> None:
    monkeypatch.setattr(policy, "COLD_BUILD", cold)
    hist = collect(big_runs[0].parent, use_cache=True)
    assert hist.built == 2 and not hist.unreadable
    assert _index_entries(private_cache) == []


def test_runs_listing_leaves_the_index_empty(big_runs: list[Path], private_cache: Path) -> None:
    rows = run_rows(big_runs)
    assert [r["run_dir"] for r in rows] == [str(r) for r in big_runs] and all(r["failed"] for r in rows)
    assert _index_entries(private_cache) == []


def test_listing_still_reads_a_valid_entry(big_runs: list[Path], private_cache: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The run the user opened is in the index; the listing uses it and writes nothing new."""
    opened = load_run(big_runs[0])  # an ordinary open stores it
    assert [e.name for e in _index_entries(private_cache)] == [cache.entry_dir(big_runs[0]).name]
    hits: list[Path] = []
    real_lookup = cache.lookup

    def counting(run_dir: Path):  # type: ignore[no-untyped-def]
        hit = real_lookup(run_dir)
        if hit is not None:
            hits.append(Path(run_dir))
        return hit

    monkeypatch.setattr(cache, "lookup", counting)
    state = load_run(big_runs[0], store_index=False)
    assert hits == [big_runs[0]] and fingerprint(state) == fingerprint(opened)
    rows = run_rows(big_runs)
    assert hits[-1] == big_runs[0] and len(rows) == 2
    assert [e.name for e in _index_entries(private_cache)] == [cache.entry_dir(big_runs[0]).name]

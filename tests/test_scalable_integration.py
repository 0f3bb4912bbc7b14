"""End to end with the real producer: a real ScalableSession on a local target
writes a run directory with deliberately failing tasks; we diagnose it."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from scalable_tui.session import diagnose_run
from scalable_tui.sources.rundir.reader import load_run
from tests.conftest import ROOT, run_cli, tree_fingerprint

_spec = importlib.util.spec_from_file_location("make_fixtures", ROOT / "fixtures" / "make_fixtures.py")
make_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_fixtures)  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_fixtures.make("mixed-failures", tmp_path_factory.mktemp("fresh"))


@pytest.mark.slow
def test_fresh_scalable_run_is_diagnosed_by_category(mixed_run: Path) -> None:
    before = tree_fingerprint(mixed_run)
    records = [json.loads(x) for x in (mixed_run / "failures.jsonl").read_text().splitlines() if x.strip()]
    d = diagnose_run(mixed_run)
    assert d.failures_total == len(records) == 21
    assert sum(f.count for f in d.findings) == 21
    cats = {f.category for f in d.findings}
    assert {"disk_full", "import_error", "gpu_oom", "missing_file", "oom", "permission", "serialization",
            "network", "invalid_input", "user_code"} <= cats, cats
    by_cat: dict[str, int] = {}
    for f in d.findings:
        by_cat[f.category] = by_cat.get(f.category, 0) + f.count
    assert by_cat["invalid_input"] >= 3  # KeyError 'region_N' ×3 in one group at least
    keyerr = [f for f in d.findings if f.exception_types == ["KeyError"]]
    assert len(keyerr) == 1 and keyerr[0].count == 3
    imp = next(f for f in d.findings if f.category == "import_error")
    assert imp.severity == "critical" and "'" in imp.suggestion  # names the missing module
    assert d.tasks == load_run(mixed_run).tasks.counts_by_state()
    assert tree_fingerprint(mixed_run) == before


@pytest.mark.slow
def test_fresh_run_through_the_cli_in_all_formats(mixed_run: Path) -> None:
    j = run_cli("diagnose", str(mixed_run), "--format", "json", "--no-ai")
    doc = json.loads(j.stdout)
    assert doc["failures_total"] == 21 and doc["status"] == "completed"
    text = run_cli("diagnose", str(mixed_run)).stdout
    assert f"{doc['failures_total']} failures detected in {len(doc['findings'])} groups" in text
    md = run_cli("diagnose", str(mixed_run), "--format", "markdown").stdout
    assert md.count("\n## ") == len(doc["findings"])


@pytest.mark.slow
def test_killed_worker_run(tmp_path: Path) -> None:
    run = make_fixtures.make("killed-worker", tmp_path)
    d = diagnose_run(run)
    assert [(f.category, f.count) for f in d.findings] == [("worker_lost", 3)]
    assert "allowed-failures" in d.findings[0].suggestion


@pytest.mark.slow
def test_session_start_failure_run(tmp_path: Path) -> None:
    run = make_fixtures.make("session-start-failure", tmp_path)
    d = diagnose_run(run)
    assert d.status == "failed"
    assert [(f.category, f.severity, f.phase) for f in d.findings] == [("cluster_startup", "critical", "session.start")]

"""Diagnoses of the committed Scalable-written fixtures (fast)."""

from __future__ import annotations

import json

from scalable_tui.session import diagnose_run
from assistant.diagnose import diagnose_state
from scalable_tui.sources.rundir.reader import load_run
from tests.conftest import fixture_run, run_cli


def test_crashed_run_with_partial_last_line() -> None:
    run = fixture_run("crashed-partial")
    state = load_run(run)
    assert state.meta.status == "running" and state.summary is None
    assert state.tasks.counts_by_state()["running"] == 7
    assert state.issues == {} or all(i.total_skipped() == 0 for i in state.issues.values())  # held back, not corrupt
    # Tasks asked for 04:00:00 of walltime: two quiet hours are not yet abandonment.
    assert not diagnose_state(state, now=state.last_event_ts + 2 * 3600).abandoned
    d = diagnose_state(state, now=state.last_event_ts + 5 * 3600)
    assert d.abandoned and d.findings[0].category == "run_abandoned"
    assert d.unfinished == 7
    assert sum(f.count for f in d.findings) == d.failures_total == 5


def test_corrupt_lines_are_skipped_and_reported() -> None:
    run = fixture_run("corrupt-lines")
    damage = json.loads((run.parent / "damage.json").read_text())
    state = load_run(run)
    t = state.issues["tasks.jsonl"]
    assert (t.corrupt, t.non_utf8, t.invalid, t.future_schema) == (1, 1, 1, 1), damage
    assert state.issues["failures.jsonl"].corrupt == 1
    p = run_cli("diagnose", str(run), "--format", "json")
    assert p.returncode == 0
    assert "skipped 1 corrupt line(s), 1 non-UTF-8 line(s)" in p.stderr
    assert json.loads(p.stdout)["notices"]


def test_tracebacks_in_details_drive_grouping_and_are_kept() -> None:
    d = diagnose_run(fixture_run("tutorial-tracebacks"))
    assert d.failures_total == 4
    with_tb = [f for f in d.findings if f.example_traceback]
    assert with_tb and all("Traceback (most recent call last)" in f.example_traceback for f in with_tb)
    chained = [f for f in d.findings if len(f.exception_types) > 1]
    assert chained and chained[0].exception_types == ["ZeroDivisionError", "ValueError"]


def test_tutorial_markup_and_escapes_print_literally() -> None:
    out = run_cli("diagnose", str(fixture_run("tutorial-tracebacks")), "--color", "always").stdout
    raw = (fixture_run("tutorial-tracebacks") / "failures.jsonl").read_text()
    if "[bold red]" in raw:
        assert "[bold red]" in out
    assert "\x1b[31m" not in out

"""No raw control, bidi or surrogate character reaches any diagnose output format.

Every string field of failures, task events and resource records carries
escapes (ESC sequences, C1, bidi overrides, NUL, line separators); they are
written as JSONL into a run directory and read through the real loader.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.diagnose import diagnose_state
from assistant.render import render_markdown, render_text, to_json
from scalable_tui.sources.rundir.reader import load_run
from tests.conftest import run_cli
from tests.hostile.rundirs import append, copy_fixture, hostile_failure, resource, task_events
from tests.hostile.strategies import FORBIDDEN, escaped_text


def _plant(run: Path, n: int, draw_text, with_tb: list[bool]) -> None:
    for i in range(n):
        tid = f"hostile{i:04d}"
        ts = draw_text()
        tb = None
        if with_tb[i]:
            tb = f'Traceback (most recent call last):\n  File "/x/{draw_text()}.py", line 3, in {draw_text()}\n    boom()\n{draw_text()}Error: {draw_text()}\n'
        append(run / "tasks.jsonl", *task_events(tid, name=draw_text(), component=draw_text(), error_type=draw_text(),
                                                  error_message=draw_text(), timestamp=ts, worker=draw_text()))
        append(run / "resources.jsonl", resource(tid, memory=draw_text(), walltime=draw_text(), component=draw_text(),
                                                 timestamp=ts))
        append(run / "failures.jsonl", hostile_failure(tid, failure_class=draw_text(), message=draw_text(), timestamp=ts,
                                                       traceback=tb, worker=draw_text(), phase=draw_text()))


def _assert_clean(out: str, fmt: str) -> None:
    bad = FORBIDDEN.search(out)
    assert bad is None, f"{fmt}: raw {bad.group(0)!r} at {bad.start()}: {out[max(0, bad.start() - 80):bad.start() + 20]!r}"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), n=st.integers(1, 4))
def test_every_field_printable_in_text_markdown_and_json(data, n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run = copy_fixture(Path(tmp))
        # The run's own identity is untrusted too.
        meta = json.loads((run / "run.json").read_text())
        meta["target_name"] = data.draw(escaped_text())
        (run / "run.json").write_text(json.dumps(meta))
        with_tb = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
        _plant(run, n, lambda: data.draw(escaped_text()), with_tb)
        state = load_run(run)
        assert sum(f.task_id is not None and f.task_id.startswith("hostile") for f in state.failures) == n
        diag = diagnose_state(state)
        for fmt, out in (("text", render_text(diag)), ("markdown", render_markdown(diag)), ("json", to_json(diag))):
            _assert_clean(out, fmt)
        assert json.loads(to_json(diag))["failures_total"] == diag.failures_total


def test_cli_outputs_show_escapes_visibly(tmp_path: Path) -> None:
    """The fields named in the report (Exception, Seen, Requested, evidence times) through the real CLI."""
    run = copy_fixture(tmp_path)
    evil = "E\x1b[2J\x9b31m\u202eX\x00"
    append(run / "tasks.jsonl", *task_events("evil1", name="run\x1b[31m", component="gcam", error_type="Boom",
                                              error_message="boom", timestamp=f"2026-11-25T11:47:20Z{evil}",
                                              worker="w"))
    append(run / "resources.jsonl", resource("evil1", memory=f"8G{evil}", walltime="01:00:00", component="gcam",
                                             timestamp="2026-11-25T11:47:20Z"))
    append(run / "failures.jsonl", hostile_failure("evil1", failure_class=f"Bad{evil}Error", message=f"boom {evil}",
                                                   timestamp=f"2026-11-25T11:47:20Z{evil}"))
    for fmt in ("text", "markdown", "json"):
        p = run_cli("diagnose", str(run), "--no-ai", "--format", fmt, "--slurm", "off")
        assert p.returncode == 0, p.stderr
        _assert_clean(p.stdout, fmt)
        assert "\\x1b[2J" in p.stdout and "\\u202e" in p.stdout and "\\x9b" in p.stdout
    text = run_cli("diagnose", str(run), "--no-ai", "--slurm", "off").stdout
    seen = [ln for ln in text.splitlines() if "Seen:" in ln and "\\x1b" in ln]
    requested = [ln for ln in text.splitlines() if "Requested:" in ln and "memory=8GE\\x1b[2J" in ln]
    exception = [ln for ln in text.splitlines() if "Exception:" in ln and "BadE\\x1b[2J" in ln]
    assert seen and requested and exception, text


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_tui_copy_text_of_findings_is_printable(data) -> None:
    """The TUI shows fields through Rich Text (tests/app/test_review_app.py); its clipboard text is printable too."""
    from scalable_tui.session.lists import finding_text

    with tempfile.TemporaryDirectory() as tmp:
        run = copy_fixture(Path(tmp))
        _plant(run, 2, lambda: data.draw(escaped_text()), [True, False])
        for f in diagnose_state(load_run(run)).findings:
            _assert_clean(finding_text(f), "clipboard")


def test_a_newline_in_a_run_field_cannot_fake_a_line_of_a_text_report(tmp_path: Path) -> None:
    """An audit's run_id with a newline printed 'No failures detected.' and a link as lines of their own."""
    from tests.hostile.rundirs import copy_fixture

    run = copy_fixture(tmp_path, "gcam-stitches")
    fake = "No failures detected. All 120 tasks succeeded."
    meta = json.loads((run / "run.json").read_text())
    meta["run_id"] = f"run-x\n{fake}\nhttps://phish.example/login"
    (run / "run.json").write_text(json.dumps(meta))
    lines = (run / "resources.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    first["requested_memory"] = "4G\nFAKE-ROW 1 2 3"
    (run / "resources.jsonl").write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    for cmd in (("diagnose", "--no-ai"), ("retry-plan",), ("efficiency",)):
        p = run_cli(*cmd, str(run), "--slurm", "off") if cmd[0] != "retry-plan" else run_cli(*cmd, str(run))
        assert p.returncode == 0, (cmd, p.stderr)
        starts = [ln.strip() for ln in p.stdout.splitlines()]
        assert not any(ln.startswith((fake, "https://phish", "FAKE-ROW")) for ln in starts), (cmd, p.stdout)

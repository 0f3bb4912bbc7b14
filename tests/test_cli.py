"""The CLI as users and cron jobs run it: a real process, real files."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from tests.conftest import run_cli, tree_fingerprint

ANSI = re.compile(r"\x1b\[")


def test_text_report_groups_failures(gcam_run: Path) -> None:
    p = run_cli("diagnose", str(gcam_run), "--no-ai")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "41 failures detected in 5 groups across 5 categories" in out
    assert re.search(r"\[error\] KeyError in run_gcam \(invalid_input\) — 14 occurrences", out)
    assert "Pattern:    'region_<n>'" in out
    assert "Suggestion:" in out
    assert not ANSI.search(out), "piped output must be plain"
    assert p.stderr == ""


def test_color_only_when_asked_or_on_a_terminal(gcam_run: Path) -> None:
    assert ANSI.search(run_cli("diagnose", str(gcam_run), "--color", "always").stdout)
    assert not ANSI.search(run_cli("diagnose", str(gcam_run), env={"NO_COLOR": "1"}).stdout)


def test_json_is_the_only_thing_on_stdout(gcam_run: Path) -> None:
    p = run_cli("diagnose", str(gcam_run), "--format", "json")
    assert p.returncode == 0
    doc = json.loads(p.stdout)
    assert {"run_id", "run_dir", "status", "method", "summary", "failures_total", "tasks", "findings"} <= set(doc)
    assert doc["failures_total"] == 41 and doc["tasks"] == {"failed": 41, "succeeded": 79}
    assert sum(f["count"] for f in doc["findings"]) == 41
    f = doc["findings"][0]
    for key in ("id", "category", "severity", "title", "count", "transient", "exception_types", "pattern",
                "suggestion", "evidence", "task_ids", "workers", "first_seen", "last_seen", "example_message"):
        assert key in f, key
    assert "failure_indices" not in f


def test_markdown_report(gcam_run: Path) -> None:
    p = run_cli("diagnose", str(gcam_run), "--format", "markdown")
    assert p.returncode == 0
    assert p.stdout.startswith("# Diagnosis of run-20261123T081131Z-gcam-stitches-a92143d5")
    assert "| 1 | critical | `disk_full` |" in p.stdout
    assert "## 2. KeyError in run\\_gcam" in p.stdout


def test_latest_and_run_id_under_runs_dir(gcam_run: Path) -> None:
    runs_dir = gcam_run.parent
    a = run_cli("diagnose", "--latest", "--runs-dir", str(runs_dir), "--format", "json")
    b = run_cli("diagnose", "--run-id", gcam_run.name, "--format", "json", env={"SCALABLE_RUNS_DIR": str(runs_dir)})
    assert json.loads(a.stdout)["run_id"] == json.loads(b.stdout)["run_id"] == gcam_run.name


def test_missing_run_is_exit_2_with_one_line(tmp_path: Path) -> None:
    for args in (["diagnose", str(tmp_path / "nope")], ["diagnose", "--latest", "--runs-dir", str(tmp_path / "x")],
                 ["diagnose", "--run-id", "run-x", "--runs-dir", str(tmp_path)], ["diagnose"], ["diagnose", str(tmp_path)]):
        p = run_cli(*args)
        assert p.returncode == 2, args
        assert p.stdout == ""
        assert len(p.stderr.strip().splitlines()) == 1 and p.stderr.startswith("scalable-tui: "), p.stderr


def test_an_address_where_a_run_is_expected_says_to_attach() -> None:
    """``diagnose tcp://host:8786`` said "run directory tcp:/host:8786 does not exist" (one slash lost)."""
    for cmd in ("diagnose", "review"):
        p = run_cli(cmd, "tcp://127.0.0.1:8786")
        assert p.returncode == 2 and p.stdout == "", (cmd, p.stderr)
        assert p.stderr.strip() == ("scalable-tui: tcp://127.0.0.1:8786 is an address, not a run directory: this "
                                    "command reads a run directory; to watch a live scheduler, run: scalable-tui "
                                    "attach tcp://127.0.0.1:8786"), p.stderr


def test_fail_on_for_cron(gcam_run: Path) -> None:
    assert run_cli("diagnose", str(gcam_run), "--fail-on", "critical").returncode == 1
    assert run_cli("diagnose", str(gcam_run), "--fail-on", "error").returncode == 1


def test_fail_on_passes_on_a_clean_run(run_copy) -> None:
    run = run_copy("gcam-stitches")
    (run / "failures.jsonl").write_text("")
    keep = [ln for ln in (run / "tasks.jsonl").read_text().splitlines(keepends=True) if '"failed"' not in ln]
    (run / "tasks.jsonl").write_text("".join(keep))
    p = run_cli("diagnose", str(run), "--fail-on", "info")
    assert p.returncode == 0 and "No failures recorded" in p.stdout


def test_output_file_and_refusal_to_write_into_the_run(gcam_run: Path, tmp_path: Path, run_copy) -> None:
    out = tmp_path / "report.json"
    p = run_cli("diagnose", str(gcam_run), "--format", "json", "-o", str(out))
    assert p.returncode == 0 and p.stdout == ""
    assert json.loads(out.read_text())["failures_total"] == 41
    run = run_copy("gcam-stitches")
    before = tree_fingerprint(run)
    p = run_cli("diagnose", str(run), "-o", str(run / "report.txt"))
    assert p.returncode == 2 and "refusing to write into the run directory" in p.stderr
    assert tree_fingerprint(run) == before


def test_notices_go_to_stderr(run_copy) -> None:
    run = run_copy("gcam-stitches")
    with (run / "tasks.jsonl").open("ab") as f:
        f.write(b'{"broken\n{"task_id": "x", "sta')
    p = run_cli("diagnose", str(run), "--format", "json")
    assert p.returncode == 0
    json.loads(p.stdout)
    assert "note: tasks.jsonl: skipped 1 corrupt line(s)" in p.stderr


def test_untrusted_text_is_printed_literally(run_copy) -> None:
    run = run_copy("gcam-stitches")
    rec = json.loads((run / "failures.jsonl").read_text().splitlines()[0])
    rec.update(failure_class="ValueError", message="[bold red]boom[/] \x1b[2J\x1b]52;c;ZXZpbA==\x07 [link=http://x]y[/link]")
    with (run / "failures.jsonl").open("a") as f:
        f.write(json.dumps(rec) + "\n")
    p = run_cli("diagnose", str(run), "--color", "always")
    assert "[bold red]boom[/]" in p.stdout
    assert "\\x1b[2J" in p.stdout and "\x1b[2J" not in p.stdout and "\x1b]52" not in p.stdout
    assert "[link=http://x]y[/link]" in p.stdout
    md = run_cli("diagnose", str(run), "--format", "markdown").stdout
    assert "\x1b" not in md and "\\x1b" in md


def test_runs_lists_newest_first_with_abandoned_status(gcam_run: Path, tmp_path: Path) -> None:
    import shutil

    runs = tmp_path / "runs"
    shutil.copytree(gcam_run, runs / gcam_run.name)
    old = runs / "run-20261120T000000Z-old-00000000"
    old.mkdir()
    (old / "run.json").write_text(json.dumps({"run_id": old.name, "status": "running", "project_name": "old",
                                              "started_at": "2026-11-20T00:00:00Z"}))
    (old / "tasks.jsonl").write_text(json.dumps({"task_id": "a", "state": "submitted", "timestamp": "2026-11-20T00:00:01Z"}) + "\n")
    p = run_cli("runs", "--runs-dir", str(runs))
    assert p.returncode == 0
    lines = p.stdout.splitlines()
    assert lines[0].split()[:3] == ["RUN_ID", "PROJECT", "STATUS"]
    assert lines[1].startswith(gcam_run.name) and " completed " in lines[1] and " 79 " in lines[1]
    assert lines[2].startswith(old.name) and "abandoned?" in lines[2]
    doc = json.loads(run_cli("runs", "--runs-dir", str(runs), "--format", "json").stdout)
    assert [r["abandoned"] for r in doc] == [False, True] and doc[1]["unfinished"] == 1


def test_runs_columns_add_up_to_the_runs_tasks(tmp_path: Path) -> None:
    """A cancelled task is a final state too: 48 succeeded + 21 failed + 0 unfinished left one of 70 tasks unsaid."""
    from tests.conftest import fixture_run

    src = fixture_run("mixed-failures")
    runs = tmp_path / "runs"
    shutil.copytree(src, runs / src.name)
    doc = json.loads(run_cli("runs", "--runs-dir", str(runs), "--format", "json").stdout)
    (row,) = doc
    assert (row["succeeded"], row["failed"], row["cancelled"], row["unfinished"]) == (48, 21, 1, 0)
    text = run_cli("runs", "--runs-dir", str(runs)).stdout.splitlines()
    head = text[0].split()
    assert head[4:8] == ["SUCCEEDED", "FAILED", "CANCELLED", "UNFINISHED"]
    assert text[1].split()[4:8] == ["48", "21", "1", "0"]
    # the same from the reader (a run without summary.json is read, not summarised)
    (runs / src.name / "summary.json").unlink()
    (row,) = json.loads(run_cli("runs", "--runs-dir", str(runs), "--format", "json").stdout)
    assert (row["succeeded"], row["failed"], row["cancelled"], row["unfinished"]) == (48, 21, 1, 0)

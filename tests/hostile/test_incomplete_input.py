"""Unreadable input is said in the report itself, never a green "no failures"."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

from assistant.diagnose import diagnose_state
from assistant.incomplete import incomplete_inputs
from scalable_tui.sources.rundir.reader import load_run
from tests.conftest import run_cli, tree_fingerprint
from tests.hostile.rundirs import copy_fixture


def _random_binary(path: Path, size: int, seed: int = 13) -> None:
    path.write_bytes(random.Random(seed).randbytes(size))


def test_random_binary_tasks_file_is_reported_in_every_format(tmp_path: Path) -> None:
    run = copy_fixture(tmp_path)
    _random_binary(run / "tasks.jsonl", 2_000_000)
    (run / "failures.jsonl").unlink()
    before = tree_fingerprint(run)
    text = run_cli("diagnose", str(run), "--no-ai", "--slurm", "off")
    assert text.returncode == 0, text.stderr
    assert "✓ No failures recorded" not in text.stdout
    # One warning for the file (wrapped: its last line, cut off by the random bytes, is said in it too).
    warn = [" ".join(p.split()) for p in text.stdout.split("\n\n") for p in p.split("\n⚠") if "tasks.jsonl:" in p]
    assert len(warn) == 1 and "% unreadable" in warn[0] and "results are incomplete" in warn[0], text.stdout
    # The share is right: every complete line of random bytes is skipped (empty lines are not counted as data).
    lines = (run / "tasks.jsonl").read_bytes().count(b"\n")
    assert f"of {lines} lines skipped" in warn[0]
    md = run_cli("diagnose", str(run), "--no-ai", "--slurm", "off", "--format", "markdown").stdout
    assert "**⚠ Incomplete input:** tasks.jsonl: " in md
    diag = json.loads(run_cli("diagnose", str(run), "--no-ai", "--slurm", "off", "--format", "json").stdout)
    assert diag["incomplete"] and diag["incomplete"][0].startswith("tasks.jsonl: ")
    assert "Input incomplete" in diag["summary"]
    assert tree_fingerprint(run) == before  # read only


def test_some_corrupt_lines_give_a_small_share(tmp_path: Path) -> None:
    run = copy_fixture(tmp_path)
    with (run / "failures.jsonl").open("ab") as fh:
        fh.write(b"{not json\n\xff\xfe\n")
    state = load_run(run)
    total = (run / "failures.jsonl").read_bytes().count(b"\n")
    [line] = incomplete_inputs(state)
    assert line.startswith("failures.jsonl: ") and f"(2 of {total} lines skipped)" in line
    diag = diagnose_state(state)
    assert diag.incomplete == [line] and diag.failures_total > 0


def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        # root reads a 000 file: make the path a directory instead (open() fails with EISDIR).
        run = copy_fixture(tmp_path)
        (run / "failures.jsonl").unlink()
        (run / "failures.jsonl").mkdir()
    else:
        run = copy_fixture(tmp_path)
        (run / "failures.jsonl").chmod(0)
    diag = diagnose_state(load_run(run))
    assert any(w.startswith("failures.jsonl: unreadable") for w in diag.incomplete), diag.incomplete


def test_clean_run_has_no_incomplete_warning(tmp_path: Path) -> None:
    run = copy_fixture(tmp_path)
    diag = diagnose_state(load_run(run))
    assert diag.incomplete == []
    assert "Input incomplete" not in diag.summary


def test_a_finished_runs_cut_off_last_line_is_said_not_dropped_silently(tmp_path: Path) -> None:
    """The writer was killed mid-line and the session still closed: the lost event is said, in every door.

    An audit found nothing on stderr, no ``incomplete``, and a task counted "running" in a completed run.
    """
    from tests.hostile.rundirs import fixture_run

    run = copy_fixture(tmp_path, "gcam-stitches")
    assert json.loads((run / "run.json").read_text())["status"] == "completed"
    lines = (run / "tasks.jsonl").read_bytes().splitlines(keepends=True)
    last = lines[-1]
    (run / "tasks.jsonl").write_bytes(b"".join(lines[:-1]) + last[: len(last) // 2])
    cut = len(last) // 2
    before = tree_fingerprint(run)
    p = run_cli("diagnose", str(run), "--no-ai", "--slurm", "off")
    assert p.returncode == 0, p.stderr
    assert (f"tasks.jsonl: its last line is incomplete ({cut} bytes, no newline) and was not read: "
            "the writer stopped mid-line") in p.stderr
    assert f"⚠ tasks.jsonl: its last line was cut off mid-line ({cut} bytes, not read)" in p.stdout
    doc = json.loads(run_cli("diagnose", str(run), "--no-ai", "--slurm", "off", "--format", "json").stdout)
    assert any(x.startswith("tasks.jsonl: its last line was cut off") for x in doc["incomplete"])
    # The other files, whole, are not named; the untouched original says nothing of the kind.
    assert not any(x.startswith(("failures.jsonl", "resources.jsonl")) for x in doc["incomplete"])
    clean = json.loads(run_cli("diagnose", str(fixture_run("gcam-stitches")), "--no-ai", "--slurm", "off",
                               "--format", "json").stdout)
    assert clean["incomplete"] == [] and not any("incomplete" in n for n in clean["notices"])
    assert tree_fingerprint(run) == before


def test_a_growing_runs_unfinished_line_is_held_back_then_read(tmp_path: Path) -> None:
    """While the run is written, a line without its newline is only "not read yet", and is read once finished."""
    from scalable_tui.sources.rundir.reader import RunDirReader

    run = copy_fixture(tmp_path, "gcam-stitches")
    meta = json.loads((run / "run.json").read_text())
    meta.update(status="running", finished_at=None)
    (run / "run.json").write_text(json.dumps(meta))
    data = (run / "tasks.jsonl").read_bytes()
    head, last = data[: data.rstrip(b"\n").rfind(b"\n") + 1], data[data.rstrip(b"\n").rfind(b"\n") + 1:]
    (run / "tasks.jsonl").write_bytes(head + last[:10])
    reader = RunDirReader(run, store_index=False)
    state = reader.load()
    assert state.issues["tasks.jsonl"].held_back == 10
    # Not (yet) lost: no note while the writer may be mid-line (an abandoned run's diagnosis says it).
    assert not any("incomplete" in n for n in state.notices())
    assert not any(x.startswith("tasks.jsonl") for x in incomplete_inputs(state))
    assert any(x.startswith("tasks.jsonl: its last line was cut off") for x in incomplete_inputs(state, True))
    with (run / "tasks.jsonl").open("ab") as fh:
        fh.write(last[10:])
    reader.refresh()
    assert "tasks.jsonl" not in state.issues and not any("incomplete" in n for n in state.notices())
    assert state.lines_read["tasks.jsonl"] == data.count(b"\n")

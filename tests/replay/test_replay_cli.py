"""``scalable-tui review`` tells recordings from run directories; a non-recording file is a clean error."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_cli


def test_review_on_a_non_recording_file_is_one_line_exit_2(tmp_path: Path) -> None:
    f = tmp_path / "notes.rec"
    f.write_text("not a recording\n")
    proc = run_cli("review", str(f), "--no-ai")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "notes.rec" in lines[0] and "Traceback" not in proc.stderr

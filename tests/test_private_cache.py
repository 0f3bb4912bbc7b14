"""The one writer of the user's cache (run index, run summaries, LLM replies)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from scalable_tui.private_cache import private_dirs, write_private


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_only_our_directories_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        shared = tmp_path / "home" / ".cache"
        ours = private_dirs(shared / "scalable-tui" / "index" / "abc", public_up_to=shared)
    finally:
        os.umask(old)
    assert ours.is_dir()
    assert _mode(shared) == 0o755 and _mode(tmp_path / "home") == 0o755  # shared with other programs
    assert all(_mode(p) == 0o700 for p in (shared / "scalable-tui", shared / "scalable-tui" / "index", ours))
    private_dirs(tmp_path / "x" / "y")  # without public_up_to: every missing directory is private
    assert _mode(tmp_path / "x") == 0o700 and _mode(tmp_path / "x" / "y") == 0o700


def test_write_is_atomic_private_and_leaves_nothing_behind_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "entry.json"
    write_private(target, b"old")
    assert target.read_bytes() == b"old" and _mode(target) == 0o600

    def fails(f) -> None:  # type: ignore[no-untyped-def]
        f.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_private(target, fails)
    assert target.read_bytes() == b"old"  # the reader never sees half a file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry.json"]

"""The ``--on-finding`` command the alert tests run: it stores each JSON it gets on stdin."""

from __future__ import annotations

import textwrap
from pathlib import Path


def hook_into(tmp_path: Path) -> tuple[Path, Path]:
    """A script that stores each JSON it gets on stdin as ``got/<n>.json``; returns (got, script)."""
    got = tmp_path / "got"
    got.mkdir()
    hook = tmp_path / "hook.py"
    hook.write_text(textwrap.dedent("""
        import pathlib, sys
        d = pathlib.Path(sys.argv[1])
        (d / f"{len(list(d.iterdir()))}.json").write_bytes(sys.stdin.buffer.read())
    """))
    return got, hook

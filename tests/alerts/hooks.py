"""The ``--on-finding`` command the alert tests run: it stores each JSON it gets on stdin."""

from __future__ import annotations

import textwrap
from pathlib import Path


def hook_into(tmp_path: Path, say: str | None = None) -> tuple[Path, Path]:
    """A script that stores each JSON it gets on stdin as ``got/<n>.json`` (and prints ``say``); returns
    (got, script)."""
    got = tmp_path / "got"
    got.mkdir()
    hook = tmp_path / "hook.py"
    hook.write_text(textwrap.dedent("""
        import pathlib, sys
        d = pathlib.Path(sys.argv[1])
        (d / f"{len(list(d.iterdir()))}.json").write_bytes(sys.stdin.buffer.read())
    """) + (f"print({say!r})\n" if say else ""))
    return got, hook

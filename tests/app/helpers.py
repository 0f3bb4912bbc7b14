"""Helpers for the review-app tests: screen text, bounded waits, fixture edits."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import orjson
from textual.app import App


def screen_text(app: App) -> str:
    """The characters currently on the (virtual) screen, one line per row."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(seg.text for seg in strip) for strip in strips)


async def wait_for(pilot, cond: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll ``cond`` with small awaits until true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if cond():
                return
        except Exception:  # noqa: BLE001 - not ready yet (widget not mounted, …)
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; screen:\n{screen_text(pilot.app)}")
        await pilot.pause(0.02)


async def wait_text(pilot, needle: str, timeout: float = 10.0) -> str:
    await wait_for(pilot, lambda: needle in screen_text(pilot.app), timeout, f"{needle!r} on screen")
    return screen_text(pilot.app)


async def wait_loaded(pilot, timeout: float = 10.0) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.snapshot is not None, timeout, "the first snapshot")
    await wait_for(pilot, lambda: getattr(app.screen, "shown_version", None) == app.snapshot.version, timeout, "render")
    await pilot.pause()


def append_jsonl(path: Path, *records: dict) -> None:
    with path.open("ab") as fh:
        for r in records:
            fh.write(orjson.dumps(r) + b"\n")


def set_status(run_dir: Path, status: str, finished_at: str | None = None) -> None:
    p = run_dir / "run.json"
    meta = orjson.loads(p.read_bytes())
    meta["status"] = status
    meta["finished_at"] = finished_at
    p.write_bytes(orjson.dumps(meta, option=orjson.OPT_INDENT_2))

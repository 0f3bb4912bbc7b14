"""``y`` / ``Y``: copy the selected failure group's task ids / its retry script (``session.group_copy``).

A screen offers a group by defining ``group_target() -> Finding | None``
(Findings: the highlighted finding; a Failures group: that group).  The
text is built in a thread worker (the retry plan reads ``resources.jsonl``
and walks the task table) and copied with Textual's ``copy_to_clipboard``
(OSC 52), like ``c``.
"""

from __future__ import annotations

from typing import Any

from scalable_tui.session.group_copy import Copied, copy_task_ids, group_retry_script
from scalable_tui.tui.fmt import safe

__all__ = ["copy_group", "offers_group"]

#: Said after every copy: OSC 52 is sent, whether the terminal took it cannot be known (as ``c`` says).
OSC52_NOTE = " (sent by OSC 52; if nothing arrives, enable clipboard access in your terminal: tmux: set -g set-clipboard on)"


def offers_group(screen: Any) -> bool:
    return callable(getattr(screen, "group_target", None))


def copy_group(app: Any, what: str) -> None:
    """Copy ``what`` (``ids`` or ``script``) of the group the current screen has selected."""
    screen = app.screen
    finding = screen.group_target() if offers_group(screen) else None
    snap = screen.shown_snapshot() if finding is not None else None
    if finding is None or snap is None:
        app.notify("select a failure group first: on Findings (4), or open a group on Failures (3)",
                   severity="warning", timeout=6)
        return
    live = bool(app.view.caps.live)

    def build() -> None:
        try:
            copied = copy_task_ids(snap, finding) if what == "ids" else group_retry_script(snap, finding, live=live)
        except Exception as exc:  # noqa: BLE001 - said to the user, never a crash
            copied = Copied(None, f"could not build the {'task ids' if what == 'ids' else 'retry script'}: "
                                  f"{type(exc).__name__}: {exc}")
        app.call_from_thread(_done, app, copied)

    app.run_worker(build, name=f"copy group {what}", group="copy-group", thread=True, exit_on_error=False)


def _done(app: Any, copied: Copied) -> None:
    if copied.text is None:
        app.notify(safe(copied.message), severity="warning", timeout=10, markup=False)  # titles are untrusted
        return
    app.copy_to_clipboard(copied.text)
    app.notify(safe(copied.message) + OSC52_NOTE, timeout=10, markup=False)

"""The Textual review app (``scalable-tui review``).

``scalable_tui.tui.ReviewApp`` imports Textual on first access; ``data`` and
``fmt`` are headless.  The CLI imports the app only inside the ``review``
command so that ``scalable-tui --help`` stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ReviewApp", "ScalableApp"]


def __getattr__(name: str) -> Any:
    if name in ("ReviewApp", "ScalableApp"):
        from scalable_tui.tui import app

        return getattr(app, name)
    raise AttributeError(name)

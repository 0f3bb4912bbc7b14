"""Hand the terminal to pdb for ``D`` (debug a failure locally) while the app keeps monitoring."""

from __future__ import annotations

import asyncio
import signal
import threading
from typing import Any

__all__ = ["debug_in_terminal"]


async def debug_in_terminal(app: Any, job: Any, post_mortem: Any = None) -> str:
    """Give the terminal to the replay and pdb, and keep the app monitoring meanwhile.

    ``app.suspend()`` releases the terminal (no key reading, the alternate
    screen left); ``app.batch_update()`` holds every repaint until pdb quits,
    so nothing the live source changes meanwhile is drawn over pdb's prompt.
    The replay runs on a thread (``asyncio.to_thread``): the event loop, and
    with it the poll loop, the recorder and the diagnosis, keeps running.
    Ctrl+C in the cooked terminal would interrupt the event loop, not pdb:
    SIGINT is ignored for the session (``q`` quits pdb).  Raises
    ``SuspendNotSupported`` when there is no terminal to hand over.
    """
    main = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        with app.batch_update(), app.suspend():
            from scalable_tui.session.debug import replay

            return await asyncio.to_thread(replay, job, post_mortem)
    finally:
        if main:
            signal.signal(signal.SIGINT, old if old is not None else signal.default_int_handler)

"""Debug a failed task locally: confirm, fetch its function and inputs, replay it under pdb.

The way Dask's ``Client.recreate_error_locally`` does it (``get_runspec`` on
the scheduler, then the inputs gathered), with a short-lived ``Client`` that
exists only for this action: it is the only place the attach app fetches task
data, and it asks first.

Monitoring goes on while pdb is open (``debug_in_terminal``): the replay runs
on a thread and the app's event loop keeps polling the scheduler, recording
and diagnosing; only the screen is handed over.
"""

from __future__ import annotations

import asyncio
import pdb
import signal
import sys
import threading
import traceback
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from scalable_tui.tui.fmt import safe


class DebugUnavailable(Exception):
    """One line saying why the task cannot be replayed here."""


class ConfirmDebugScreen(ModalScreen[bool]):
    DEFAULT_CSS = """
    ConfirmDebugScreen { align: center middle; }
    ConfirmDebugScreen > Vertical { width: 80; height: auto; border: thick $warning; padding: 1 2; background: $surface; }
    """
    BINDINGS = [Binding("y", "answer(True)", "Replay"), Binding("n,escape", "answer(False)", "Cancel")]

    def __init__(self, key: str, address: str) -> None:
        super().__init__()
        self.key = key
        self.address = address

    def compose(self) -> ComposeResult:
        t = Text()
        t.append("Debug this failure locally?\n\n", style="bold")
        t.append(f"task {safe(self.key)}\n\n")
        t.append("This fetches the task's function and its inputs from the scheduler at "
                 f"{safe(self.address)} (a short-lived client; the only action that fetches task data), runs it "
                 "in this process and opens pdb at the exception. Quit pdb (q) to return here.\n\n")
        t.append("y", style="bold")
        t.append(": replay   ")
        t.append("n / Esc", style="bold")
        t.append(": cancel")
        with Vertical():
            yield Static(t)

    def action_answer(self, ok: bool) -> None:
        self.dismiss(ok)


@dataclass
class DebugJob:
    key: str
    client: Any
    runspec: Any
    dependencies: Any


async def _components(client: Any, key: str) -> tuple[Any, dict[Any, Any]]:
    """``recreate_error_locally``'s two steps: the task's run spec, then its inputs' values."""
    runspec = await client.scheduler.get_runspec(key=key)
    deps = list(getattr(runspec, "dependencies", ()) or ())
    if not deps:
        return runspec, {}
    resp = await client.scheduler.gather(keys=deps)  # read only: no future is created for them
    if resp.get("status") != "OK":
        raise KeyError(f"inputs of {key} are no longer held: {sorted(map(str, resp.get('keys', ())))[:3]}")
    return runspec, dict(resp["data"])


def fetch_task(address: str, key: str, security: Any = None, timeout: float = 10.0) -> DebugJob:
    """Function and inputs of ``key``; ``DebugUnavailable`` with one line when it cannot be had."""
    from distributed import Client

    try:
        client = Client(address, security=security, timeout=timeout, set_as_default=False)
    except Exception as e:  # noqa: BLE001
        raise DebugUnavailable(f"cannot connect a client to {address}: {type(e).__name__}: {e}") from None
    try:
        runspec, deps = client.sync(_components, client, key, callback_timeout=timeout)
    except (ModuleNotFoundError, ImportError, AttributeError) as e:
        client.close()
        raise DebugUnavailable(f"its code cannot be loaded here ({type(e).__name__}: {e}); "
                               "install the workflow's modules in this environment") from None
    except KeyError:
        client.close()
        raise DebugUnavailable(f"the scheduler no longer holds task {key} (released or forgotten)") from None
    except Exception as e:  # noqa: BLE001
        client.close()
        raise DebugUnavailable(f"cannot fetch task {key}: {type(e).__name__}: {str(e)[:200]}") from None
    return DebugJob(key, client, runspec, deps)


async def debug_in_terminal(app: Any, job: DebugJob, post_mortem: Any = None) -> str:
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
            return await asyncio.to_thread(replay, job, post_mortem)
    finally:
        if main:
            signal.signal(signal.SIGINT, old if old is not None else signal.default_int_handler)


def replay(job: DebugJob, post_mortem: Any = None) -> str:
    """Run the task here; on its exception open the post-mortem debugger.  Returns a one-line result."""
    post_mortem = post_mortem or pdb.post_mortem
    try:
        print(f"\nscalable-tui: replaying {job.key} locally; quit the debugger (q) to return to the app\n",
              flush=True)
        try:
            job.runspec(job.dependencies)
        except Exception:  # noqa: BLE001 - that is the point
            etype, value, tb = sys.exc_info()
            traceback.print_exception(etype, value, tb)
            post_mortem(tb)
            return f"replayed {job.key}: {etype.__name__ if etype else 'error'}: {str(value)[:150]}"
        return f"{job.key} ran here without an error (the failure did not reproduce locally)"
    finally:
        try:
            job.client.close()
        except Exception:  # noqa: BLE001
            pass

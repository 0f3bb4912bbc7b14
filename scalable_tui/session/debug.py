"""Debug a failed task locally: fetch its function and inputs, replay it under pdb.

The way Dask's ``Client.recreate_error_locally`` does it (``get_runspec`` on
the scheduler, then the inputs gathered), with a short-lived ``Client`` that
exists only for this action: it is the only place the monitor fetches task
data, and the UI asks first.  Headless: the UI hands the terminal over and
calls ``replay`` on a thread, so monitoring goes on while pdb is open.
"""

from __future__ import annotations

import pdb
import sys
import traceback
from dataclasses import dataclass
from typing import Any

__all__ = ["DebugJob", "DebugUnavailable", "fetch_task", "replay"]


class DebugUnavailable(Exception):
    """One line saying why the task cannot be replayed here."""


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

"""Scheduler addresses: where to find one, what a usable one looks like, and what answers there.

Split from the live source so the rules for an address (the Dask lookup order,
the schemes we speak, the help a user gets) can be read and tested without a
scheduler.  ``probe_port`` is the one bit of I/O: a cheap look at a port that
did not answer like a scheduler, to tell "down" and "not Dask" from "silent".
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from pathlib import Path
from typing import Any

import dask

__all__ = ["ADDRESS_HELP", "NOT_DASK", "LiveAddressError", "NotDaskError", "NotTLSError", "check_address",
           "resolve_address", "probe_port"]

#: What a user is told when no address can be found.
ADDRESS_HELP = (
    "no scheduler address: pass one (tcp://host:8786 or tls://host:8786), "
    "or --scheduler-file FILE, or set DASK_SCHEDULER_ADDRESS (dask config 'scheduler-address')"
)


class LiveAddressError(ValueError):
    """No usable scheduler address (the CLI prints it as one line, exit 2)."""



#: Said when an HTTP server answers where a scheduler was expected (a pasted dashboard address).
NOT_DASK = "this is not a Dask scheduler (HTTP answered; the scheduler port is usually 8786)"
_SCHEMES = ("tcp", "tls")
_UNSUPPORTED = {"inproc": "in-process", "ucx": "UCX", "ucxx": "UCX", "ws": "websocket", "wss": "websocket"}


class NotDaskError(ConnectionError):
    """Something that is not a Dask scheduler answered at the address (an HTTP server)."""


class NotTLSError(ConnectionError):
    """A tls:// address whose server answers in plain text (a tcp:// scheduler)."""


def check_address(address: str) -> str:
    """``address`` when it is ``tcp://host:port`` or ``tls://host:port``; else ``LiveAddressError``.

    Without this an unknown scheme or a pasted dashboard URL opened the app and
    retried forever.
    """
    scheme, _, rest = address.partition("://")
    scheme = scheme.lower()
    if scheme in ("http", "https"):
        host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
        host = host if host.startswith("[") else host.split(":", 1)[0]
        host = host.split("]:", 1)[0] + "]" if host.startswith("[") and "]:" in host else host
        guess = f" (perhaps tcp://{host}:8786)" if host else ""
        raise LiveAddressError(
            f"{address} is a web address (the dashboard?), not a scheduler address; "
            f"use tcp://HOST:PORT, the scheduler port is usually 8786{guess}")
    if scheme in _UNSUPPORTED:
        raise LiveAddressError(f"{scheme}:// ({_UNSUPPORTED[scheme]}) addresses are not supported; "
                               "use tcp://HOST:PORT or tls://HOST:PORT")
    if scheme not in _SCHEMES:
        raise LiveAddressError(f"unknown address scheme {scheme + '://'!r} in {address!r}; "
                               "use tcp://HOST:PORT or tls://HOST:PORT (or HOST:PORT for tcp)")
    host, colon, port = rest.rpartition(":")
    if not colon or not host or "/" in rest or not port.isdigit() or not 0 < int(port) < 65536:
        raise LiveAddressError(f"not a scheduler address: {address!r}; use {scheme}://HOST:PORT, "
                               "e.g. tcp://127.0.0.1:8786")
    return address


def resolve_address(address: str | None = None, scheduler_file: str | os.PathLike[str] | None = None) -> str:
    """The scheduler address, the Dask way: ADDRESS, then ``--scheduler-file``, then
    ``$DASK_SCHEDULER_ADDRESS``, then dask config ``scheduler-address``.

    Raises ``LiveAddressError`` with a one-line message saying how to pass one
    (also for an unsupported scheme or a web address: see ``check_address``).
    """
    if address:
        address = address.strip()
        return check_address(address if "://" in address else f"tcp://{address}")
    if scheduler_file:
        p = Path(scheduler_file)
        try:
            data = json.loads(p.read_text())
        except FileNotFoundError:
            raise LiveAddressError(f"scheduler file {p} does not exist (is the scheduler running?)") from None
        except (OSError, ValueError) as e:
            raise LiveAddressError(f"scheduler file {p} is not readable JSON: {e}") from None
        addr = data.get("address") if isinstance(data, dict) else None
        if not isinstance(addr, str) or not addr:
            raise LiveAddressError(f"scheduler file {p} has no 'address'")
        return check_address(addr)
    env = os.environ.get("DASK_SCHEDULER_ADDRESS")
    if env:
        return resolve_address(env)
    cfg = dask.config.get("scheduler-address", None)
    if cfg:
        return resolve_address(str(cfg))
    raise LiveAddressError(ADDRESS_HELP)



async def _open(address: str) -> tuple[Any, Any] | str | None:
    """A plain TCP connection to ``address``'s port (reader, writer), ``refused``, or None (cannot tell)."""
    try:
        from distributed.comm.addressing import get_address_host_port

        host, port = get_address_host_port(address)
    except Exception:
        return None
    try:
        return await asyncio.wait_for(asyncio.open_connection(host, port), 0.5)
    except ConnectionRefusedError:
        return "refused"
    except socket.gaierror:
        return "unresolved"
    except (OSError, TimeoutError):
        return None


async def port_state(address: str) -> str | None:
    """``refused`` (the port refuses a TCP connection now), ``unresolved`` (its host name has no address)
    or None (cannot tell, or it accepts).  Nothing is written; an accepted connection is closed."""
    try:
        opened = await _open(address)
    except Exception:  # noqa: BLE001 - cannot tell
        return None
    if isinstance(opened, tuple):
        opened[1].close()
        return None
    return opened


async def probe_port(address: str, plain: bool = False) -> str | None:
    """``refused``, ``http`` (an HTTP server answers), ``plain`` (``plain``: a TLS handshake
    was answered in plain text, and non-HTTP bytes come first: a tcp:// scheduler) or None
    (cannot tell) for ``address``'s port.

    A Dask scheduler speaks first (its comm handshake) as soon as a connection
    is accepted, so nothing is written to one that answers.  Only a silent
    port gets a ``HEAD / HTTP/1.0`` line: an HTTP server replies ``HTTP/…``;
    a stopped scheduler sees, once it runs again, a connection closed before
    its handshake (an info line in its log).  Never on tls:// (plain text
    to a TLS listener is logged as a failed TLS handshake).
    """
    opened = await _open(address)
    if not isinstance(opened, tuple):
        return opened
    reader, writer = opened
    try:
        if address.startswith("tls://") and not plain:
            return None
        try:
            first = await asyncio.wait_for(reader.readexactly(5), 0.2)
        except TimeoutError:
            writer.write(b"HEAD / HTTP/1.0\r\n\r\n")
            await asyncio.wait_for(writer.drain(), 0.2)
            first = await asyncio.wait_for(reader.readexactly(5), 0.3)
        if first == b"HTTP/":
            return "http"
        return "plain" if plain else None
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        return None
    finally:
        writer.close()

"""The link to the scheduler: one raw comm, bounded calls, and what a failed call means.

``SchedulerLink`` is mixed into ``LiveSource``: it owns the comm (``_comm``,
``_conn_args``), the call timeout (``_timeout``, see ``timeout.py``) and the
reconnect bookkeeping (``_consecutive_failures``/``_timeouts``, backoff to
``max_backoff``), and reports link changes through the snapshot folder's
``_event`` (``ingest.py``).  ``classify_error`` turns any exception into
"timeout" / "down" / "error" plus a reason a user can act on.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from typing import Any

from distributed.comm import connect

from scalable_tui.sources.live.address import NOT_DASK, NotDaskError, NotTLSError, port_state, probe_port

__all__ = ["RemoteError", "SchedulerLink", "classify_error"]


class RemoteError(Exception):
    """A scheduler handler raised.  Only its text is kept: nothing is unpickled."""

    def __init__(self, op: str, text: str | None, traceback_text: str | None = None) -> None:
        super().__init__(f"{op}: {text}")
        self.op = op
        self.text = text or ""
        self.traceback_text = traceback_text


# -- error classification -----------------------------------------------------
def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and e not in out and len(out) < 10:
        out.append(e)
        e = e.__cause__ or e.__context__
    return out


class UnknownHost(OSError):
    """The address's host name does not resolve (a typo, or DNS down)."""


def classify_error(exc: BaseException, timeout: float) -> tuple[str, str]:
    """(kind, reason): kind is ``timeout`` (no reply in time), ``down`` (refused/closed) or ``error``."""
    chain = _chain(exc)
    text = " | ".join(f"{type(e).__name__}: {e}" for e in chain)
    if isinstance(exc, RemoteError):
        return "error", f"scheduler error in {exc.op}: {exc.text[:300]}"
    if any(isinstance(e, NotDaskError) for e in chain):
        return "error", NOT_DASK
    for e in chain:
        if isinstance(e, NotTLSError):
            return "error", f"TLS: {e}"[:300]
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "Connection refused" in text:
        return "down", "connection refused (is the scheduler running?)"
    if any(isinstance(e, (UnknownHost, socket.gaierror)) for e in chain):
        return "down", "cannot resolve the scheduler's host name (check the address)"
    if any(isinstance(e, ssl.SSLError) for e in chain) or "TLS expects" in text or "ssl" in text.lower():
        return "error", f"TLS: {chain[-1]}"[:300]
    if isinstance(exc, TimeoutError) or (isinstance(exc, OSError) and "Timed out trying to connect" in str(exc)):
        return "timeout", f"no reply within {timeout:g} s"
    names = {type(e).__name__ for e in chain}
    if names & {"CommClosedError", "StreamClosedError", "ConnectionResetError", "BrokenPipeError",
                "ConnectionAbortedError", "EOFError"}:
        return "down", "connection closed by the scheduler"
    if isinstance(exc, OSError):
        return "down", f"{type(exc).__name__}: {exc}"[:300]
    return "error", f"{type(exc).__name__}: {exc}"[:300]


#: A connect still pending after this many seconds is checked for a refused port (a scheduler accepts in ms).
REFUSED_CHECK_AFTER = 1.0


async def _connect_unless_refused(connecting: Any, address: str, timeout: float) -> Any:
    """``connect`` within ``timeout``, but a refused port is said after ``REFUSED_CHECK_AFTER``, not ``timeout``.

    distributed's ``connect`` retries a refused port until its deadline: a
    wrong port (or a scheduler that is gone) took the whole call timeout,
    10 s, to say "connection refused".  A connect that is late gets one plain
    TCP connect beside it, nothing written; only when that one is refused
    does the call end early.  A healthy scheduler answers before the check,
    so it never sees the extra connection.
    """
    task = asyncio.ensure_future(connecting)
    start = time.monotonic()
    try:
        done, _ = await asyncio.wait({task}, timeout=min(REFUSED_CHECK_AFTER, timeout))
        state = None if done else await port_state(address)
        if state == "refused":
            task.cancel()
            raise ConnectionRefusedError(f"connection refused by {address}")
        if state == "unresolved":  # said as such, not as "no reply within 3 s"
            task.cancel()
            raise UnknownHost(f"cannot resolve the host name of {address}")
        return await asyncio.wait_for(task, max(0.0, timeout - (time.monotonic() - start)))
    except BaseException:
        task.cancel()
        raise


class _Rehandshake(Exception):
    """The scheduler behind the address is not the one we set up (restarted, plugin gone)."""



class SchedulerLink:
    """Calls over one comm and the connected/slow/down state they imply (a mixin of ``LiveSource``)."""

    async def _call(self, op: str, **kw: Any) -> Any:
        t = self.call_timeout
        comm = self._comm
        if comm is None or comm.closed():
            self._comm = None
            try:
                comm = await _connect_unless_refused(
                    connect(self.address, timeout=t, deserialize=False, **(self._conn_args or {})), self.address, t
                )
            except asyncio.CancelledError:
                raise
            except Exception as e:
                # connect() retries until its deadline, so a refused port can end as a
                # timeout, and an HTTP server (a pasted dashboard port) only as a timeout:
                # probe the port once to tell "down" and "not Dask" from "not answering".
                chain = _chain(e)
                # The TLS handshake was answered in plain text (an HTTP reply, or a tcp://
                # scheduler's handshake that arrived first: tornado's "not idle").
                plain = self.address.startswith("tls://") and any(
                    "WRONG_VERSION_NUMBER" in str(x) or "IOStream is not idle" in str(x) for x in chain)
                if not plain and any(isinstance(x, (ConnectionRefusedError, ssl.SSLError)) for x in chain):
                    raise
                probe = await probe_port(self.address, plain)
                if probe == "plain":
                    raise NotTLSError(f"the server at {self.address} answers in plain text, not TLS "
                                      f"(a tcp:// scheduler? try tcp://{self.address.split('://', 1)[1]})") from e
                if probe == "refused":
                    raise ConnectionRefusedError(f"connection refused by {self.address}") from e
                if probe == "http":
                    raise NotDaskError(f"{self.address}: {NOT_DASK}") from e
                raise
            comm.name = "scalable-tui monitor"
            self._comm = comm
        msg = {"op": op, "reply": True, **kw}
        t0 = time.perf_counter()
        try:
            resp = await asyncio.wait_for(self._roundtrip(comm, msg), t)
        except BaseException:
            comm.abort()  # its reply may still come: never reuse it
            self._comm = None
            raise
        self._timeout.observe(time.perf_counter() - t0)
        if isinstance(resp, dict) and resp.get("status") == "uncaught-error":
            raise RemoteError(op, resp.get("exception_text"), resp.get("traceback_text"))
        return resp

    @staticmethod
    async def _roundtrip(comm: Any, msg: dict[str, Any]) -> Any:
        await comm.write(msg, on_error="raise")
        return await comm.read()

    def _on_failure(self, exc: BaseException) -> None:
        s = self._snap
        if self._closed:  # close() raced with this poll: "closed" stays
            return
        kind, reason = classify_error(exc, self.call_timeout)
        now = time.time()
        self._consecutive_failures += 1
        self._need_handshake = True
        if kind == "timeout":
            waited = f"{self._timeout.current:g} s"  # the wait that was missed (before it grows)
            reason = f"no reply within {waited}"
            alarm = self._timeout.miss()
            self._consecutive_timeouts += 1
            if self._first_miss_at is None:
                self._first_miss_at = now
            if s.connected and not alarm:
                # One late reply from a scheduler that answered before: slow, not gone
                # (a busy scheduler); the next poll, at the usual time, waits longer.
                s.link = "slow"
                s.polls_failed += 1
                return
            link = "slow" if self._consecutive_timeouts == 1 else "unresponsive"
            if link == "unresponsive":
                reason = f"{self._consecutive_timeouts} calls without reply (the last one waited {waited})"
        else:
            self._consecutive_timeouts = 0
            self._timeout.reset()
            link = kind
        if s.connected or s.disconnected_since is None:
            s.disconnected_since = self._first_miss_at if kind == "timeout" and self._first_miss_at else now
            what = "lost the scheduler" if s.last_poll_ok else "cannot reach the scheduler"
            self._event(now, "disconnected", None, f"{what} at {self.address}: {link}: {reason}")
        s.connected = False
        s.link = link
        s.disconnect_reason = f"{link}: {reason}"
        s.polls_failed += 1
        backoff = min(self.max_backoff, self.poll_interval * 2 ** max(0, self._consecutive_failures - 1))
        s.retry_at = now + backoff

    def _on_success(self, latency_ms: float) -> None:
        s = self._snap
        if self._closed:
            return
        now = time.time()
        if not s.connected and s.disconnected_since is not None:
            self._event(now, "reconnected", None,
                        f"connected again after {now - s.disconnected_since:.1f} s ({s.disconnect_reason})")
        s.connected = True
        s.link = "ok"
        s.disconnected_since = None
        s.disconnect_reason = None
        s.retry_at = None
        s.last_poll_ok = now
        s.poll_latency_ms = latency_ms
        self._polls_ok += 1
        self._consecutive_failures = 0
        self._consecutive_timeouts = 0
        self._first_miss_at = None
        self._timeout.reset()  # a whole poll answered: misses start over

"""Live source: a read-only poller of a running Dask scheduler.

Headless core of ``scalable-tui attach``.  It never submits work, never holds
futures and never changes cluster state.  The one thing it adds to the
scheduler is a read-only ``SchedulerPlugin`` (``_live_plugin``, name
``scalable-tui-monitor``, registered once, idempotent) that records failures,
worker arrivals/departures and memory kills as they happen and answers one
O(workers + task prefixes) query per poll.  If the plugin cannot be installed
(pickle refused, handler blocked, very old scheduler) the source falls back to
the scheduler's msgpack-only handlers and lists the panels that are limited.

Talks to the scheduler over one raw comm (no ``Client``: nothing registered,
no heartbeats, no per-call pickling, and replies are read with
``deserialize=False`` so nothing from the cluster is ever unpickled here).

Use::

    src = LiveSource(resolve_address(None, "sched.json"), poll_interval=2.0)
    await src.start()
    snap = await src.poll()          # one poll -> LiveSnapshot (never raises for cluster trouble)
    await src.run(callback)          # loop: callback(snapshot) after every poll
    async for snap in src: ...       # the same as an async iterator
    await src.close()
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import pickle
import platform
import re
import ssl
import time
from collections import OrderedDict, deque
from dataclasses import replace
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

import dask
import distributed
import msgpack
from dask.utils import key_split
from distributed.comm import connect
from distributed.security import Security

from scalable_tui.model.live import (
    LiveEvent,
    LiveFailure,
    LiveSnapshot,
    PrefixCounts,
    WorkerInfo,
    memory_kill_text,
    near_limit_text,
    split_exception_text,
)
from scalable_tui.sources.live import plugin as plugin_module
from scalable_tui.sources.live.timeout import CallTimeout
from scalable_tui.sources.live.plugin import (
    HANDLER_DETACH,
    HANDLER_SUMMARY,
    PLUGIN_NAME,
    PLUGIN_VERSION,
    PREFIX_STATES,
    WORKER_FIELDS,
)

__all__ = ["LiveSource", "LiveAddressError", "NotDaskError", "RemoteError", "resolve_address", "check_address",
           "describe_departure", "NOT_DASK"]

#: What a user is told when no address can be found.
ADDRESS_HELP = (
    "no scheduler address: pass one (tcp://host:8786 or tls://host:8786), "
    "or --scheduler-file FILE, or set DASK_SCHEDULER_ADDRESS (dask config 'scheduler-address')"
)


class LiveAddressError(ValueError):
    """No usable scheduler address (the CLI prints it as one line, exit 2)."""


class RemoteError(Exception):
    """A scheduler handler raised.  Only its text is kept: nothing is unpickled."""

    def __init__(self, op: str, text: str | None, traceback_text: str | None = None) -> None:
        super().__init__(f"{op}: {text}")
        self.op = op
        self.text = text or ""
        self.traceback_text = traceback_text


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


# -- departures ---------------------------------------------------------------
_STIMULUS_REASONS = (
    # These two race (whichever the scheduler hears first) for the same event.
    ("handle-worker-cleanup", "the worker process exited or the connection to it was lost"),
    ("nanny-close", "the worker process exited or the connection to it was lost"),
    ("worker-send-comm-fail", "the scheduler could not send to the worker"),
    ("send-all-comm-fail", "the scheduler could not send to the worker"),
    ("check-worker-ttl", "no heartbeat within distributed.scheduler.worker-ttl"),
    ("retire-workers", "retired by the scheduler (scale down)"),
    ("worker-close", "the worker closed itself"),
    ("close-workers", "closed by a request to the scheduler"),
    ("restart", "restarted by a client request"),
)
_TRAILING_TIME = re.compile(r"-\d+(?:\.\d+)?(?:e[+-]?\d+)?$")
_CLOSING = ("closing", "closing_gracefully", "closed")


def describe_departure(stimulus: str | None, expected: bool | None, prev_status: str | None) -> str:
    """A human reason from the scheduler's stimulus id (``handle-worker-cleanup-1712…``)."""
    base = _TRAILING_TIME.sub("", stimulus or "")
    reason = None
    for prefix, text in _STIMULUS_REASONS:
        if base.startswith(prefix):
            reason = text
            break
    if reason is None:
        reason = f"removed by the scheduler ({base})" if base else "removed by the scheduler"
    if prev_status in _CLOSING:
        reason = f"the worker shut down (status {prev_status}); {reason}"
    elif expected:
        reason = f"expected: {reason}"
    return reason


# -- error classification -----------------------------------------------------
def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and e not in out and len(out) < 10:
        out.append(e)
        e = e.__cause__ or e.__context__
    return out


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


class _Rehandshake(Exception):
    """The scheduler behind the address is not the one we set up (restarted, plugin gone)."""


# -- plugin payloads ----------------------------------------------------------
class _EvalPayload:
    """Pickles to ``eval(expr)``: the plugin travels as *source text* (any Python version)."""

    def __init__(self, expr: str) -> None:
        self.expr = expr

    def __reduce__(self):
        return (eval, (self.expr,))


def plugin_payload(kind: str = "cloudpickle", **opts: Any) -> bytes:
    """The pickled ``MonitorPlugin`` for ``register_scheduler_plugin``.

    ``cloudpickle``: the class is pickled by value (``register_pickle_by_value``),
    so the scheduler needs no ``scalable_tui`` — but the same Python minor version.
    ``source``: the module's source text, executed on the scheduler; works across
    Python versions (used when the first one is refused).
    """
    if kind == "cloudpickle":
        import cloudpickle

        cloudpickle.register_pickle_by_value(plugin_module)
        try:
            return cloudpickle.dumps(plugin_module.MonitorPlugin(**opts), protocol=pickle.DEFAULT_PROTOCOL)
        finally:
            cloudpickle.unregister_pickle_by_value(plugin_module)
    src = Path(plugin_module.__file__).read_text()
    expr = (
        "(lambda g: (exec(compile(g['__src__'], '<scalable-tui-monitor>', 'exec'), g), "
        f"g['MonitorPlugin'](**{opts!r}))[1])({{'__name__': 'scalable_tui_monitor', '__src__': {src!r}}})"
    )
    return pickle.dumps(_EvalPayload(expr), protocol=4)


def client_versions() -> dict[str, str]:
    return {"python": platform.python_version(), "distributed": distributed.__version__, "dask": dask.__version__}


def version_skew(client: dict[str, str], scheduler: dict[str, str]) -> str | None:
    parts = []
    for k in ("distributed", "dask"):
        if scheduler.get(k) and client.get(k) and scheduler[k] != client[k]:
            parts.append(f"{k} {client[k]} here vs {scheduler[k]} on the scheduler")
    cp, sp = client.get("python", ""), scheduler.get("python", "")
    if cp and sp and cp.split(".")[:2] != sp.split(".")[:2]:
        parts.append(f"Python {cp} here vs {sp} on the scheduler")
    if not parts:
        return None
    return "version skew: " + "; ".join(parts) + " (read-only monitoring still works; some details may be missing)"


LIMITED_PANELS = [
    "Failures: no exception text or tracebacks; KilledWorker tasks only from scheduler log lines",
    "Tasks: no queued/no-worker counts and no throughput (get_task_prefix_states)",
    "Events: no pause/resume and no worker names on departures before the worker table refresh",
]


class LiveSource:
    """Polls one scheduler; see the module docstring.

    Parameters
    ----------
    address: ``tcp://…``/``tls://…`` (see ``resolve_address``).
    security: a ``distributed.security.Security``; default: built from dask config
        (``distributed.comm.tls.*``), as ``Client`` does.
    poll_interval: seconds between polls in ``run``/iteration.
    call_timeout: every scheduler call (connect included) is bounded by this many seconds;
        None: adaptive (``live_timeout.CallTimeout``: learned from recent round trips, at least 3 s).
        Either way one late reply only makes the link "slow"; two in a row (or a connection
        error) make it disconnected.
    max_backoff: longest wait between reconnect attempts.
    use_plugin: False forces the limited (msgpack-only) mode.
    payload: ``"cloudpickle"`` (default; falls back to ``"source"`` when refused) or ``"source"``.
    max_failures / max_events / max_departed: detail caps (counts stay exact).
    failure_batch: failures fetched per poll at most (the rest come on the next polls).
    """

    def __init__(
        self,
        address: str,
        *,
        security: Security | None = None,
        poll_interval: float = 2.0,
        call_timeout: float | None = 3.0,
        max_backoff: float = 30.0,
        use_plugin: bool = True,
        payload: str = "cloudpickle",
        max_failures: int = 2000,
        max_events: int = 5000,
        max_departed: int = 1000,
        failure_batch: int = 200,
        throughput_window: float = 30.0,
    ) -> None:
        self.address = resolve_address(address)
        self.security = security
        self.poll_interval = float(poll_interval)
        self._timeout = CallTimeout(None if call_timeout is None else float(call_timeout))
        self._first_miss_at: float | None = None
        self.max_backoff = float(max_backoff)
        self.use_plugin = use_plugin
        self.payload = payload
        self.max_failures = max_failures
        self.max_departed = max_departed
        self.failure_batch = failure_batch
        self.throughput_window = throughput_window
        self._snap = LiveSnapshot(address=self.address, events=deque(maxlen=max_events))
        self._snap.client_versions = client_versions()
        self._conn_args: dict[str, Any] | None = None
        self._comm = None
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._started = False
        self._closed = False
        # connection bookkeeping
        self._need_handshake = True
        self._consecutive_failures = 0
        self._consecutive_timeouts = 0
        # per-scheduler cursors (reset on a new scheduler id)
        self._sched_id: str | None = None
        self._mode = "plugin" if use_plugin else "limited"
        self._plugin_ok = False
        self._plugin_uid: str | None = None
        self._plugin_refused: set[str] = set()
        self._replaced_old_plugin = False
        self._versions_done = False
        self._ev_seq = 0
        self._err_seq = 0
        self._log_ts = 0.0
        self._tc: int | None = None
        self._evt_ts = 0.0  # limited mode: events cursor (timestamps)
        # monitor-side memory
        #: (scheduler id, key) -> the failure while its detail is kept, None after it was dropped
        #: (a cheap marker that still prevents duplicates).
        self._fail_index: OrderedDict[tuple[str, str], LiveFailure | None] = OrderedDict()
        self._n_workers = 0
        self._polls_ok = 0
        self._addr_key: OrderedDict[str, str] = OrderedDict()
        self._hist: dict[str, deque[tuple[float, int]]] = {}
        self._recent_mem: dict[str, float] = {}
        self._last_status: dict[str, str] = {}
        self._suspects: dict[str, list[list[Any]]] = {}  # limited mode: key -> deaths while it ran
        self.last_reply: dict[str, Any] | None = None
        if not use_plugin:
            self._set_limited("disabled by the caller (use_plugin=False)")

    # -- public API --------------------------------------------------------
    @property
    def call_timeout(self) -> float:
        """Seconds the next scheduler call may take (fixed, or learned: see ``live_timeout``)."""
        return self._timeout.current

    @property
    def timeout_policy(self) -> CallTimeout:
        return self._timeout

    @property
    def snapshot(self) -> LiveSnapshot:
        """The latest state (a copy)."""
        return self._snap.copy()

    async def start(self) -> LiveSnapshot:
        """Prepare the connection arguments and do the first poll.  Never raises for cluster trouble."""
        if not self._started:
            self._started = True
            sec = self.security if self.security is not None else Security()
            try:
                self._conn_args = sec.get_connection_args("client")
            except Exception as e:  # bad TLS files etc.: a clear state, not a crash
                self._conn_args = {}
                self._snap.notices.append(f"TLS configuration unusable: {type(e).__name__}: {e}")
        return await self.poll(force=True)

    async def poll(self, *, force: bool = False) -> LiveSnapshot:
        """One poll.  Returns at once (the previous data) while a reconnect backoff is pending, unless ``force``."""
        if not self._started:
            return await self.start()
        async with self._lock:
            s = self._snap
            if self._closed:
                return s.copy()
            now = time.time()
            if not force and not s.connected and s.retry_at is not None and now < s.retry_at:
                return s.copy()
            t0 = time.perf_counter()
            try:
                try:
                    await self._poll_once()
                except _Rehandshake:
                    # Another scheduler, or ours lost the plugin: set up again, once.
                    self._need_handshake = True
                    self._plugin_ok = False
                    try:
                        await self._poll_once()
                    except _Rehandshake:
                        raise RemoteError(HANDLER_SUMMARY, "the scheduler answers inconsistently") from None
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self._on_failure(e)
            else:
                self._on_success((time.perf_counter() - t0) * 1000.0)
            s.polls += 1
            return s.copy()

    async def run(self, callback: Callable[[LiveSnapshot], Any | Awaitable[Any]], *,
                  stop: asyncio.Event | None = None) -> None:
        """Poll forever (until ``close()`` or ``stop`` is set), calling ``callback(snapshot)`` after each poll."""
        async for snap in self._loop(stop):
            r = callback(snap)
            if inspect.isawaitable(r):
                await r

    def __aiter__(self) -> AsyncIterator[LiveSnapshot]:
        return self._loop(None)

    def refresh_soon(self) -> None:
        """Wake the loop now (e.g. the user pressed "refresh" / "reconnect")."""
        self._snap.retry_at = None
        self._wake.set()

    async def close(self) -> None:
        """Stop polling and drop the connection.  The plugin stays on the scheduler (idempotent)."""
        self._closed = True
        self._wake.set()
        comm, self._comm = self._comm, None
        if comm is not None:
            try:
                await asyncio.wait_for(comm.close(), 1.0)
            except BaseException:
                comm.abort()
        s = self._snap
        s.closed = True
        s.connected = False
        s.link = "closed"

    async def remove_plugin(self) -> str:
        """Take the monitor plugin off the scheduler; returns what happened, in words.

        For administrators who do not want it left behind.  Needs no plugin
        of its own: it never installs one.  A monitor still attached
        elsewhere notices and installs a fresh one on its next poll.
        """
        sec = self.security if self.security is not None else Security()
        self._conn_args = sec.get_connection_args("client")
        self._started = True
        try:
            resp = await self._call(HANDLER_DETACH)
            if isinstance(resp, dict) and resp.get("removed"):
                return (f"removed the monitor plugin from {self.address} "
                        f"({resp.get('n_failures', 0)} failures it had recorded are gone with it)")
            if isinstance(resp, dict):
                return f"the monitor plugin was already detached from {self.address}; its handlers are removed now"
            # No detach handler: not installed, or an older plugin (version 1).
            try:
                await self._call("unregister_scheduler_plugin", name=PLUGIN_NAME)
            except RemoteError:
                return f"no monitor plugin is installed on {self.address}"
            return (f"removed an older monitor plugin from {self.address} (its read-only handlers stay "
                    "until the scheduler restarts or a monitor attaches again)")
        finally:
            await self.close()

    async def __aenter__(self) -> LiveSource:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- loop --------------------------------------------------------------
    async def _loop(self, stop: asyncio.Event | None) -> AsyncIterator[LiveSnapshot]:
        if not self._started:
            yield await self.start()
        while not self._closed and not (stop is not None and stop.is_set()):
            s = self._snap
            now = time.time()
            delay = self.poll_interval
            if not s.connected and s.retry_at is not None:
                delay = max(0.05, s.retry_at - now)
            self._wake.clear()
            waiters = [asyncio.ensure_future(self._wake.wait())]
            if stop is not None:
                waiters.append(asyncio.ensure_future(stop.wait()))
            try:
                await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waiters:
                    w.cancel()
            if self._closed or (stop is not None and stop.is_set()):
                break
            yield await self.poll(force=True)

    # -- connection --------------------------------------------------------
    async def _call(self, op: str, **kw: Any) -> Any:
        t = self.call_timeout
        comm = self._comm
        if comm is None or comm.closed():
            self._comm = None
            try:
                comm = await asyncio.wait_for(
                    connect(self.address, timeout=t, deserialize=False, **(self._conn_args or {})), t
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
                probe = await self._probe_port(plain)
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

    async def _probe_port(self, plain: bool = False) -> str | None:
        """``refused``, ``http`` (an HTTP server answers), ``plain`` (``plain``: a TLS handshake
        was answered in plain text, and non-HTTP bytes come first: a tcp:// scheduler) or None
        (cannot tell) for the address's port.

        A Dask scheduler speaks first (its comm handshake) as soon as a connection
        is accepted, so nothing is written to one that answers.  Only a silent
        port gets a ``HEAD / HTTP/1.0`` line: an HTTP server replies ``HTTP/…``;
        a stopped scheduler sees, once it runs again, a connection closed before
        its handshake (an info line in its log).  Never on tls:// (plain text
        to a TLS listener is logged as a failed TLS handshake).
        """
        try:
            from distributed.comm.addressing import get_address_host_port

            host, port = get_address_host_port(self.address)
        except Exception:
            return None
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 0.5)
        except ConnectionRefusedError:
            return "refused"
        except (OSError, TimeoutError):
            return None
        try:
            if self.address.startswith("tls://") and not plain:
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

    # -- handshake ---------------------------------------------------------
    async def _poll_once(self) -> None:
        if self._need_handshake:
            await self._handshake()
        if self._mode == "plugin":
            await self._poll_plugin()
        else:
            await self._poll_limited()

    async def _handshake(self) -> None:
        try:
            ident = await self._call("identity", n_workers=0)
        except RemoteError:  # schedulers without n_workers
            ident = await self._call("identity")
        if not isinstance(ident, dict) or "id" not in ident:
            raise RemoteError("identity", f"unexpected reply {str(ident)[:200]}")
        sid = str(ident["id"])
        s = self._snap
        if sid != self._sched_id:
            if self._sched_id is not None:
                self._new_scheduler(sid)
            self._sched_id = sid
            s.scheduler_id = sid
            s.scheduler_address = ident.get("address")
            s.scheduler_started = ident.get("started")
            self._plugin_ok = False
            self._versions_done = False
            if self.use_plugin:
                self._mode = "plugin"
        if not self._versions_done:
            # msgpack-only and cheap (importlib.metadata, cached); also picks the plugin payload
            try:
                v = await self._call("versions")
                self._set_versions({
                    "python": ".".join(str((v.get("host") or {}).get("python", "")).split(".")[:3]),
                    "distributed": (v.get("packages") or {}).get("distributed", ""),
                    "dask": (v.get("packages") or {}).get("dask", ""),
                })
            except RemoteError:
                pass
        if self.use_plugin and not self._plugin_ok and sid not in self._plugin_refused:
            await self._install_plugin(idempotent=True)
        self._need_handshake = False

    async def _install_plugin(self, idempotent: bool) -> None:
        kinds = [self.payload] if self.payload == "source" else [self.payload, "source"]
        theirs = self._snap.scheduler_versions.get("python", "").split(".")[:2]
        if kinds[0] == "cloudpickle" and theirs != platform.python_version().split(".")[:2] and theirs != [""]:
            kinds = ["source"]  # bytecode does not travel across Python versions; source text does
        errors = []
        for kind in kinds:
            try:
                payload = plugin_payload(kind)
            except Exception as e:  # pickling refused locally
                errors.append(f"{kind}: {type(e).__name__}: {e}")
                continue
            try:
                await self._call("register_scheduler_plugin", plugin=payload, name=PLUGIN_NAME, idempotent=idempotent)
            except RemoteError as e:
                errors.append(f"{kind}: {e.text[:200]}")
                continue
            self._plugin_ok = True
            self._mode = self._snap.mode = "plugin"
            self._snap.limited_panels.clear()
            if errors:
                self._note(f"monitor plugin installed from source after: {'; '.join(errors)}")
            return
        self._plugin_refused.add(self._sched_id or "")
        self._set_limited("could not install the monitor plugin: " + "; ".join(errors))

    def _set_limited(self, why: str) -> None:
        if self._mode == "plugin" and self._plugin_uid is not None:
            # switching over mid-run: the plugin already delivered the events so far
            self._evt_ts = time.time() + (self._snap.clock_offset or 0.0)
        self._mode = "limited"
        s = self._snap
        s.mode = "limited"
        for p in LIMITED_PANELS:
            if p not in s.limited_panels:
                s.limited_panels.append(p)
        self._note(f"limited mode: {why}")

    def _note(self, text: str) -> None:
        if text not in self._snap.notices:
            self._snap.notices.append(text)
            del self._snap.notices[:-50]

    def _set_versions(self, v: dict[str, str]) -> None:
        s = self._snap
        s.scheduler_versions = {k: str(x) for k, x in v.items() if x}
        self._versions_done = True
        w = version_skew(s.client_versions, s.scheduler_versions)
        if w and s.version_warning is None:
            s.version_warning = w
            self._note(w)

    def _new_scheduler(self, sid: str) -> None:
        """A different scheduler answers at the address: keep history, reset cursors."""
        now = time.time()
        s = self._snap
        self._event(now, "scheduler-restarted", None,
                    f"a new scheduler ({sid}) answers at {self.address}; the previous one ({self._sched_id}) is gone")
        for w in s.workers.values():
            if w.alive:
                self._mark_left(w, now, "its scheduler went away", unexpected=False)
        self._plugin_uid = None
        self._ev_seq = self._err_seq = 0
        self._log_ts = 0.0
        self._evt_ts = 0.0
        self._tc = None
        s.prefixes = {}
        self._hist.clear()

    # -- plugin mode -------------------------------------------------------
    async def _poll_plugin(self) -> None:
        try:
            resp = await self._summary()
        except RemoteError as e:
            # The plugin is there but its handler fails (a bug, or an incompatible
            # scheduler): do not stay broken, fall back for this scheduler.
            self._plugin_refused.add(self._sched_id or "")
            self._set_limited(f"the monitor plugin failed on the scheduler: {e.text[:200]}")
            await self._poll_limited()
            return
        self._apply_summary(resp)

    async def _summary(self) -> dict[str, Any]:
        resp = await self._call(
            HANDLER_SUMMARY,
            ev_since=self._ev_seq,
            err_since=self._err_seq,
            err_limit=self.failure_batch,
            log_since=self._log_ts,
            tc=self._tc,
            # the full worker table every poll up to 200 workers, then every ~n/200 polls
            # (status changes still arrive at once as events)
            workers=self._n_workers <= 200 or self._polls_ok % -(-self._n_workers // 200) == 0,
            hello=not self._versions_done,
        )
        if resp is None:  # no such handler: a scheduler without the plugin
            raise _Rehandshake()
        if not isinstance(resp, dict) or "uid" not in resp:
            raise RemoteError(HANDLER_SUMMARY, f"unexpected reply {str(resp)[:200]}")
        if resp.get("id") != self._sched_id:
            raise _Rehandshake()
        if resp.get("plugin") != PLUGIN_VERSION and not self._replaced_old_plugin:
            self._replaced_old_plugin = True
            self._note(f"replaced an older monitor plugin (version {resp.get('plugin')}) on the scheduler")
            await self._install_plugin(idempotent=False)
            raise _Rehandshake()
        return resp

    def _apply_summary(self, resp: dict[str, Any]) -> None:
        self.last_reply = resp
        s = self._snap
        s.last_reply_bytes = len(msgpack.packb(resp, use_bin_type=True, default=repr))
        s.scheduler_ms = resp.get("t_ms")
        if resp["uid"] != self._plugin_uid:
            if self._plugin_uid is not None:  # plugin replaced: its rings restart
                self._ev_seq = self._err_seq = 0
            self._plugin_uid = resp["uid"]
        if "versions" in resp:
            self._set_versions(resp["versions"])
            if resp.get("started"):
                s.scheduler_started = resp["started"]
        now = time.time()
        if resp.get("now"):
            s.clock_offset = resp["now"] - now
        for ev in resp.get("events") or ():
            self._ingest_plugin_event(ev)
            self._ev_seq = max(self._ev_seq, ev["seq"])
        if resp.get("events_missed"):
            self._event(now, "monitor", None, f"{resp['events_missed']} scheduler event(s) were lost between polls")
        if resp.get("failures_missed"):
            s.failures_missed += resp["failures_missed"]
            s.failures_total += resp["failures_missed"]
        for f in resp.get("failures") or ():
            self._ingest_failure(f)
            self._err_seq = max(self._err_seq, f["seq"])
        s.dependents_erred = resp.get("n_dependents_erred", s.dependents_erred)
        for created, level, line in resp.get("logs") or ():
            self._ingest_log(created, level, line)
        if "log_last" in resp:
            self._log_ts = max(self._log_ts, float(resp["log_last"]))
        if "prefixes" in resp:
            self._apply_prefixes(resp["prefixes"], now)
            self._tc = resp.get("tc")
        s.n_tasks = resp.get("n_tasks")
        s.n_queued = resp.get("n_queued")
        self._n_workers = int(resp.get("n_workers") or 0)
        if "workers" in resp:
            self._apply_worker_rows([dict(zip(WORKER_FIELDS, r)) for r in resp["workers"]], now)

    def _apply_prefixes(self, rows: dict[str, list[Any]], now: float) -> None:
        out: dict[str, PrefixCounts] = {}
        for name, row in rows.items():
            st = dict(zip(PREFIX_STATES, row))
            completed = row[len(PREFIX_STATES)] if len(row) > len(PREFIX_STATES) else None
            dur = row[len(PREFIX_STATES) + 1] if len(row) > len(PREFIX_STATES) + 1 else None
            p = PrefixCounts(
                name=name, waiting=st["waiting"], queued=st["queued"], no_worker=st["no-worker"],
                processing=st["processing"], memory=st["memory"], erred=st["erred"], released=st["released"],
                forgotten=st["forgotten"], completed=completed, duration_average=dur,
            )
            if completed is not None:
                h = self._hist.setdefault(name, deque(maxlen=64))
                h.append((now, completed))
                while len(h) > 2 and now - h[1][0] >= self.throughput_window:
                    h.popleft()
                if len(h) >= 2 and h[-1][0] - h[0][0] > 0.5:
                    p.throughput = max(0.0, (h[-1][1] - h[0][1]) / (h[-1][0] - h[0][0]))
            out[name] = p
        self._snap.prefixes = out

    # -- limited mode ------------------------------------------------------
    async def _poll_limited(self) -> None:
        s = self._snap
        ident = await self._call("identity", n_workers=-1)
        if not isinstance(ident, dict) or str(ident.get("id")) != self._sched_id:
            raise _Rehandshake()
        t_ref = time.time()
        size = len(msgpack.packb(ident, use_bin_type=True, default=repr))
        prefixes = await self._call("get_task_prefix_states")
        size += len(msgpack.packb(prefixes, use_bin_type=True, default=repr))
        events: list[tuple[float, str, Any]] = []
        for topic in ("all", "worker-restart-memory"):
            evs = await self._call("events", topic=topic)
            size += len(msgpack.packb(evs, use_bin_type=True, default=repr))
            for ts, msg in evs or ():
                if ts > self._evt_ts:
                    events.append((ts, topic, msg))
        logs = await self._call("get_logs", start=self._log_ts, n=1000, timestamps=True)
        size += len(msgpack.packb(logs, use_bin_type=True, default=repr))
        s.last_reply_bytes = size
        s.scheduler_ms = None
        # workers first so departures know names
        rows = []
        for addr, w in (ident.get("workers") or {}).items():
            m = w.get("metrics") or {}
            tc = m.get("task_counts") or {}
            mem = m.get("memory")
            managed = m.get("managed_bytes")
            spilled = (m.get("spilled_bytes") or {}).get("disk")
            rows.append({
                "address": addr, "name": str(w.get("name", addr)), "host": w.get("host"), "status": w.get("status"),
                "nthreads": w.get("nthreads"), "memory_limit": w.get("memory_limit"), "memory": mem,
                "managed": managed, "unmanaged": (mem - managed) if mem is not None and managed is not None else None,
                "spilled": spilled, "cpu": m.get("cpu"), "executing": tc.get("executing"), "ready": tc.get("ready"),
                "in_memory": tc.get("memory"), "processing": None, "last_seen": w.get("last_seen"),
                "nanny": w.get("nanny"), "pid": None,
            })
        for addr, w in (ident.get("workers") or {}).items():
            self._addr_key[addr] = self._worker_key(str(w.get("name", addr)), addr, w.get("nanny"))
        for ts, topic, msg in sorted(events, key=lambda e: e[0]):
            self._evt_ts = max(self._evt_ts, ts)
            if not isinstance(msg, dict):
                continue
            if topic == "worker-restart-memory":
                self._ingest_plugin_event({"kind": "worker-restart-memory", "t": ts, "worker": msg.get("worker"),
                                           "pid": msg.get("pid"), "rss": msg.get("rss"), "limit": None,
                                           "terminate": None})
            elif msg.get("action") == "add-worker":
                w = (ident.get("workers") or {}).get(msg.get("worker")) or {}
                self._ingest_plugin_event({"kind": "worker-added", "t": ts, "worker": msg.get("worker"),
                                           "name": w.get("name"), "nanny": w.get("nanny"), "host": w.get("host"),
                                           "nthreads": w.get("nthreads"), "limit": w.get("memory_limit")})
            elif msg.get("action") == "remove-worker":
                if not msg.get("expected"):  # which tasks each death hit (for KilledWorker below)
                    for k in list(msg.get("processing-tasks") or ())[:1000]:
                        lst = self._suspects.setdefault(str(k), [])
                        if len(lst) < 20:
                            lst.append([msg.get("worker"), None, ts])
                    while len(self._suspects) > 10000:
                        self._suspects.pop(next(iter(self._suspects)))
                self._ingest_plugin_event({"kind": "worker-removed", "t": ts, "worker": msg.get("worker"),
                                           "stimulus": msg.get("stimulus_id"), "expected": msg.get("expected"),
                                           "processing": len(msg.get("processing-tasks") or ())})
        for created, level, line in sorted(logs or (), key=lambda x: x[0]):
            if created <= self._log_ts:
                continue
            self._log_ts = created
            if GRAPH_ERROR_TEXT in line:  # limited mode: the scheduler's log line is all there is
                self._graph_error(self._local(created), line.strip()[:1000], None, None, None)
            m = _KILLED_LOG.search(line)
            if m:
                self._ingest_failure({
                    "seq": 0, "t": created, "key": m.group("key"), "prefix": key_split(m.group("key")),
                    "type": "KilledWorker",
                    "text": f"KilledWorker: task {m.group('key')} marked as failed because {m.group('n')} workers "
                            "died while trying to run it (from the scheduler log)",
                    "tb": None, "erred_on": [], "suspicious": int(m.group("n")),
                    "killed": self._suspects.pop(m.group("key"), None),
                }, origin="logs")
            if level in ("WARNING", "ERROR", "CRITICAL"):
                self._ingest_log(created, level, line)
        out = {}
        for name, st in (prefixes or {}).items():
            out[name] = PrefixCounts(name=name, waiting=st.get("waiting", 0), processing=st.get("processing", 0),
                                     memory=st.get("memory", 0), erred=st.get("erred", 0),
                                     released=st.get("released", 0))
        s.prefixes = out
        s.n_tasks = None
        self._apply_worker_rows(rows, t_ref)

    # -- ingestion ---------------------------------------------------------
    def _worker_key(self, name: str, address: str, nanny: str | None) -> str:
        if name == address and nanny:
            return f"nanny {nanny}"
        return name

    def _key_for_address(self, addr: str | None, name: str | None = None, nanny: str | None = None) -> str | None:
        if addr is None:
            return None
        k = self._addr_key.get(addr)
        if k is None:
            k = self._worker_key(name or addr, addr, nanny)
            self._addr_key[addr] = k
            while len(self._addr_key) > 20000:
                self._addr_key.popitem(last=False)
        return k

    def _event(self, ts: float, kind: str, worker: str | None, text: str, address: str | None = None,
               **details: Any) -> None:
        s = self._snap
        if s.events.maxlen is not None and len(s.events) == s.events.maxlen:
            s.events_dropped += 1
        s.events.append(LiveEvent(ts=ts, kind=kind, worker=worker, text=text, address=address, details=details))
        s.events_total += 1
        s.event_counts[kind] = s.event_counts.get(kind, 0) + 1

    def _worker(self, key: str, name: str, addr: str, ts: float) -> WorkerInfo:
        s = self._snap
        w = s.workers.get(key)
        if w is None:
            w = WorkerInfo(key=key, name=name, address=addr, first_seen=ts, status="init")
            s.workers[key] = w
        return w

    def _came_back(self, w: WorkerInfo, addr: str) -> None:
        """The same worker identity is listed again (nanny restart) or at a new address."""
        if not w.alive:
            w.restarts += 1
            w.alive = True
        if w.address != addr:
            if w.address not in w.previous_addresses:
                w.previous_addresses.append(w.address)
                del w.previous_addresses[:-10]
            w.address = addr

    def _mark_left(self, w: WorkerInfo, ts: float, reason: str, *, unexpected: bool) -> None:
        w.alive = False
        w.status = "left"
        w.left_at = ts
        w.left_reason = reason
        w.executing = w.ready = w.processing = 0
        departed = [x for x in self._snap.workers.values() if not x.alive]
        if len(departed) > self.max_departed:
            oldest = min(departed, key=lambda x: x.left_at or 0)
            del self._snap.workers[oldest.key]
            self._note_count("departed worker(s) dropped from the table to bound memory")

    def _note_count(self, what: str) -> None:
        s = self._snap
        for i, n in enumerate(s.notices):
            if n.endswith(what):
                k = int(n.split(" ", 1)[0]) + 1
                s.notices[i] = f"{k} {what}"
                return
        s.notices.append(f"1 {what}")

    def _add_memory_evidence(self, addr: str, text: str) -> None:
        ev = self._snap.memory_evidence
        lst = ev.setdefault(addr, [])
        if text not in lst:
            lst.append(text)
            del lst[:-5]
        while len(ev) > 5000:
            ev.pop(next(iter(ev)))

    def _ingest_plugin_event(self, ev: dict[str, Any]) -> None:
        kind = ev.get("kind")
        ts = self._local(ev.get("t"))
        addr = ev.get("worker")
        if kind == "worker-added":
            name = str(ev.get("name") or addr)
            key = self._worker_key(name, addr, ev.get("nanny"))
            self._addr_key[addr] = key
            existed = key in self._snap.workers
            w = self._worker(key, name, addr, ts)
            again = existed and (not w.alive or w.address != addr)
            self._came_back(w, addr)
            w.host = ev.get("host") or w.host
            w.nanny = ev.get("nanny") or w.nanny
            w.nthreads = ev.get("nthreads") or w.nthreads
            w.memory_limit = ev.get("limit") or w.memory_limit
            w.pid = ev.get("pid") or w.pid
            w.left_at = w.left_at  # kept: when it last left
            text = f"{name} joined at {addr}" + (f" (restart #{w.restarts})" if again else "")
            self._event(ts, "worker-added", key, text, addr, host=w.host, nthreads=w.nthreads,
                        memory_limit=w.memory_limit)
        elif kind == "worker-removed":
            key = self._key_for_address(addr, ev.get("name"))
            w = self._snap.workers.get(key) if key else None
            name = ev.get("name") or (w.name if w else addr)
            prev = ev.get("prev_status") or self._last_status.get(addr)
            expected = ev.get("expected")
            reason = describe_departure(ev.get("stimulus"), expected, prev)
            unexpected = not expected and prev not in _CLOSING
            rss, limit = ev.get("rss"), ev.get("limit")
            if w is not None and w.address == addr:
                rss = rss if rss is not None else w.memory
                limit = limit or w.memory_limit
            frac = (rss / limit) if rss is not None and limit else None
            recent = self._recent_mem.pop(addr, 0.0)
            mem_kill = any("memory budget. Restarting" in t for t in self._snap.memory_evidence.get(addr, ()))
            if unexpected and not mem_kill and (prev == "paused" or max(frac or 0.0, recent) >= 0.85):
                self._add_memory_evidence(addr, near_limit_text(addr, rss, limit, prev == "paused"))
            if mem_kill:
                reason = f"killed by its nanny: memory budget exceeded; {reason}"
            n = ev.get("processing")
            text = f"{name} ({addr}) left: {reason}"
            if n:
                text += f"; {n} task(s) were running on it"
            if w is not None and (w.address == addr or addr in w.previous_addresses):
                if w.address == addr and w.alive:
                    self._mark_left(w, ts, reason, unexpected=unexpected)
            self._event(ts, "worker-removed", key, text, addr, stimulus=ev.get("stimulus") or "",
                        expected=bool(expected), unexpected=bool(unexpected), reason=reason,
                        processing=n or 0, name=str(name))
            self._last_status.pop(addr, None)
        elif kind == "worker-status":
            key = self._key_for_address(addr, ev.get("name"))
            status, prev = ev.get("status"), ev.get("prev")
            self._last_status[addr] = status
            w = self._snap.workers.get(key) if key else None
            if w is not None and w.address == addr and w.alive:
                w.status = status
            name = ev.get("name") or addr
            if status == "paused":
                rss, limit = ev.get("rss"), ev.get("limit")
                # the scheduler's RSS figure lags the pause (heartbeat): only quote it when plausible
                extra = f" (memory {rss / limit:.0%} of its limit)" if rss and limit and rss / limit >= 0.5 else ""
                self._event(ts, "paused", key, f"{name} paused: memory above the pause threshold{extra}", addr,
                            rss=rss or 0, limit=limit or 0)
            elif prev == "paused" and status == "running":
                self._event(ts, "resumed", key, f"{name} resumed", addr)
            elif not (prev == "init" and status == "running"):
                self._event(ts, "worker-status", key, f"{name}: {prev} -> {status}", addr)
        elif kind == "worker-restart-memory":
            key = self._key_for_address(addr, ev.get("name"))
            w = self._snap.workers.get(key) if key else None
            limit = ev.get("limit") or (w.memory_limit if w is not None else None)
            text = memory_kill_text(addr, ev.get("pid"), ev.get("rss"), limit, ev.get("terminate"))
            self._add_memory_evidence(addr, text)
            if w is not None:
                w.memory_kills += 1
                if not w.alive and w.left_reason and "memory budget" not in w.left_reason:
                    w.left_reason = f"killed by its nanny: memory budget exceeded; {w.left_reason}"
            self._event(ts, "worker-restart-memory", key, text, addr, pid=ev.get("pid") or 0, rss=ev.get("rss") or 0)
        elif kind in ("worker-ttl-timed-out", "no-workers-timeout-exceeded"):
            self._event(ts, kind, self._key_for_address(addr) if addr else None, f"{kind}: {ev.get('text', '')}", addr)
        elif kind == "cluster-restart":
            self._event(ts, "cluster-restart", None, "a client restarted the cluster (all workers restart)")
        elif kind == "graph-error":
            self._graph_error(ts, ev.get("text"), ev.get("cause"), ev.get("client"), ev.get("stimulus"))

    def _graph_error(self, ts: float, text: str | None, cause: str | None, client: str | None,
                     stimulus: str | None) -> None:
        """A task graph the scheduler could not deserialize: an event that ``to_run_state`` makes a failure."""
        head = (text or GRAPH_ERROR_TEXT).strip().splitlines()[0].rstrip(".")
        what = f"{head}{f' (cause: {cause})' if cause else ''}"
        who = f" from {client}" if client else ""
        self._event(ts, "graph-error", None, f"a task graph submitted{who} could not be deserialized on the scheduler: "
                    f"{what}; none of its tasks ran", None, message=what, cause=cause or "", client=client or "",
                    stimulus=stimulus or "")

    def _ingest_failure(self, d: dict[str, Any], origin: str = "plugin") -> None:
        s = self._snap
        key = str(d["key"])
        fk = (self._sched_id or "", key)
        etype = d.get("type") or split_exception_text(d.get("text"))[0]
        erred_addr = list(d.get("erred_on") or ())
        names = d.get("erred_on_names") or erred_addr
        erred_on = [self._key_for_address(a, n) or a for a, n in zip(erred_addr, names)]
        killed = d.get("killed") or []
        killed_addr = [k[0] for k in killed]
        killed_keys = [self._key_for_address(k[0], k[1]) or k[0] for k in killed]
        f = LiveFailure(
            key=key,
            prefix=d.get("prefix") or key_split(key),
            exception_type=etype or "Exception",
            exception=d.get("text") or etype or "",
            traceback=d.get("tb"),
            erred_on=erred_on,
            # None stays None: a failure from before attach has no time unless the scheduler kept one.
            first_seen=None if d.get("t") is None else self._local(d.get("t")),
            suspicious=int(d.get("suspicious") or 0),
            erred_on_addresses=erred_addr,
            killed_workers=killed_keys,
            killed_addresses=killed_addr,
            scheduler_id=self._sched_id,
            group=d.get("group"),
            dependents=int(d.get("dependents") or 0),
            before_attach=bool(d.get("before_attach")),
            origin=origin,
            time_from=d.get("t_from") or (None if d.get("t") is None else origin),
            filename=d.get("filename"),
            filename2=d.get("filename2"),
            filename_from=d.get("filename_from"),
            filename_lost=bool(d.get("filename_lost")),
        )
        if fk in self._fail_index and self._fail_index[fk] is None:
            return  # seen before; its detail was dropped to bound memory
        old = self._fail_index.get(fk)
        if old is not None:
            if origin == "logs" or (old.origin == "plugin" and old.exception == f.exception
                                    and d.get("before_attach")):
                return  # the same failure seen again (log line, or a re-installed plugin's first scan)
            again = 0 if old.origin == "logs" else 1  # logs -> plugin detail is an upgrade, not a repeat
            new = replace(old, exception=f.exception, traceback=f.traceback, occurrences=old.occurrences + again,
                          origin=origin, exception_type=f.exception_type,
                          suspicious=f.suspicious, erred_on=f.erred_on or old.erred_on,
                          erred_on_addresses=f.erred_on_addresses or old.erred_on_addresses,
                          killed_workers=f.killed_workers or old.killed_workers,
                          killed_addresses=f.killed_addresses or old.killed_addresses,
                          filename=f.filename, filename2=f.filename2, filename_from=f.filename_from,
                          filename_lost=f.filename_lost)
            self._fail_index[fk] = new
            for i in range(len(s.failures) - 1, -1, -1):
                if s.failures[i] is old:
                    s.failures[i] = new
                    break
            return
        self._fail_index[fk] = f
        while len(self._fail_index) > max(100000, self.max_failures):
            self._fail_index.popitem(last=False)
        s.failures.append(f)
        s.failures_total += 1
        ck = (f.prefix, f.exception_type)
        s.failure_counts[ck] = s.failure_counts.get(ck, 0) + 1
        if len(s.failures) > self.max_failures:
            drop = len(s.failures) - self.max_failures
            for old_f in s.failures[:drop]:
                ofk = (old_f.scheduler_id or "", old_f.key)
                if ofk in self._fail_index:
                    self._fail_index[ofk] = None
                k = (old_f.prefix, old_f.exception_type)
                summ = s.dropped_summary.get(k)
                t = old_f.first_seen  # None: before attach, time unknown
                if summ is None:
                    s.dropped_summary[k] = [1, t, t, old_f.key]
                else:
                    summ[0] += 1
                    if t is not None:
                        summ[1] = t if summ[1] is None else min(summ[1], t)
                        summ[2] = t if summ[2] is None else max(summ[2], t)
            del s.failures[:drop]
            s.failures_dropped += drop
        if f.exception_type == "KilledWorker" and f.first_seen is not None:
            # (one from before attach with no known time stays a failure only: no event at a made-up time)
            names = s.display_names
            who = ", ".join(s.display_name(k, names) for k in killed_keys) if killed_keys else "unknown workers"
            self._event(f.first_seen, "killed-worker", killed_keys[-1] if killed_keys else None,
                        f"task {key} marked KilledWorker after {f.suspicious} worker death(s); workers it killed: {who}",
                        killed_addr[-1] if killed_addr else None, task=key, suspicious=f.suspicious, killed=who)

    def _local(self, ts: Any) -> float:
        """A scheduler timestamp on this machine's clock (every time in a snapshot is local)."""
        if ts is None:
            return time.time()
        return float(ts) - (self._snap.clock_offset or 0.0)

    def _ingest_log(self, created: float, level: str, line: str) -> None:
        kind = "log-warning" if level == "WARNING" else "log-error"
        self._event(self._local(created), kind, None, line.strip()[:2000], None, level=level)

    def _apply_worker_rows(self, rows: list[dict[str, Any]], now: float) -> None:
        s = self._snap
        seen: set[str] = set()
        for d in rows:
            addr = d["address"]
            name = str(d["name"])
            key = self._worker_key(name, addr, d.get("nanny"))
            self._addr_key[addr] = key
            seen.add(key)
            w = self._worker(key, name, addr, now)
            self._came_back(w, addr)
            w.name = name
            for f in ("host", "status", "nthreads", "memory_limit", "memory", "managed", "unmanaged", "spilled",
                      "cpu", "executing", "ready", "in_memory", "processing", "last_seen", "nanny", "pid"):
                v = d.get(f)
                if v is not None or f in ("memory", "cpu", "executing", "ready", "in_memory", "processing"):
                    setattr(w, f, v)
            if w.last_seen is not None:
                w.last_seen = self._local(w.last_seen)
            frac = w.memory_fraction
            if frac is not None:
                self._recent_mem[addr] = frac
        for key, w in list(s.workers.items()):
            if w.alive and key not in seen:
                self._mark_left(w, now, "no longer listed by the scheduler", unexpected=False)
        while len(self._recent_mem) > 20000:
            self._recent_mem.pop(next(iter(self._recent_mem)))


#: The scheduler's log line when a submitted graph does not deserialize (distributed/scheduler.py update_graph).
GRAPH_ERROR_TEXT = "Error during deserialization of the task graph"
# Only a line's first "Task " (if it has no such ending, no later one has): linear on a long line.
_KILLED_LOG = re.compile(r"(?<![^\n])(?>[^\n]*?Task )(?P<key>.+?) marked as failed because (?P<n>\d+) workers died")

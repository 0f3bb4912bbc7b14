"""Live source: a read-only poller of a running Dask scheduler.

Headless core of ``scalable-tui attach``.  It never submits work, never holds
futures and never changes cluster state.  The one thing it adds to the
scheduler is a read-only ``SchedulerPlugin`` (``plugin.py``, name
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

Layout: ``address.py`` (where the scheduler is), ``transport.py`` (the comm,
timeouts, reconnects), ``payload.py`` + ``plugin.py`` (the monitor plugin),
``ingest.py`` (replies -> snapshot, no socket); this module sequences them.
A little over ~400 lines: what is left is one object's sequencing (public
API, poll loop, handshake and plugin install, the limited-mode calls).
"""

from __future__ import annotations

import asyncio
import inspect
import platform
import time
from typing import Any, AsyncIterator, Awaitable, Callable

import msgpack
from distributed.security import Security

from scalable_tui.model.live import LiveSnapshot
from scalable_tui.sources.live.address import (
    ADDRESS_HELP,
    NOT_DASK,
    LiveAddressError,
    NotDaskError,
    check_address,
    resolve_address,
)
from scalable_tui.sources.live.ingest import SnapshotFolder, describe_departure, version_skew
from scalable_tui.sources.live.payload import client_versions, plugin_payload
from scalable_tui.sources.live.plugin import HANDLER_DETACH, HANDLER_SUMMARY, PLUGIN_NAME, PLUGIN_VERSION
from scalable_tui.sources.live.timeout import CallTimeout
from scalable_tui.sources.live.transport import RemoteError, SchedulerLink, _Rehandshake, classify_error

#: ``LiveSource`` and, for callers that import them from here, the address and error names.
__all__ = ["LiveSource", "LiveAddressError", "NotDaskError", "RemoteError", "resolve_address", "check_address",
           "describe_departure", "classify_error", "plugin_payload", "version_skew", "ADDRESS_HELP", "NOT_DASK"]

LIMITED_PANELS = [
    "Failures: no exception text or tracebacks; KilledWorker tasks only from scheduler log lines",
    "Tasks: no queued/no-worker counts and no throughput (get_task_prefix_states)",
    "Events: no pause/resume and no worker names on departures before the worker table refresh",
]


class LiveSource(SchedulerLink, SnapshotFolder):
    """Polls one scheduler; see the module docstring.

    Parameters
    ----------
    address: ``tcp://…``/``tls://…`` (see ``resolve_address``).
    security: a ``distributed.security.Security``; default: built from dask config
        (``distributed.comm.tls.*``), as ``Client`` does.
    poll_interval: seconds between polls in ``run``/iteration.
    call_timeout: every scheduler call (connect included) is bounded by this many seconds;
        None: adaptive (``timeout.CallTimeout``: learned from recent round trips, at least 3 s).
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
        SnapshotFolder.__init__(self, resolve_address(address), max_failures=max_failures, max_events=max_events,
                                max_departed=max_departed, throughput_window=throughput_window)
        self.security = security
        self.poll_interval = float(poll_interval)
        self._timeout = CallTimeout(None if call_timeout is None else float(call_timeout))
        self._first_miss_at: float | None = None
        self.max_backoff = float(max_backoff)
        self.use_plugin = use_plugin
        self.payload = payload
        self.failure_batch = failure_batch
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
        self._mode = "plugin" if use_plugin else "limited"
        self._plugin_ok = False
        self._plugin_refused: set[str] = set()
        self._replaced_old_plugin = False
        self._polls_ok = 0
        if not use_plugin:
            self._set_limited("disabled by the caller (use_plugin=False)")

    # -- public API --------------------------------------------------------
    @property
    def call_timeout(self) -> float:
        """Seconds the next scheduler call may take (fixed, or learned: see ``timeout.py``)."""
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
        self._apply_limited(ident, prefixes, events, logs, t_ref)

"""The scheduler-side half of the live source: a read-only ``SchedulerPlugin``.

This module is shipped to the scheduler *by value* (cloudpickle
``register_pickle_by_value``): the scheduler does not need ``scalable_tui``
installed.  Keep it self-contained: it may import only the standard library,
``dask`` and ``distributed``, never another ``scalable_tui`` module.  That is
also why it is one file of ~600 lines, above the project's ~400: it travels
as one module (pickled by value, or as source text), so it cannot be split.

What it does, all read-only and cheap:

* hooks ``transition`` (one string comparison per transition; a little more
  on ``memory`` and ``erred``): records each *root* erred task (the task that
  raised, not its dependents) as plain text into a bounded ring with a
  sequence number, the moment it errs.  So failures are kept even if the
  submitting client releases them before the monitor polls, and a poll costs
  O(new failures) instead of an O(tasks) scan.  ``KilledWorker`` is turned
  into text here, read inert as the file names below (no pickle runs code in
  the scheduler); the monitor never unpickles anything.
* hooks ``add_worker``/``remove_worker``/``log_event``: worker arrivals,
  departures (with the scheduler's stimulus, whether it was expected, the
  worker's last memory and status), pauses, nanny memory kills
  (``worker-restart-memory``), worker-ttl timeouts; and which workers each
  task killed (for ``KilledWorker``).
* for file errors (``OSError`` and its subclasses) recovers the file name
  that Dask's ``repr(e)`` drops: from the pickled exception the scheduler
  holds, read by ``_OpaqueUnpickler`` (every global it names becomes an inert
  stand-in: nothing is imported, constructed or called), else from a string
  literal in the traceback's last source line; when neither has it, the
  failure says the name was lost.
* failures found at install time (before the plugin existed) carry the
  scheduler's own time when it still has one (``transition_log``, the
  task-stream plugin's buffer if someone installed it), else no time at all.
* adds two RPC handlers (msgpack-only replies):
  ``scalable_tui_summary`` (O(prefixes + workers) + what is new since the
  caller's cursors) and ``scalable_tui_erred`` (paging through failures).

Registered once under ``PLUGIN_NAME`` (idempotent).  It stays in the scheduler
after the monitor exits, costing one method call per transition, until
``scalable-tui attach --remove-plugin`` calls ``scalable_tui_detach``: that
removes the plugin and its handlers; a monitor still attached then finds the
handlers gone and installs a fresh plugin (its rings restart).
"""

from __future__ import annotations

import builtins
import io
import pickle
import re
import time
from collections import deque
from itertools import islice

from dask.utils import key_split
from distributed.diagnostics.plugin import SchedulerPlugin

PLUGIN_NAME = "scalable-tui-monitor"
#: Bump when the reply format or the hooks change: a monitor that finds an
#: older version installed replaces it.
PLUGIN_VERSION = 5  # 5: forgotten tasks counted per prefix
HANDLER_SUMMARY = "scalable_tui_summary"
HANDLER_ERRED = "scalable_tui_erred"
HANDLER_DETACH = "scalable_tui_detach"

#: Order of the per-prefix state counts in a summary reply.
PREFIX_STATES = ("waiting", "queued", "no-worker", "processing", "memory", "erred", "released", "forgotten")
#: Order of the fields of one worker row in a summary reply.
WORKER_FIELDS = (
    "address", "name", "host", "status", "nthreads", "memory_limit", "memory", "managed", "unmanaged",
    "spilled", "cpu", "executing", "ready", "in_memory", "processing", "last_seen", "nanny", "pid",
)
_WARN_LEVELS = frozenset({"WARNING", "ERROR", "CRITICAL"})
_CLOSING = frozenset({"closing", "closing_gracefully", "closed"})


def _key_text(key) -> str:
    return key if isinstance(key, str) else repr(key)


def _clip(text, limit: int):
    """Keep the head and the tail of a long text (tracebacks end with the error)."""
    if text is None:
        return None
    text = str(text)
    if len(text) <= limit:
        return text
    head = limit * 2 // 5
    tail = limit - head
    return f"{text[:head]}\n… [{len(text) - limit} characters omitted by the monitor] …\n{text[-tail:]}"


def _ws_memory(ws):
    try:
        m = ws.memory
        return m.process, m.managed, m.unmanaged, m.spilled
    except Exception:  # metrics not yet received
        return None, None, None, None


# -- file names of file errors ---------------------------------------------
#: Builtin exception types that carry ``filename``/``filename2`` (OSError and its subclasses).
OS_ERRORS = frozenset(n for n, o in vars(builtins).items() if isinstance(o, type) and issubclass(o, OSError))
_MAX_PICKLE = 1 << 20
_MAX_NODES = 5000
#: ``FileNotFoundError(2, 'No such file or directory')``: Dask's ``repr(e)`` of a file error.
_ERRNO_REPR = re.compile(r"^[\w.]+\(-?\d+, ['\"]")
#: A quoted path literal (not an f-string) in a traceback source line.
_PATH_LITERAL = re.compile(r"""(?<![fFbB\w])[rR]?(['"])((?:/|~/|\.\.?/)[^'"{}\n]{1,1000})\1""")


class _Opaque:
    """Inert stand-in for every global a pickle names: records its arguments, runs nothing."""

    _g: tuple[str, str] = ("?", "?")

    def __new__(cls, *args, **kw):
        o = object.__new__(cls)
        o.args = args
        o.state = None
        return o

    def __init__(self, *args, **kw) -> None:
        self.args = args

    def __setstate__(self, state) -> None:
        self.state = state

    def append(self, x) -> None:
        pass

    def extend(self, xs) -> None:
        pass

    def __setitem__(self, k, v) -> None:
        pass


class _OpaqueUnpickler(pickle.Unpickler):
    """Reads a pickle's structure without importing or calling anything it names.

    ``find_class`` is the only way a pickle reaches code (``REDUCE``, ``NEWOBJ``,
    ``BUILD``, ``INST``/``OBJ`` and extension codes all go through it, and
    ``persistent_load`` is not defined, so it raises): here it returns a fresh
    ``_Opaque`` subclass, so the whole object graph is made of dicts, tuples,
    strings, numbers and stand-ins.
    """

    def find_class(self, module, name):
        g = (str(module)[:200], str(name)[:200])
        known = self.__dict__.setdefault("_classes", {})
        cls = known.get(g)
        if cls is None:
            if len(known) >= 500:  # a real exception names a handful; do not let one allocate thousands
                raise pickle.UnpicklingError("too many globals")
            cls = known[g] = type("opaque", (_Opaque,), {"_g": g})
        return cls


def _exception_bytes(exc):
    """The pickle bytes of a ``TaskState.exception`` (bytes or a ``Serialized``), not deserialized."""
    if isinstance(exc, (bytes, bytearray, memoryview)):
        return bytes(exc)
    header = getattr(exc, "header", None)
    frames = getattr(exc, "frames", None)
    if not isinstance(header, dict) or not frames:
        return None
    if header.get("serializer") not in ("pickle", "dask"):
        return None
    if any(header.get("compression") or ()):
        from distributed.protocol.compression import decompress  # codecs only, no pickle

        frames = decompress(header, frames)
    if sum(len(f) for f in frames) > _MAX_PICKLE:
        return None
    return b"".join(bytes(f) for f in frames)


def _name_text(x):
    if isinstance(x, bytes):
        x = x.decode("utf-8", "replace")
    return x[:1000] if isinstance(x, str) and x else None


def exception_filenames(exc):
    """``(filename, filename2)`` of the file error a task raised, or None when its pickle is unreadable.

    Walks the inert object graph breadth first (bounded): tblib's pickle has
    an attribute dict with ``errno`` and ``filename``; a plain pickle calls
    the class with ``(errno, strerror, filename, winerror, filename2)``.
    """
    data = _exception_bytes(exc)
    if not data or len(data) > _MAX_PICKLE:
        return None
    try:
        root = _OpaqueUnpickler(io.BytesIO(data)).load()
    except Exception:
        return None
    queue = deque([root])
    seen = set()
    n = 0
    while queue and n < _MAX_NODES:
        x = queue.popleft()
        n += 1
        if id(x) in seen:
            continue
        seen.add(id(x))
        if isinstance(x, dict):
            if "errno" in x and ("filename" in x or "filename2" in x):
                return _name_text(x.get("filename")), _name_text(x.get("filename2"))
            queue.extend(islice(x.values(), 100))
        elif isinstance(x, _Opaque):
            a = x.args
            g = type(x)._g
            if g[0] == "builtins" and g[1] in OS_ERRORS and len(a) >= 3:
                return _name_text(a[2]), _name_text(a[4]) if len(a) >= 5 else None
            queue.extend(a[:20])
            if x.state is not None:
                queue.append(x.state)
        elif isinstance(x, (list, tuple)):
            queue.extend(x[:100])
    return None, None


def _state_field(x, name: str):
    """``name`` from an inert object's pickled state (``(None, {slots})``, ``{dict}`` or ``(dict, slots)``)."""
    st = x.state if isinstance(x, _Opaque) else None
    for part in (st if isinstance(st, tuple) else (st,)):
        if isinstance(part, dict) and name in part:
            return part[name]
    return None


def _arg_text(x) -> str:
    if isinstance(x, (str, int, float, bool, type(None))) or (isinstance(x, tuple) and
                                                             all(isinstance(y, (str, int, float)) for y in x)):
        return repr(x)[:1000]
    return f"<{type(x)._g[1]}>" if isinstance(x, _Opaque) else f"<{type(x).__name__}>"


def exception_text_of(exc):
    """``(type name, text)`` of an exception the scheduler holds without ``exception_text``.

    A ``KilledWorker`` is the scheduler's own pickle, but ``ts.exception`` is
    whatever was put there: it is read with ``_OpaqueUnpickler`` as the file
    names are, so no pickle runs code in the scheduler.  The text is the one
    ``str(KilledWorker)`` gives (task, attempts, last worker's address).
    """
    if isinstance(exc, BaseException):  # already an object (never unpickled here)
        return type(exc).__name__, f"{type(exc).__name__}: {exc}"
    data = _exception_bytes(exc)
    if not data or len(data) > _MAX_PICKLE:
        return None, "(exception not readable on the scheduler: not a pickle, or too large)"
    try:
        root = _OpaqueUnpickler(io.BytesIO(data)).load()
    except Exception as e:
        return None, f"(exception not readable on the scheduler: {type(e).__name__})"
    if not isinstance(root, _Opaque):
        return None, f"(exception not readable on the scheduler: a pickled {type(root).__name__})"
    name = type(root)._g[1]
    a = root.args
    if name == "unpickle_exception_with_attrs" and len(a) >= 2 and isinstance(a[0], type) \
            and issubclass(a[0], _Opaque) and isinstance(a[1], dict):
        # tblib's reduction (installed by distributed): (exception class, {"args": ...}, cause, ...)
        name, a = a[0]._g[1], a[1].get("args")
        a = a if isinstance(a, tuple) else ()
    etype = name if name.replace("_", "").isalnum() else None
    if name == "KilledWorker" and len(a) >= 3 and isinstance(a[2], int):
        addr = _state_field(a[1], "address")
        return etype, (f"KilledWorker: Attempted to run task {_arg_text(a[0])} on {a[2] + 1} different workers, "
                       "but all those workers died while running it. The last worker that attempt to run the "
                       f"task was {addr if isinstance(addr, str) else '?'}.")
    if len(a) == 1 and isinstance(a[0], str):
        return etype, f"{name}: {a[0][:2000]}"
    return etype, f"{name}: " + ", ".join(_arg_text(x) for x in a[:10])


def traceback_path(tb):
    """A path literal in the innermost source line of a traceback text (``open("/data/x.csv")``)."""
    if not tb:
        return None
    for line in reversed(str(tb)[-4000:].splitlines()):
        s = line.strip()
        if not s or s.startswith("File ") or set(s) <= {"^", "~", " "}:
            continue
        m = _PATH_LITERAL.search(s)
        return m.group(2) if m else None
    return None


def file_error_fields(etype, exc, tb, text) -> dict:
    """The file name(s) of a file error, and where they came from; or that they were lost."""
    if etype not in OS_ERRORS or (text and ": '" in text):
        return {}
    names = exception_filenames(exc)
    if names and (names[0] or names[1]):
        return {"filename": names[0], "filename2": names[1], "filename_from": "exception"}
    path = traceback_path(tb)
    if path:
        return {"filename": path, "filename_from": "traceback"}
    if text and _ERRNO_REPR.match(text):  # only "(errno, strerror)" reached the scheduler
        return {"filename_lost": True}
    return {}


def erred_times(scheduler) -> dict:
    """Scheduler-side times of erred transitions it still remembers: key -> (epoch seconds, where from)."""
    out: dict = {}
    for plugin in list(getattr(scheduler, "plugins", {}).values()):
        if getattr(plugin, "name", None) != "task-stream":  # read it only if someone installed it
            continue
        for d in list(getattr(plugin, "buffer", ()) or ()):
            try:
                if d.get("status") == "error" or d.get("exception") is not None or d.get("finish") == "erred":
                    stop = max(s["stop"] for s in d["startstops"])
                    out[_key_text(d["key"])] = (float(stop), "task-stream")
            except Exception:
                continue
    for tr in list(getattr(scheduler, "transition_log", ()) or ()):
        try:
            if tr[2] == "erred":
                out[_key_text(tr[0])] = (float(tr[5]), "transition_log")
        except Exception:
            continue
    return out


class MonitorPlugin(SchedulerPlugin):
    """Read-only observer; see the module docstring."""

    name = PLUGIN_NAME
    idempotent = True

    def __init__(self, max_failures: int = 2000, max_events: int = 2000, tb_limit: int = 6000,
                 text_limit: int = 2000, max_suspects: int = 10000) -> None:
        self.version = PLUGIN_VERSION
        self.max_failures = max_failures
        self.max_events = max_events
        self.tb_limit = tb_limit
        self.text_limit = text_limit
        self.max_suspects = max_suspects
        self.scheduler = None

    # -- lifecycle ---------------------------------------------------------
    async def start(self, scheduler) -> None:
        import uuid

        import dask

        self.scheduler = scheduler
        self.uid = uuid.uuid4().hex
        self.started = time.time()
        try:
            self.terminate = float(dask.config.get("distributed.worker.memory.terminate") or 0) or None
        except Exception:
            self.terminate = None
        self.failures: deque = deque(maxlen=self.max_failures)
        self.events: deque = deque(maxlen=self.max_events)
        self.n_failures = 0
        self.n_events = 0
        self.n_dependents = 0
        self.err_counts: dict = {}  # prefix -> {exception type: n}
        self.done: dict = {}  # prefix -> tasks that reached memory since start
        #: prefix -> tasks forgotten since start: the scheduler drops them from its counts, so a workflow
        #: that gathers and releases its futures showed "0 tasks" beside its failures.
        self.forgotten: dict = {}
        self.ws: dict = {}  # address -> WorkerState (live workers)
        self.names: dict = {}  # address -> name, also for departed workers (bounded)
        self.status: dict = {}  # address -> last status name
        self.suspects: dict = {}  # key -> [[address, name, t], ...] deaths while it ran
        #: Recorded (root) failures the scheduler still holds as erred: the monitor says how many of the
        #: failures it saw were released or retried since (bounded by the scheduler's own erred tasks).
        self.erred_roots: set = set()
        for addr, ws in list(scheduler.workers.items()):
            self.ws[addr] = ws
            self._name(addr, ws.name)
            self.status[addr] = ws.status.name
        # Failures that happened before the plugin was installed: one scan, once.
        # Their time is the scheduler's own where it still has one, else unknown.
        when = None
        for ts in list(scheduler.tasks.values()):
            if ts.state == "erred" and ts.exception_blame is ts:
                if when is None:
                    when = erred_times(scheduler)
                self._record_failure(ts, {}, None, before_attach=True, when=when.get(_key_text(ts.key)))
            elif ts.state == "erred":
                self.n_dependents += 1
        scheduler.handlers[HANDLER_SUMMARY] = self.summary
        scheduler.handlers[HANDLER_ERRED] = self.erred
        scheduler.handlers[HANDLER_DETACH] = self.detach

    # -- hooks -------------------------------------------------------------
    def transition(self, key, start, finish, *args, **kwargs) -> None:
        if start == "erred" and self.erred_roots:  # released, retried or forgotten
            self.erred_roots.discard(_key_text(key))
        if finish == "memory":
            ts = self.scheduler.tasks.get(key)
            if ts is not None:
                p = ts.prefix.name
                self.done[p] = self.done.get(p, 0) + 1
            if self.suspects:
                self.suspects.pop(_key_text(key), None)
        elif finish == "erred":
            ts = self.scheduler.tasks.get(key)
            if ts is None:
                return
            if ts.exception_blame is ts:
                self._record_failure(ts, kwargs, kwargs.get("stimulus_id"))
            else:
                self.n_dependents += 1
        elif finish == "forgotten":
            p = key_split(key)  # the prefix, as the scheduler names it (``inc-<hash>`` -> ``inc``)
            self.forgotten[p] = self.forgotten.get(p, 0) + 1
            if self.suspects:
                self.suspects.pop(_key_text(key), None)

    def add_worker(self, scheduler, worker: str) -> None:
        ws = scheduler.workers.get(worker)
        if ws is None:
            return
        self.ws[worker] = ws
        name = self._name(worker, ws.name)
        self.status[worker] = ws.status.name
        self._event("worker-added", worker=worker, name=name, host=ws.host, nanny=ws.nanny,
                    nthreads=ws.nthreads, limit=ws.memory_limit, pid=ws.pid)

    def remove_worker(self, scheduler, worker: str, **kwargs) -> None:
        # Normally handled by the "remove-worker" event (which has the reason);
        # this is the safety net so no WorkerState is kept alive.
        if self.ws.pop(worker, None) is not None:
            self._event("worker-removed", worker=worker, name=self.names.get(worker), stimulus=kwargs.get("stimulus_id"),
                        expected=None, processing=None)
        self.status.pop(worker, None)

    def restart(self, scheduler) -> None:
        self._event("cluster-restart")

    def log_event(self, topic, msg) -> None:
        if not isinstance(msg, dict):
            return
        action = msg.get("action")
        if topic == "all":
            if action == "remove-worker":
                self._on_remove(msg)
        elif topic == "worker-restart-memory":
            addr = msg.get("worker")
            ws = self.ws.get(addr)
            self._event("worker-restart-memory", worker=addr, name=self.names.get(addr), pid=msg.get("pid"),
                        rss=msg.get("rss"), limit=ws.memory_limit if ws is not None else None,
                        terminate=self.terminate)
        elif action == "worker-status-change":
            ws = self.ws.get(topic)
            self.status[topic] = msg.get("status")
            rss = _ws_memory(ws)[0] if ws is not None else None
            self._event("worker-status", worker=topic, name=self.names.get(topic), prev=msg.get("prev-status"),
                        status=msg.get("status"), rss=rss, limit=ws.memory_limit if ws is not None else None)
        elif action == "update-graph" and msg.get("status") == "error":
            self._on_graph_error(topic, msg)
        elif topic == "scheduler" and action in ("worker-ttl-timed-out", "no-workers-timeout-exceeded"):
            self._event(action, worker=msg.get("worker"), name=self.names.get(msg.get("worker")),
                        text=str({k: v for k, v in msg.items() if k != "action"})[:500])

    def _on_graph_error(self, topic, msg: dict) -> None:
        """A submitted graph the scheduler could not deserialize: no task of it exists, only this event.

        The scheduler calls this hook inside its ``except`` block, once per
        topic (``scheduler``, then the submitting client's id), with the same
        message: the cause is read from the exception being handled, as text,
        and only for builtin exception types (nothing of the user's is run).
        """
        if topic != "scheduler":
            last = self.events[-1] if self.events else None
            if last is not None and last.get("kind") == "graph-error" and last.get("stimulus") == msg.get("stimulus_id"):
                last["client"] = str(topic)[:200]
            return
        import sys

        exc = sys.exc_info()[1]
        text = cause = None
        if exc is not None:
            text = str(exc)[:1000] if type(exc).__module__ == "builtins" else type(exc).__name__
            c = exc.__cause__ or exc.__context__
            if c is not None:
                cause = f"{type(c).__name__}: {c}"[:1000] if type(c).__module__ == "builtins" else type(c).__name__
        self._event("graph-error", stimulus=msg.get("stimulus_id"), text=text, cause=cause, client=None)

    # -- recording ---------------------------------------------------------
    def _name(self, addr, name) -> str:
        name = str(name) if name is not None else addr
        self.names[addr] = name
        if len(self.names) > 20000:  # departed workers' names: keep the newest
            for old in list(islice(self.names, 5000)):
                if old not in self.ws:
                    del self.names[old]
        return name

    def _event(self, kind: str, **fields) -> None:
        self.n_events += 1
        fields["seq"] = self.n_events
        fields["kind"] = kind
        fields["t"] = time.time()
        self.events.append(fields)

    def _on_remove(self, msg: dict) -> None:
        addr = msg.get("worker")
        ws = self.ws.pop(addr, None)
        name = self.names.get(addr, addr)
        prev = self.status.pop(addr, None)
        expected = bool(msg.get("expected"))
        keys = msg.get("processing-tasks") or ()
        now = time.time()
        rss = limit = last_seen = None
        if ws is not None:
            rss = _ws_memory(ws)[0]
            limit = ws.memory_limit
            last_seen = ws.last_seen
        if not expected and prev not in _CLOSING:
            for k in islice(keys, 1000):
                lst = self.suspects.setdefault(_key_text(k), [])
                if len(lst) < 20:
                    lst.append([addr, name, now])
            while len(self.suspects) > self.max_suspects:
                self.suspects.pop(next(iter(self.suspects)))
        self._event("worker-removed", worker=addr, name=name, stimulus=msg.get("stimulus_id"), expected=expected,
                    prev_status=prev, processing=len(keys), keys=[_key_text(k) for k in islice(keys, 5)],
                    rss=rss, limit=limit, last_seen=last_seen,
                    lost=len(msg.get("lost-computed-tasks") or ()) + len(msg.get("lost-scattered-tasks") or ()))

    def _record_failure(self, ts, kwargs: dict, stimulus_id, before_attach: bool = False, when=None) -> None:
        key = _key_text(ts.key)
        text = ts.exception_text
        etype = None
        if not text and ts.exception is not None:
            # Made by the scheduler itself (KilledWorker), or by anyone who can
            # set it: read inert (nothing it names is imported or called).
            etype, text = exception_text_of(ts.exception)
        if etype is None and text:
            head = text.split("(", 1)[0].split(":", 1)[0].strip()
            etype = head if head.replace("_", "").replace(".", "").isalnum() else None
        erred_on = sorted(ts.erred_on or ())
        killed = None
        if etype == "KilledWorker":
            killed = self.suspects.pop(key, [])
            last = kwargs.get("worker")
            if last and not any(k[0] == last for k in killed):
                killed.append([last, self.names.get(last, last), time.time()])
            if not erred_on and last:
                erred_on = [last]
        prefix = ts.prefix.name
        if before_attach:
            t, t_from = when if when else (None, None)
        else:
            t, t_from = time.time(), "plugin"
        try:
            files = file_error_fields(etype, ts.exception, ts.traceback_text, text)
        except Exception:  # pragma: no cover - never let a hook fail
            files = {}
        self.n_failures += 1
        self.erred_roots.add(key)
        counts = self.err_counts.setdefault(prefix, {})
        counts[etype or "?"] = counts.get(etype or "?", 0) + 1
        self.failures.append({
            "seq": self.n_failures,
            "t": t,
            "t_from": t_from,
            "key": key,
            "prefix": prefix,
            "group": ts.group.name,
            "type": etype,
            "text": _clip(text, self.text_limit),
            "tb": _clip(ts.traceback_text, self.tb_limit),
            "erred_on": erred_on,
            "erred_on_names": [self.names.get(a, a) for a in erred_on],
            "suspicious": ts.suspicious,
            "killed": killed,
            "dependents": len(ts.dependents),
            "before_attach": before_attach,
            **files,
        })

    # -- handlers (called via raw rpc; replies are msgpack-only) -----------
    def _since(self, ring: deque, since: int, limit: int) -> tuple[list, int, int]:
        """Entries with seq > since (at most limit), how many were lost to the ring's cap, how many remain."""
        if not ring:
            return [], 0, 0
        first = ring[0]["seq"]
        last = ring[-1]["seq"]
        since = max(0, since)
        if since >= last:
            return [], 0, 0
        missed = max(0, first - since - 1)
        start = max(0, since + 1 - first)
        out = list(islice(ring, start, start + limit))
        remaining = max(0, last - (out[-1]["seq"] if out else since))
        return out, missed, remaining

    def detach(self) -> dict:
        """Remove this plugin and its handlers from the scheduler (an admin's request)."""
        s = self.scheduler
        removed = s.plugins.get(PLUGIN_NAME) is self
        if removed:
            s.remove_plugin(name=PLUGIN_NAME)
        for op, bound in ((HANDLER_SUMMARY, self.summary), (HANDLER_ERRED, self.erred), (HANDLER_DETACH, self.detach)):
            if s.handlers.get(op) == bound:
                del s.handlers[op]
        return {"removed": removed, "uid": self.uid, "n_failures": self.n_failures}

    def erred(self, since: int = 0, limit: int = 200) -> dict:
        out, missed, remaining = self._since(self.failures, since, limit)
        return {"uid": self.uid, "failures": out, "missed": missed, "more": remaining, "total": self.n_failures}

    def summary(self, ev_since: int = 0, err_since: int = 0, err_limit: int = 200, ev_limit: int = 1000,
                log_since: float | None = None, log_limit: int = 200, tc: int | None = None,
                workers: bool = True, hello: bool = False) -> dict:
        t0 = time.perf_counter()
        s = self.scheduler
        out: dict = {
            "plugin": self.version,
            "uid": self.uid,
            "id": str(s.id),
            "now": time.time(),
            "tc": s.transition_counter,
            "n_tasks": len(s.tasks),
            "n_queued": len(s.queued),
            "n_unrunnable": len(s.unrunnable),
            "n_workers": len(s.workers),
            "n_failures": self.n_failures,
            "n_events": self.n_events,
            "n_dependents_erred": self.n_dependents,
            "n_failures_erred": len(self.erred_roots),
        }
        if hello:
            import platform
            import sys

            import dask
            import distributed

            out["versions"] = {"python": platform.python_version(), "distributed": distributed.__version__,
                               "dask": dask.__version__, "executable": sys.executable}
            out["started"] = getattr(s, "time_started", None)
            out["address"] = s.address
            out["plugin_started"] = self.started
            out["terminate"] = self.terminate
        if tc != s.transition_counter:
            pre = {}
            forgotten = self.forgotten
            for name, tp in s.task_prefixes.items():
                st = tp.states
                row = [st.get(k, 0) for k in PREFIX_STATES]
                row[7] += forgotten.get(name, 0)
                if any(row) or name in self.err_counts:
                    row.append(self.done.get(name, 0))
                    row.append(round(tp.duration_average, 6) if tp.duration_average and tp.duration_average > 0 else None)
                    pre[name] = row
            out["prefixes"] = pre
            out["err_counts"] = self.err_counts
        if workers:
            rows = []
            for addr, ws in s.workers.items():
                process, managed, unmanaged, spilled = _ws_memory(ws)
                m = ws.metrics
                tc_w = m.get("task_counts") or {}
                rows.append([
                    addr, str(ws.name), ws.host, ws.status.name, ws.nthreads, ws.memory_limit, process, managed,
                    unmanaged, spilled, m.get("cpu"), tc_w.get("executing", 0) if tc_w else len(ws.executing),
                    tc_w.get("ready", 0) if tc_w else None,
                    len(ws.has_what), len(ws.processing), ws.last_seen, ws.nanny, ws.pid,
                ])
            out["workers"] = rows
        evs, ev_missed, ev_more = self._since(self.events, ev_since, ev_limit)
        out["events"] = evs
        out["events_missed"] = ev_missed
        fails, f_missed, f_more = self._since(self.failures, err_since, err_limit)
        out["failures"] = fails
        out["failures_missed"] = f_missed
        out["failures_more"] = f_more
        if log_since is not None:
            # Newest first, stops at the first line older than log_since: O(new lines).
            logs = []
            newest = log_since
            try:
                lines = s.get_logs(start=log_since, n=log_limit, timestamps=True)
            except Exception:  # pragma: no cover - defensive
                lines = []
            for created, level, line in lines:
                if created > newest:
                    newest = created
                if level in _WARN_LEVELS and created > log_since:
                    logs.append([created, level, line[:2000]])
            out["logs"] = logs[::-1]
            out["log_last"] = newest
            out["logs_truncated"] = len(lines) >= log_limit
        out["t_ms"] = (time.perf_counter() - t0) * 1000.0
        return out

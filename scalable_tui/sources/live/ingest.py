"""Folding scheduler replies into a ``LiveSnapshot``: no socket, no clock of its own beyond ``time.time``.

``SnapshotFolder`` holds the snapshot and the monitor-side memory (failure
index, worker identities, throughput history, cursors) and turns each reply —
a plugin summary (``_apply_summary``) or a limited-mode poll of the
msgpack-only handlers (``_apply_limited``) — into workers, failures and
events.  ``LiveSource`` (``source.py``) does the calls and hands the replies
here, so every rule about what a reply means can be tested by feeding dicts.

Over ~400 lines on purpose: the folder is one state machine (worker
identities, departures, failure de-duplication and caps all read and write the
same maps); cutting it would only spread that state across files.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict, deque
from dataclasses import replace
from typing import Any

import msgpack
from dask.utils import key_split

from scalable_tui.model.run import retired_counts
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
from scalable_tui.sources.live.plugin import PREFIX_STATES, WORKER_FIELDS

__all__ = ["SnapshotFolder", "describe_departure", "version_skew", "GRAPH_ERROR_TEXT"]

#: The scheduler's log line when a submitted graph does not deserialize (distributed/scheduler.py update_graph).
GRAPH_ERROR_TEXT = "Error during deserialization of the task graph"
# Only a line's first "Task " (if it has no such ending, no later one has): linear on a long line.
_KILLED_LOG = re.compile(r"(?<![^\n])(?>[^\n]*?Task )(?P<key>.+?) marked as failed because (?P<n>\d+) workers died")


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



class SnapshotFolder:
    """The snapshot plus the memory needed to fold the next reply into it (a base of ``LiveSource``)."""

    def __init__(self, address: str, *, max_failures: int = 2000, max_events: int = 5000,
                 max_departed: int = 1000, throughput_window: float = 30.0) -> None:
        self.address = address
        self.max_failures = max_failures
        self.max_departed = max_departed
        self.throughput_window = throughput_window
        self._snap = LiveSnapshot(address=address, events=deque(maxlen=max_events))
        # per-scheduler cursors (reset on a new scheduler id)
        self._sched_id: str | None = None
        self._plugin_uid: str | None = None
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
        self._addr_key: OrderedDict[str, str] = OrderedDict()
        self._hist: dict[str, deque[tuple[float, int]]] = {}
        self._recent_mem: dict[str, float] = {}
        self._last_status: dict[str, str] = {}
        self._suspects: dict[str, list[list[Any]]] = {}  # limited mode: key -> deaths while it ran
        self.last_reply: dict[str, Any] | None = None

    # -- notices and versions ----------------------------------------------
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
        # The night's totals keep the old scheduler's tasks (its unfinished ones as lost with it).
        for p in s.prefixes.values():
            for k, v in retired_counts(p.as_dict()).items():
                s.earlier_totals[k] = s.earlier_totals.get(k, 0) + v
        s.prefixes = {}
        self._hist.clear()

    # -- plugin mode -------------------------------------------------------
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
        s.failures_erred_now = resp.get("n_failures_erred")  # None from a plugin that does not count them
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
    def _apply_limited(self, ident: dict[str, Any], prefixes: dict[str, Any] | None,
                       events: list[tuple[float, str, Any]], logs: list[Any] | None, t_ref: float) -> None:
        """Fold one limited-mode poll (the msgpack-only handlers' replies) into the snapshot."""
        s = self._snap
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
        s.add_event(LiveEvent(ts=ts, kind=kind, worker=worker, text=text, address=address, details=details))
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
        """The same worker identity is listed again (nanny restart) or at a new address.

        At a new address it is a new process, whether or not the old one's
        departure has arrived yet: the scheduler's events can list the nanny's
        new process first, and the restart was then missed ("5 restarts"
        beside "6 worker deaths").
        """
        if not w.alive or w.address != addr:
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

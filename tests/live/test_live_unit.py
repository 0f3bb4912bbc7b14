"""The live source's pure parts and its connection handling, without a cluster."""

from __future__ import annotations

import ast
import asyncio
import json
import subprocess
import time
from pathlib import Path

import pytest

from assistant.diagnose import diagnose_state
from scalable_tui.model.live import LiveSnapshot, split_exception_text
from scalable_tui.sources.live import plugin as _live_plugin
from scalable_tui.sources.live.address import ADDRESS_HELP, LiveAddressError, resolve_address
from scalable_tui.sources.live.ingest import describe_departure, version_skew
from scalable_tui.sources.live.payload import plugin_payload
from scalable_tui.sources.live.source import LiveSource
from scalable_tui.sources.live.transport import RemoteError, classify_error
from tests.live.conftest import BLOCK, PY

# -- addresses ----------------------------------------------------------------


def test_resolve_address_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dask

    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    with dask.config.set({"scheduler-address": None}):
        assert resolve_address("tls://10.0.0.1:8786") == "tls://10.0.0.1:8786"
        assert resolve_address("127.0.0.1:8786") == "tcp://127.0.0.1:8786"
        sf = tmp_path / "s.json"
        sf.write_text(json.dumps({"address": "tcp://127.0.0.1:9999", "type": "Scheduler"}))
        assert resolve_address(None, sf) == "tcp://127.0.0.1:9999"
        assert resolve_address("tcp://127.0.0.1:1", sf) == "tcp://127.0.0.1:1"  # ADDRESS wins
        with pytest.raises(LiveAddressError, match="does not exist"):
            resolve_address(None, tmp_path / "missing.json")
        (tmp_path / "bad.json").write_text("{not json")
        with pytest.raises(LiveAddressError, match="not readable JSON"):
            resolve_address(None, tmp_path / "bad.json")
        with pytest.raises(LiveAddressError) as e:
            resolve_address(None, None)
        assert str(e.value) == ADDRESS_HELP and "\n" not in str(e.value)
        assert "--scheduler-file" in str(e.value) and "DASK_SCHEDULER_ADDRESS" in str(e.value)
        monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://127.0.0.1:7777")
        assert resolve_address(None, None) == "tcp://127.0.0.1:7777"
        monkeypatch.delenv("DASK_SCHEDULER_ADDRESS")
    with dask.config.set({"scheduler-address": "tcp://127.0.0.1:6666"}):
        assert resolve_address(None, None) == "tcp://127.0.0.1:6666"


# -- text helpers -------------------------------------------------------------


def test_describe_departure() -> None:
    r = describe_departure("handle-worker-cleanup-1795608259.4943955", False, "running")
    assert "exited or the connection to it was lost" in r and "1795" not in r
    assert describe_departure("nanny-close-1795608259.1", False, None) == describe_departure(
        "handle-worker-cleanup-1.0", False, None)  # the two race for one event: same words
    assert "worker-ttl" in describe_departure("check-worker-ttl-1795608259.49", False, "running")
    assert describe_departure("retire-workers-1795.5", True, "closing_gracefully").startswith("the worker shut down")
    assert describe_departure("retire-workers-1795.5", True, "running").startswith("expected:")
    assert "something-new" in describe_departure("something-new-12.5", False, None)
    assert describe_departure(None, None, None)


def test_split_exception_text() -> None:
    assert split_exception_text("ValueError('bad input 3')") == ("ValueError", "bad input 3")
    assert split_exception_text("FileNotFoundError(2, 'No such file or directory')") == (
        "FileNotFoundError", "2, 'No such file or directory'")
    assert split_exception_text("KilledWorker: Attempted to run task 'x'", "KilledWorker") == (
        "KilledWorker", "Attempted to run task 'x'")
    assert split_exception_text("MyError(<object at 0x1>)") == ("MyError", "<object at 0x1>")
    assert split_exception_text(None, "X") == ("X", "")
    assert split_exception_text("just text") == ("Exception", "just text")


def test_classify_error() -> None:
    from distributed.comm.core import CommClosedError

    assert classify_error(TimeoutError(), 2.0) == ("timeout", "no reply within 2 s")
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError as e:
            raise OSError("Timed out trying to connect to tcp://127.0.0.1:1 after 1 s") from e
    except OSError as e:
        assert classify_error(e, 1.0)[0] == "down"
    assert classify_error(CommClosedError("in <TCP>: Stream is closed"), 1.0)[0] == "down"
    assert classify_error(OSError("Timed out trying to connect to tcp://x after 1 s"), 1.0)[0] == "timeout"
    kind, reason = classify_error(RemoteError("identity", "TypeError('boom')"), 1.0)
    assert kind == "error" and "boom" in reason


def test_version_skew() -> None:
    same = {"python": "3.11.7", "distributed": "2026.8.0", "dask": "2026.8.0"}
    assert version_skew(same, dict(same)) is None
    assert version_skew(same, {**same, "python": "3.11.2"}) is None  # patch releases do not matter
    w = version_skew(same, {"python": "3.12.1", "distributed": "2025.1.0", "dask": "2026.8.0"})
    assert w and "distributed 2026.8.0 here vs 2025.1.0" in w and "Python" in w and "\n" not in w


# -- the plugin travels without this package ------------------------------------


def test_plugin_module_is_self_contained() -> None:
    tree = ast.parse(Path(_live_plugin.__file__).read_text())
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            roots.add(node.module.split(".")[0])
    allowed = {"__future__", "time", "collections", "itertools", "uuid", "platform", "sys", "dask", "distributed",
               "builtins", "io", "pickle", "re"}  # standard library only, besides dask and distributed
    assert roots <= allowed, roots - allowed


@pytest.mark.parametrize("kind", ["cloudpickle", "source"])
def test_payload_loads_where_scalable_tui_is_not_importable(kind: str) -> None:
    payload = plugin_payload(kind)
    probe = (
        BLOCK + "import pickle, sys\n"
        "from distributed.diagnostics.plugin import SchedulerPlugin\n"
        "p = pickle.loads(sys.stdin.buffer.read())\n"
        "assert isinstance(p, SchedulerPlugin), type(p)\n"
        "assert not [m for m in sys.modules if m.startswith('scalable_tui') and sys.modules[m] is not None]\n"
        "print(p.name, p.version, type(p).__module__)\n"
    )
    out = subprocess.run([PY, "-c", probe], input=payload, capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    name, version, _ = out.stdout.decode().split()
    assert name == "scalable-tui-monitor" and int(version) == _live_plugin.PLUGIN_VERSION


# -- connection handling ------------------------------------------------------


def test_nothing_listening_is_down_and_backs_off() -> None:
    async def scenario() -> None:
        src = LiveSource("tcp://127.0.0.1:1", call_timeout=0.5, poll_interval=0.2, max_backoff=5)
        t = time.monotonic()
        snap = await src.start()
        assert time.monotonic() - t < 3
        assert not snap.connected and snap.link == "down" and "refused" in snap.disconnect_reason
        assert snap.disconnected_since and snap.retry_at and "disconnected since" in snap.status_line()
        again = await src.poll()  # inside the backoff window: no new attempt, same data
        assert again.polls_failed == 1 and again.retry_at == snap.retry_at
        again = await src.poll(force=True)
        assert again.polls_failed == 2 and again.retry_at - time.time() > 0.25  # backoff grew
        assert [e.kind for e in again.events] == ["disconnected"]  # one event, not one per attempt
        await src.close()

    asyncio.run(scenario())


def test_silent_scheduler_is_slow_then_unresponsive() -> None:
    """A peer that accepts connections and never answers (like a SIGSTOPped scheduler)."""

    async def scenario() -> None:
        async def silent(reader, writer):
            await reader.read()  # never answers

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        src = LiveSource(f"tcp://127.0.0.1:{port}", call_timeout=0.5, max_backoff=0.1)
        links = []
        for _ in range(3):
            t = time.monotonic()
            snap = await src.poll(force=True)
            assert time.monotonic() - t < 1.5  # bounded by the call timeout
            links.append(snap.link)
            assert not snap.connected and snap.disconnect_reason
        assert links == ["slow", "unresponsive", "unresponsive"]
        await src.close()
        server.close()
        await server.wait_closed()

    asyncio.run(scenario())


# -- bounded memory, de-duplication, linking for the assistant -------------------


def _failure(seq: int, key: str, etype: str = "ValueError", **kw):
    d = {"seq": seq, "t": 1000.0 + seq, "key": key, "prefix": key.rsplit("-", 1)[0], "group": key, "type": etype,
         "text": f"{etype}('boom {seq}')", "tb": '  File "x.py", line 3, in f\n', "erred_on": ["tcp://127.0.0.1:5001"],
         "erred_on_names": ["w-0"], "suspicious": 0, "killed": None, "dependents": 0, "before_attach": False}
    d.update(kw)
    return d


def _source(**kw) -> LiveSource:
    src = LiveSource("tcp://127.0.0.1:1", **kw)
    src._sched_id = src._snap.scheduler_id = "Scheduler-test"
    src._snap.connected, src._snap.link, src._snap.last_poll_ok = True, "ok", time.time()
    return src


def test_caps_keep_exact_counts_and_no_duplicates() -> None:
    src = _source(max_failures=10, max_events=20)
    for i in range(50):
        src._ingest_failure(_failure(i + 1, f"task-{i}", "ValueError" if i % 2 else "KeyError"))
    src._ingest_failure(_failure(7, "task-6", "KeyError"))  # the same failure delivered again
    src._ingest_failure(_failure(60, "task-5", before_attach=True))  # a re-installed plugin's first scan
    s = src.snapshot
    assert len(s.failures) == 10 and s.failures_total == 50 and s.failures_dropped == 40
    assert sum(s.failure_counts.values()) == 50
    assert s.failure_counts[("task", "ValueError")] == 25
    assert sum(v[0] for v in s.dropped_summary.values()) == 40
    assert [f.key for f in s.failures] == [f"task-{i}" for i in range(40, 50)]
    # a task that erred again after a retry is one failure with two occurrences
    src._ingest_failure(_failure(61, "task-49", text="ValueError('boom again')"))
    s = src.snapshot
    assert s.failures_total == 50 and s.failures[-1].occurrences == 2 and "again" in s.failures[-1].exception
    # a new scheduler with the same key is a different failure
    src._sched_id = "Scheduler-other"
    src._ingest_failure(_failure(1, "task-49"))
    assert src.snapshot.failures_total == 51
    for i in range(30):
        src._event(float(i), "log-warning", None, f"line {i}")
    s = src.snapshot
    assert len(s.events) == 20 and s.events_total == 30 and s.events_dropped == 10
    assert s.event_counts["log-warning"] == 30


def test_snapshot_copies_are_independent() -> None:
    src = _source()
    src._apply_worker_rows([{"address": "tcp://127.0.0.1:5001", "name": "w-0", "status": "running", "nthreads": 1,
                             "memory_limit": 100, "memory": 10, "nanny": "tcp://127.0.0.1:6001"}], 1.0)
    a = src.snapshot
    src._apply_worker_rows([{"address": "tcp://127.0.0.1:5001", "name": "w-0", "status": "paused", "nthreads": 1,
                             "memory_limit": 100, "memory": 90, "nanny": "tcp://127.0.0.1:6001"}], 2.0)
    b = src.snapshot
    assert a.workers["w-0"].status == "running" and b.workers["w-0"].status == "paused"
    assert a.workers["w-0"].memory_fraction == 0.1 and b.workers["w-0"].memory_fraction == 0.9


def _memory_story(src: LiveSource, with_memory: bool) -> None:
    """One worker killed 4 times by its nanny (or SIGKILLed), then KilledWorker."""
    addrs = [f"tcp://127.0.0.1:{5000 + i}" for i in range(4)]
    t = 100.0
    for i, a in enumerate(addrs):
        src._ingest_plugin_event({"kind": "worker-added", "t": t, "worker": a, "name": "mem",
                                  "nanny": "tcp://127.0.0.1:7000", "nthreads": 1, "limit": 300_000_000})
        if with_memory:
            src._ingest_plugin_event({"kind": "worker-restart-memory", "t": t + 0.5, "worker": a, "name": "mem",
                                      "pid": 100 + i, "rss": 293_000_000, "limit": 300_000_000, "terminate": 0.95})
        src._ingest_plugin_event({"kind": "worker-removed", "t": t + 0.6, "worker": a, "name": "mem",
                                  "stimulus": f"handle-worker-cleanup-{t}", "expected": False, "prev_status": "running",
                                  "processing": 1, "rss": 70_000_000, "limit": 300_000_000})
        t += 1
    src._ingest_failure(_failure(1, "hog-1", "KilledWorker", tb=None, suspicious=4,
                                 text="KilledWorker: Attempted to run task 'hog-1' on 4 different workers",
                                 erred_on=[addrs[-1]], erred_on_names=["mem"],
                                 killed=[[a, "mem", 100.0 + i] for i, a in enumerate(addrs)]))


def test_memory_kills_make_a_worker_memory_finding() -> None:
    src = _source()
    _memory_story(src, with_memory=True)
    s = src.snapshot
    w = s.workers["mem"]
    assert w.restarts == 3 and w.memory_kills == 4 and not w.alive and "memory budget" in w.left_reason
    assert len(w.previous_addresses) == 3
    kinds = [e.kind for e in s.events]
    assert kinds.count("worker-restart-memory") == 4 and kinds.count("worker-removed") == 4
    assert kinds[-1] == "killed-worker" and "mem, mem, mem, mem" in s.events[-1].text
    state = s.to_run_state()
    kw = next(r for r in state.failures if r.failure_class == "KilledWorker")
    assert kw.details["suspect_task"] == "hog-1" and kw.details["killed_workers"] == "mem, mem, mem, mem"
    assert "exceeded 95% memory budget" in kw.message
    # The 4 deaths are the KilledWorker (Dask gave up on hog-1 because of them): counted once, not
    # again as 4 WorkerDied failures (this asserted 4 WorkerDied records before issue 12).
    deaths = [r for r in state.failures if r.failure_class == "WorkerDied"]
    assert deaths == [] and state.worker_deaths == 4 and len(state.worker_events) == 13
    diag = diagnose_state(state)
    cats = {f.category for f in diag.findings}
    assert cats == {"worker_memory"}, [(f.category, f.title) for f in diag.findings]
    (kwf,) = diag.findings
    assert "KilledWorker" in kwf.exception_types
    assert kwf.task_ids == ["hog-1"] and kwf.workers == ["mem"] and kwf.count == 1
    assert (diag.failures_total, diag.task_failures, diag.worker_deaths) == (1, 1, 4)


def test_plain_worker_deaths_are_worker_lost() -> None:
    src = _source()
    _memory_story(src, with_memory=False)
    diag = diagnose_state(src.snapshot.to_run_state())
    assert {f.category for f in diag.findings} == {"worker_lost"}


def test_death_near_the_memory_limit_is_worker_memory() -> None:
    src = _source()
    a = "tcp://127.0.0.1:5001"
    src._ingest_plugin_event({"kind": "worker-added", "t": 1.0, "worker": a, "name": "w", "limit": 1000})
    src._ingest_plugin_event({"kind": "worker-status", "t": 2.0, "worker": a, "name": "w", "prev": "running",
                              "status": "paused", "rss": 900, "limit": 1000})
    src._ingest_plugin_event({"kind": "worker-removed", "t": 3.0, "worker": a, "name": "w", "expected": False,
                              "stimulus": "handle-worker-cleanup-3.0", "rss": 930, "limit": 1000, "processing": 1})
    s = src.snapshot
    assert [e.kind for e in s.events] == ["worker-added", "paused", "worker-removed"]
    diag = diagnose_state(s.to_run_state())
    assert [f.category for f in diag.findings] == ["worker_memory"]
    assert "93% of its memory budget" in diag.findings[0].example_message


def test_graceful_departures_are_not_deaths_and_a_new_scheduler_resets_cursors() -> None:
    src = _source()
    a = "tcp://127.0.0.1:5001"
    src._ingest_plugin_event({"kind": "worker-added", "t": 1.0, "worker": a, "name": "w"})
    src._ingest_plugin_event({"kind": "worker-removed", "t": 2.0, "worker": a, "name": "w", "expected": True,
                              "stimulus": "retire-workers-2.0", "prev_status": "closing_gracefully"})
    src._apply_worker_rows([{"address": "tcp://127.0.0.1:5002", "name": "v"}], 3.0)
    src._ev_seq, src._err_seq, src._log_ts = 5, 7, 99.0
    src._new_scheduler("Scheduler-new")
    s = src.snapshot
    assert not s.workers["w"].alive and not s.workers["v"].alive and s.workers["v"].left_reason == "its scheduler went away"
    assert (src._ev_seq, src._err_seq, src._log_ts) == (0, 0, 0.0)
    assert s.events[-1].kind == "scheduler-restarted"
    state = s.to_run_state()
    assert not [r for r in state.failures if r.failure_class == "WorkerDied"]
    assert state.meta.status == "running"


def test_to_run_state_status_follows_the_link() -> None:
    s = LiveSnapshot(address="tcp://127.0.0.1:1", scheduler_id="S", link="ok", connected=True, last_poll_ok=time.time())
    assert s.to_run_state().meta.status == "running"
    s.link, s.connected, s.disconnected_since = "down", False, time.time()
    st = s.to_run_state()
    assert st.meta.status == "finished" and st.meta.finished_at and st.meta.run_id == "S"
    assert diagnose_state(st).status == "finished"


def test_live_models_stay_headless() -> None:
    """The snapshot types (what the UI and the assistant read) import no cluster or UI code."""
    code = ("import sys, scalable_tui.model.live, assistant.diagnose\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'distributed', 'textual', 'openai', 'tornado'}))")
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "[]", (out.stdout, out.stderr[-1000:])


def test_limited_mode_parses_msgpack_only_replies_once() -> None:
    """identity / get_task_prefix_states / events / get_logs replies (as this scheduler sends them)."""
    a0, a1 = "tcp://127.0.0.1:5000", "tcp://127.0.0.1:5001"
    worker = {"type": "Worker", "id": "w-0", "host": "127.0.0.1", "name": "w-0", "nthreads": 1, "memory_limit": 1000,
              "last_seen": 50.0, "status": "running", "nanny": "tcp://127.0.0.1:7000",
              "metrics": {"task_counts": {"executing": 1}, "managed_bytes": 100, "spilled_bytes": {"memory": 0, "disk": 5},
                          "cpu": 12.5, "memory": 400}}
    replies = {
        "identity": {"type": "Scheduler", "id": "Scheduler-x", "address": "tcp://127.0.0.1:1", "started": 1.0,
                     "workers": {a1: worker}},
        "versions": {"host": {"python": "3.11.7.final.0"}, "packages": {"distributed": "2026.8.0", "dask": "2026.8.0"}},
        "get_task_prefix_states": {"hog": {"memory": 0, "erred": 1, "released": 0, "processing": 0, "waiting": 0}},
        ("events", "all"): ((10.0, {"action": "add-worker", "worker": a0}),
                            (20.0, {"action": "remove-worker", "worker": a0, "stimulus_id": "handle-worker-cleanup-20.0",
                                    "expected": False, "processing-tasks": {"hog-1"}})),
        ("events", "worker-restart-memory"): ((19.5, {"worker": a0, "pid": 42, "rss": 990}),),
        "get_logs": ((30.0, "ERROR", "… - ERROR - Task hog-1 marked as failed because 4 workers died while trying to run it"),
                     (25.0, "WARNING", "… - WARNING - Event loop was unresponsive in Scheduler for 3.14s"),
                     (24.0, "INFO", "… - INFO - Register worker addr: tcp://127.0.0.1:5001 name: w-0")),
    }

    async def fake_call(op, **kw):
        return replies[(op, kw["topic"])] if op == "events" else replies[op]

    async def scenario() -> None:
        src = LiveSource("tcp://127.0.0.1:1", use_plugin=False)
        src._started, src._conn_args = True, {}
        src._call = fake_call
        s1 = await src.poll()
        s2 = await src.poll(force=True)
        for s in (s1, s2):
            assert s.connected and s.mode == "limited" and s.scheduler_id == "Scheduler-x"
            assert [f.key for f in s.failures] == ["hog-1"] and s.failures[0].exception_type == "KilledWorker"
            assert s.failures[0].origin == "logs" and s.failures[0].suspicious == 4
            assert [e.kind for e in s.events].count("worker-removed") == 1
            assert [e.kind for e in s.events].count("log-warning") == 1
            assert s.prefixes["hog"].erred == 1 and s.prefixes["hog"].completed is None
            w = s.workers["w-0"]
            assert (w.address, w.memory, w.managed, w.unmanaged, w.spilled, w.cpu, w.executing) == (
                a1, 400, 100, 300, 5, 12.5, 1)
            assert "memory budget" in " ".join(s.memory_evidence[a0])
        assert s2.failures[0].killed_addresses == [a0]
        state = s2.to_run_state()
        # the death of a0 is the KilledWorker's: one failure, one death (was KilledWorker + WorkerDied)
        assert [r.failure_class for r in state.failures] == ["KilledWorker"] and state.worker_deaths == 1
        assert {f.category for f in diagnose_state(state).findings} == {"worker_memory"}

    asyncio.run(scenario())


@pytest.mark.parametrize("removal_first", [True, False])
def test_a_restart_is_counted_whichever_of_its_events_arrives_first(removal_first: bool) -> None:
    """The demo showed "5 restarts" beside "6 worker deaths": a nanny's new process was listed (at a new
    address) before the old one's departure arrived, and the restart was counted only for a worker marked gone."""
    src = _source()
    nanny = "tcp://127.0.0.1:7000"
    src._ingest_plugin_event({"kind": "worker-added", "t": 1.0, "worker": "tcp://127.0.0.1:5000", "name": "w",
                              "nanny": nanny, "nthreads": 1, "limit": 100})
    added = {"kind": "worker-added", "t": 2.0, "worker": "tcp://127.0.0.1:5001", "name": "w", "nanny": nanny,
             "nthreads": 1, "limit": 100}
    removed = {"kind": "worker-removed", "t": 1.9, "worker": "tcp://127.0.0.1:5000", "name": "w",
               "stimulus": "handle-worker-cleanup-1", "expected": False, "prev_status": "running"}
    for ev in ((removed, added) if removal_first else (added, removed)):
        src._ingest_plugin_event(ev)
    s = src.snapshot
    w = s.workers["w"]
    assert w.alive and w.address == "tcp://127.0.0.1:5001" and "tcp://127.0.0.1:5000" in w.previous_addresses
    assert w.restarts == 1 == s.to_run_state().worker_deaths


def test_a_memory_bar_says_the_unit_of_each_side() -> None:
    """ "62/12 GiB" meant 62 MiB of 12 GiB: the used part's unit was dropped."""
    from scalable_tui.tui.widgets.live_bars import used_of

    assert used_of(62 * 2**20, 12 * 2**30) == "0.1/12 GiB"
    assert used_of(13 * 2**30, 16 * 2**30) == "13/16 GiB"
    assert used_of(120 * 2**20, 334 * 2**20) == "120/334 MiB"
    assert used_of(1.5 * 2**30, 12 * 2**30) == "1.5/12 GiB"


def test_a_host_name_that_does_not_resolve_is_said_so(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """An unresolvable name was reported as "slow: no reply within 3 s" (the lookup fails in ms).

    No lookup is made here (tests stay on 127.0.0.1): the resolver's answer is the one it gives.
    """
    import asyncio
    import socket

    from scalable_tui.sources.live import address, transport

    async def no_such_host(host, port):  # type: ignore[no-untyped-def]
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(address.asyncio, "open_connection", no_such_host)
    assert asyncio.run(address.port_state("tcp://nonexistent.invalid:8786")) == "unresolved"

    async def never(*a, **k):  # type: ignore[no-untyped-def]
        await asyncio.sleep(30)

    async def attempt() -> BaseException:
        try:
            await transport._connect_unless_refused(never(), "tcp://nonexistent.invalid:8786", 5.0)
        except BaseException as exc:  # noqa: BLE001
            return exc
        raise AssertionError("connected")

    exc = asyncio.run(attempt())
    assert transport.classify_error(exc, 3.0) == ("down", "cannot resolve the scheduler's host name (check the address)")

"""The live source against a real LocalCluster with worker processes."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from assistant.diagnose import diagnose_state
from scalable_tui.model.live import LiveSnapshot
from scalable_tui.sources.live import plugin as _live_plugin
from scalable_tui.sources.live import source as live_mod
from scalable_tui.sources.live.source import LiveSource
from tests.live import workload
from tests.live.conftest import PY, WORKLOAD, until

EXPECTED_TYPES = {0: "ValueError", 1: "KeyError", 2: "ZeroDivisionError", 3: "FileNotFoundError", 4: "DeliberateError"}


def _scheduler_truth(client) -> dict[str, dict[str, int]]:
    def states(dask_scheduler):
        return {n: {k: v for k, v in tp.states.items() if v} for n, tp in dask_scheduler.task_prefixes.items()}

    return client.run_on_scheduler(states)


def test_failures_workers_prefixes_and_diagnosis(local_cluster) -> None:
    cluster, client = local_cluster
    from distributed import wait

    n = 10
    futures: list = []

    def submit() -> None:
        oks = client.map(workload.ok, range(n), pure=False, key=[f"okay-{i}" for i in range(n)])
        bads = client.map(workload.bad, range(n), pure=False, key=[f"broken-{i}" for i in range(n)])
        deps = client.map(workload.after, bads[:3], pure=False, key=[f"downstream-{i}" for i in range(3)])
        futures.extend(oks + bads + deps)
        with client.as_current():
            wait(futures, timeout=60)

    async def scenario() -> LiveSnapshot:
        src = LiveSource(cluster.scheduler_address, poll_interval=0.5, call_timeout=5.0)
        try:
            await src.start()
            await asyncio.to_thread(submit)
            snap = await until(src, lambda s: len([f for f in s.failures if f.prefix == "broken"]) == n
                               and "downstream" in s.prefixes, what="10 failures")
            # incremental: nothing is re-sent once seen
            again = await src.poll(force=True)
            assert not src.last_reply["failures"]
            assert again.failures_total == snap.failures_total
            return again
        finally:
            await src.close()

    snap = asyncio.run(scenario())
    assert snap.mode == "plugin" and snap.connected and snap.link == "ok"
    assert snap.limited_panels == []
    assert snap.scheduler_versions["distributed"] and snap.version_warning is None
    broken = {f.key: f for f in snap.failures if f.prefix == "broken"}
    for i in range(n):
        f = broken[f"broken-{i}"]
        assert f.exception_type == EXPECTED_TYPES[i % 5], f
        assert f.traceback and "in bad" in f.traceback
        assert f.traceback_text.startswith("Traceback (most recent call last):")
        assert f.traceback_text.rstrip().endswith(f"{f.exception_type}: {f.message}")
        assert f.erred_on and f.erred_on[0] in snap.workers
        assert f.erred_on_addresses[0].startswith("tcp://127.0.0.1:")
    assert broken["broken-0"].message == "deliberate bad value 0"
    assert "No such file or directory" in broken["broken-3"].message
    # dependents of failed tasks are counted, not listed as failures
    assert not any(f.prefix == "downstream" for f in snap.failures)
    assert snap.dependents_erred >= 3

    # workers table == scheduler_info()
    info = client.scheduler_info(n_workers=-1)["workers"]
    ours = {(w.name, w.address, w.nthreads, w.memory_limit, w.host, w.status) for w in snap.alive_workers}
    theirs = {(str(w["name"]), a, w["nthreads"], w["memory_limit"], w["host"], w["status"]) for a, w in info.items()}
    assert ours == theirs
    for w in snap.alive_workers:
        assert w.memory and w.memory_limit == 2**30 and w.pid and w.nanny and w.alive and w.left_at is None

    # per-prefix counts == the scheduler's own TaskPrefix.states
    truth = _scheduler_truth(client)
    for name in ("okay", "broken", "downstream"):
        mine = {k: v for k, v in snap.prefixes[name].as_dict().items() if v}
        assert mine == truth[name], (name, mine, truth[name])
    assert snap.prefixes["okay"].memory == n and snap.prefixes["broken"].erred == n
    assert snap.prefixes["okay"].completed == n and snap.prefixes["okay"].total == n

    # the assistant on live data groups them by exception
    state = snap.to_run_state()
    assert state.meta.run_id == snap.scheduler_id and state.meta.status == "running"
    rec = next(r for r in state.failures if r.task_id == "broken-0")
    assert rec.failure_class == "ValueError" and rec.source == "scheduler" and rec.worker in snap.workers
    assert rec.traceback and "in bad" in rec.traceback
    diag = diagnose_state(state)
    groups = {f.title: f for f in diag.findings if f.task_ids and f.task_ids[0].startswith("broken-")}
    assert sum(f.count for f in groups.values()) == n and len(groups) == 5, list(groups)
    by_type = {f.exception_types[0]: f for f in groups.values()}
    assert by_type["ValueError"].count == 2 and by_type["ValueError"].category == "invalid_input"
    assert by_type["FileNotFoundError"].category == "missing_file"
    assert by_type["DeliberateError"].example_traceback
    client.cancel(futures)


def test_tasks_from_another_client_are_seen_and_kept_after_release(local_cluster) -> None:
    """The monitor is not the submitter; failures stay after the submitter left and the scheduler forgot them."""
    cluster, client = local_cluster

    async def scenario() -> None:
        src = LiveSource(cluster.scheduler_address, poll_interval=0.5, call_timeout=5.0)
        try:
            await src.start()
            sub = subprocess.Popen([PY, str(WORKLOAD), cluster.scheduler_address, "fail", "5"],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            try:
                line = await asyncio.to_thread(sub.stdout.readline)
                assert line.startswith("READY "), line
                import json

                keys = json.loads(line[6:])["keys"]
                snap = await until(src, lambda s: keys.keys() <= {f.key for f in s.failures}, what="their failures")
                assert {f.key: f.exception_type for f in snap.failures if f.key in keys} == keys
            finally:
                sub.stdin.close()
                await asyncio.to_thread(sub.wait, 30)
                sub.stdout.close()
            # the submitter is gone: its tasks are released and forgotten on the scheduler...
            snap = await until(src, lambda s: not any(k.startswith("bad-") for k in _live_keys(client)),
                               what="scheduler forgets the tasks", timeout=20)
            # ...but the monitor keeps them, once each
            snap = await src.poll(force=True)
            mine = [f for f in snap.failures if f.key in keys]
            assert len(mine) == len(keys) == 5
            assert all(f.traceback for f in mine if f.exception_type != "KilledWorker")
            # and counts them: forgotten tasks stay in the totals (an audit saw "0 tasks" beside 6 failures)
            bad = snap.prefixes["bad"]
            assert bad.forgotten >= 5 and bad.total >= 5, bad
            assert snap.task_totals()["forgotten"] >= 5 and sum(snap.task_totals().values()) >= snap.failures_total
        finally:
            await src.close()

    asyncio.run(scenario())


def _live_keys(client) -> list[str]:
    return client.run_on_scheduler(lambda dask_scheduler: [str(k) for k in dask_scheduler.tasks])


def test_failures_before_attach_are_found_once(local_cluster) -> None:
    """A scheduler that had erred tasks before the plugin existed: one scan at install, then no repeats."""
    from distributed import Client, LocalCluster, wait

    with LocalCluster(n_workers=1, processes=False, protocol="tcp://", host="127.0.0.1", dashboard_address=":0") as lc, \
            Client(lc, set_as_default=False) as c:
        futs = c.map(workload.bad, range(4), pure=False, key=[f"early-{i}" for i in range(4)])
        with c.as_current():
            wait(futs, timeout=30)

        async def scenario() -> None:
            a = LiveSource(lc.scheduler_address, call_timeout=5.0)
            # a second monitor (plugin already there), fetching 2 failures per poll
            b = LiveSource(lc.scheduler_address, call_timeout=5.0, failure_batch=2)
            try:
                sa = await a.start()
                sb = await b.start()
                assert len(sb.failures) == 2
                sb = await until(b, lambda s: len(s.failures) == 4, what="paging")
                for s in (sa, sb):
                    assert s.mode == "plugin"
                    assert sorted(f.key for f in s.failures) == [f"early-{i}" for i in range(4)]
                    assert all(f.before_attach and f.traceback for f in s.failures)
                later = c.map(workload.bad, [5], pure=False, key=["late-5"])
                with c.as_current():
                    wait(later, timeout=30)
                sa = await until(a, lambda s: len(s.failures) == 5, what="late failure")
                assert [f.key for f in sa.failures].count("late-5") == 1 and not sa.failures[-1].before_attach
                n_plugins = c.run_on_scheduler(
                    lambda dask_scheduler: sum(1 for k in dask_scheduler.plugins if k == "scalable-tui-monitor"))
                assert n_plugins == 1
            finally:
                await a.close()
                await b.close()

        asyncio.run(scenario())


@pytest.mark.filterwarnings("ignore:Scheduler already contains a plugin:UserWarning")
def test_an_older_plugin_is_replaced_once(monkeypatch) -> None:
    from distributed import LocalCluster

    async def scenario(address: str) -> LiveSnapshot:
        first = LiveSource(address, call_timeout=5.0)
        await first.start()
        await first.close()
        monkeypatch.setattr(live_mod, "PLUGIN_VERSION", 999)  # this monitor expects a newer plugin
        src = LiveSource(address, call_timeout=5.0)
        try:
            await src.start()
            return await src.poll(force=True)
        finally:
            await src.close()

    with LocalCluster(n_workers=1, processes=False, protocol="tcp://", host="127.0.0.1", dashboard_address=":0") as lc:
        snap = asyncio.run(scenario(lc.scheduler_address))
        assert lc.scheduler.plugins["scalable-tui-monitor"].version == _live_plugin.PLUGIN_VERSION
    assert snap.connected and snap.mode == "plugin" and snap.link == "ok"
    assert any("replaced an older monitor plugin" in n for n in snap.notices)


def test_limited_mode_without_plugin(local_cluster) -> None:
    cluster, client = local_cluster

    async def scenario() -> LiveSnapshot:
        src = LiveSource(cluster.scheduler_address, use_plugin=False, call_timeout=5.0)
        try:
            return await until(src, lambda s: len(s.alive_workers) == 2, what="workers")
        finally:
            await src.close()

    snap = asyncio.run(scenario())
    assert snap.mode == "limited" and snap.connected
    assert any("Failures" in p for p in snap.limited_panels) and any("limited mode" in n for n in snap.notices)
    info = client.scheduler_info(n_workers=-1)["workers"]
    assert {w.address for w in snap.alive_workers} == set(info)
    assert snap.scheduler_versions.get("distributed")
    assert snap.last_reply_bytes and snap.last_reply_bytes > 0


def test_plugin_refused_falls_back_to_limited(monkeypatch) -> None:
    """Registration refused by the scheduler (here: a payload it cannot unpickle) -> limited mode, said so."""
    from distributed import LocalCluster

    monkeypatch.setattr(live_mod, "plugin_payload", lambda kind="cloudpickle", **kw: b"this is not a pickle")

    async def scenario(address: str) -> LiveSnapshot:
        src = LiveSource(address, call_timeout=5.0)
        try:
            await src.start()
            return await src.poll(force=True)
        finally:
            await src.close()

    # a fresh scheduler: the shared one may already have the plugin
    with LocalCluster(n_workers=1, processes=False, protocol="tcp://", host="127.0.0.1", dashboard_address=":0") as lc:
        snap = asyncio.run(scenario(lc.scheduler_address))
    assert snap.connected and snap.mode == "limited"
    assert any("could not install the monitor plugin" in n for n in snap.notices), snap.notices
    assert snap.limited_panels and len(snap.alive_workers) == 1


def test_run_loop_and_iterator(local_cluster) -> None:
    cluster, _ = local_cluster

    async def scenario() -> None:
        src = LiveSource(cluster.scheduler_address, poll_interval=0.05, call_timeout=5.0)
        seen: list[LiveSnapshot] = []
        stop = asyncio.Event()

        async def cb(s: LiveSnapshot) -> None:
            seen.append(s)
            if len(seen) >= 3:
                stop.set()

        await asyncio.wait_for(src.run(cb, stop=stop), 20)
        assert len(seen) == 3 and all(s.connected for s in seen)
        assert seen[0] is not seen[1] and seen[0].workers is not seen[1].workers
        n = 0
        async for s in src:
            n += 1
            if n == 2:
                await src.close()
        assert src.snapshot.closed and src.snapshot.link == "closed"
        assert (await src.poll()).closed

    asyncio.run(scenario())


def test_tls_the_dask_way() -> None:
    pytest.importorskip("cryptography")
    from distributed import LocalCluster
    from distributed.security import Security

    sec = Security.temporary()
    with LocalCluster(n_workers=1, processes=False, protocol="tls://", host="127.0.0.1", dashboard_address=":0", security=sec) as lc:
        assert lc.scheduler_address.startswith("tls://")

        async def scenario() -> None:
            src = LiveSource(lc.scheduler_address, security=sec, call_timeout=5.0)
            snap = await until(src, lambda s: len(s.alive_workers) == 1, what="a TLS poll")
            assert snap.mode == "plugin" and snap.link == "ok"
            await src.close()
            bad = LiveSource(lc.scheduler_address, call_timeout=2.0)  # no certificates: a clean error state
            snap = await bad.start()
            assert not snap.connected and snap.link in ("error", "down") and snap.disconnect_reason
            await bad.close()

        asyncio.run(scenario())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))


def test_remove_plugin_takes_it_off_and_an_attached_monitor_recovers() -> None:
    """``attach --remove-plugin`` (a real CLI process): plugin and handlers gone; a watching monitor reinstalls."""
    from distributed import LocalCluster

    from tests.conftest import run_cli

    names = (_live_plugin.HANDLER_SUMMARY, _live_plugin.HANDLER_ERRED, _live_plugin.HANDLER_DETACH)
    with LocalCluster(n_workers=1, processes=False, protocol="tcp://", host="127.0.0.1", dashboard_address=":0") as lc:
        addr = lc.scheduler_address
        watcher = LiveSource(addr, call_timeout=5.0)

        async def poll() -> LiveSnapshot:
            return await watcher.poll(force=True)

        loop = asyncio.new_event_loop()
        try:
            first = loop.run_until_complete(watcher.start())
            assert first.mode == "plugin" and _live_plugin.PLUGIN_NAME in lc.scheduler.plugins
            assert all(n in lc.scheduler.handlers for n in names)

            p = run_cli("attach", addr, "--remove-plugin", timeout=60)
            assert p.returncode == 0 and p.stdout.startswith(f"removed the monitor plugin from {addr}"), p
            assert _live_plugin.PLUGIN_NAME not in lc.scheduler.plugins
            assert not any(n in lc.scheduler.handlers for n in names)

            p = run_cli("attach", addr, "--remove-plugin", timeout=60)
            assert p.returncode == 0 and p.stdout.strip() == f"no monitor plugin is installed on {addr}", p

            # the monitor that was watching finds its handlers gone and installs a fresh plugin
            again = loop.run_until_complete(poll())
            assert again.connected and again.mode == "plugin" and again.link == "ok"
            assert _live_plugin.PLUGIN_NAME in lc.scheduler.plugins
        finally:
            loop.run_until_complete(watcher.close())
            loop.close()


def test_remove_plugin_from_a_dead_address_says_so() -> None:
    from tests.conftest import run_cli

    p = run_cli("attach", "tcp://127.0.0.1:1", "--remove-plugin", timeout=60)
    assert p.returncode == 2 and not p.stdout
    assert "cannot reach the scheduler at tcp://127.0.0.1:1: down: connection refused" in p.stderr

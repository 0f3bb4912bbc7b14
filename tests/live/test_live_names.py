"""One display name per worker, the same on every screen and in the failure records.

Unnamed workers (``dask worker`` without ``--name``: Dask names them after
their address) used to show as ``nanny tcp://…:46183`` on Events and
``tcp://…:41941`` on Workers, and the Overview cut both to ``tcp://127.0.0.``.
"""

from __future__ import annotations

import asyncio

import pytest

from scalable_tui.model.live import LiveSnapshot, WorkerInfo, display_names
from scalable_tui.sources.live.source import LiveSource
from tests.app.helpers import screen_text, wait_for, wait_text
from tests.live.conftest import Procs, procs, until  # noqa: F401


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _w(key: str, name: str, address: str, alive: bool = True, previous: list[str] | None = None) -> WorkerInfo:
    return WorkerInfo(key=key, name=name, address=address, alive=alive, previous_addresses=previous or [])


def test_display_names_rules() -> None:
    # unnamed workers on one host: the host is dropped, whole parts only
    a = _w("nanny tcp://127.0.0.1:46183", "tcp://127.0.0.1:41941", "tcp://127.0.0.1:41941")
    b = _w("nanny tcp://127.0.0.1:46184", "tcp://127.0.0.1:38211", "tcp://127.0.0.1:38211")
    assert display_names([a, b]) == {a.key: ":41941", b.key: ":38211"}
    # a lone unnamed worker keeps host:port; a restarted one shows its current address
    c = _w("nanny tcp://10.0.0.5:1", "tcp://10.0.0.5:2000", "tcp://10.0.0.5:3000", previous=["tcp://10.0.0.5:2000"])
    assert display_names([c]) == {c.key: "10.0.0.5:3000"}
    # hosts differ: host:port each, never cut inside a host name
    d = _w("nanny tcp://node-a12:1", "tcp://node-a12:4000", "tcp://node-a12:4000")
    e = _w("nanny tcp://node-a13:1", "tcp://node-a13:4000", "tcp://node-a13:4000")
    assert display_names([d, e]) == {d.key: "node-a12:4000", e.key: "node-a13:4000"}
    # named workers keep their names (dask-jobqueue: SLURMCluster-0-1), whole
    f = _w("SLURMCluster-0-0", "SLURMCluster-0-0", "tcp://node-a12:4001")
    g = _w("SLURMCluster-0-1", "SLURMCluster-0-1", "tcp://node-a12:4002")
    assert display_names([f, g, d]) == {f.key: "SLURMCluster-0-0", g.key: "SLURMCluster-0-1", d.key: "node-a12:4000"}
    # a departed worker whose port was reused: still told apart
    old = _w("nanny tcp://127.0.0.1:9", "tcp://127.0.0.1:41941", "tcp://127.0.0.1:41941", alive=False)
    names = display_names([a, b, old])
    assert len(set(names.values())) == 3 and names[old.key] == ":41941 (left)"
    # lookups by key or by address give the same label
    snap = LiveSnapshot(address="tcp://x:1", workers={w.key: w for w in (a, b)})
    assert snap.display_name(a.key) == snap.display_name("tcp://127.0.0.1:41941") == ":41941"
    assert snap.display_name(None) == "-"


@pytest.mark.slow
@pytest.mark.anyio
async def test_unnamed_workers_have_one_name_on_every_screen(procs: Procs) -> None:
    from scalable_tui.tui.attach import AttachApp

    address, _ = procs.scheduler()
    procs.workers("--nworkers", "2")  # nannies on, no --name: Dask names them after their address
    src = LiveSource(address, call_timeout=5.0)
    try:
        await src.start()
        snap = await until(src, lambda s: len(s.alive_workers) == 2, what="two workers")
    finally:
        await src.close()
    assert all(w.key.startswith("nanny ") and not w.named for w in snap.alive_workers)  # the premise
    wl, info = await asyncio.to_thread(procs.workload, address, "fail", "5")
    assert info["keys"]

    app = AttachApp(address, poll_interval=0.3, call_timeout=5.0, no_ai=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.live is not None and len(app.live.alive_workers) == 2
                       and len(app.live.failures) == 5 and app.snapshot is not None, 30, "workers and failures")
        names = app.live.display_names
        labels = sorted(names[w.key] for w in app.live.alive_workers)
        ports = sorted(":" + w.address.rsplit(":", 1)[1] for w in app.live.alive_workers)
        assert labels == ports  # one host: the host is dropped, the port kept whole

        await pilot.press("1")
        await wait_text(pilot, "workers")
        await wait_for(pilot, lambda: all(lb + " " in screen_text(app) for lb in labels), 10, "labels on Overview")
        assert "tcp://127.0.0." not in screen_text(app).replace(address, "")

        await pilot.press("5")
        await wait_text(pilot, "2 workers alive")
        text = screen_text(app)
        assert all(lb in text for lb in labels) and "nanny tcp://" not in text

        await pilot.press("6")
        await wait_text(pilot, "worker-added")
        text = screen_text(app)
        assert any(lb in text for lb in labels) and "nanny tcp://" not in text

        # the failure records (Failures screen, findings, exports) name the same workers
        recs = [r for r in app.snapshot.failures if r.task_id in info["keys"]]
        assert recs and {r.worker for r in recs} <= set(labels)
        assert all(set(f.workers) <= set(labels) for f in app.snapshot.diagnosis.findings if f.workers)
    wl.stdin.close()
    await asyncio.to_thread(wl.wait, 30)

"""``attach --notify --on-finding``: the app's own diagnosis feeds the alerts; delivery goes through the app."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from scalable_tui.tui.attach import AttachApp
from scalable_tui.session.live_alerts import build_alerts
from scalable_tui.session.notify import AppTerminal
from tests.alerts.test_alerts_live import LINE, _fail
from tests.app.helpers import wait_for
from tests.live.conftest import real_cluster
from tests.alerts.hooks import hook_into

pytestmark = [pytest.mark.slow, pytest.mark.anyio]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_attach_alerts_once_per_new_group_through_the_app(tmp_path: Path) -> None:
    got, hook = hook_into(tmp_path)
    with real_cluster() as (cluster, client):
        alerts = build_alerts(notify=True, on_finding=f"{sys.executable} {hook} {got}", terminal=False)
        app = AttachApp(cluster.scheduler_address, poll_interval=0.3, call_timeout=5.0, no_ai=True, alerts=alerts)
        alerts.use_app(app, notify=True)
        term = alerts.sinks[0]
        assert isinstance(term, AppTerminal)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.live is not None and app.live.connected, 20, "connected")
            await asyncio.to_thread(_fail, client, 0)
            await wait_for(pilot, lambda: len(alerts.delivered) == 1, 30, "one alert")
            await wait_for(pilot, lambda: len(list(got.iterdir())) == 1, 30, "one --on-finding run")
            await asyncio.to_thread(_fail, client, 5)  # same group: it grows, no alert

            def diagnosed_twice() -> bool:
                snap = app.snapshot
                return snap is not None and any(f.count == 2 for f in snap.diagnosis.findings)

            await wait_for(pilot, diagnosed_twice, 30, "the grown group diagnosed")
            seen = app.live_version
            await wait_for(pilot, lambda: app.live_version >= seen + 2, 30, "two more polls (flushes)")
            assert len(alerts.delivered) == 1
            assert [d.body for d in alerts.delivered] == [LINE]
            assert term.sent == [f"\x1b]9;scalable-tui: {LINE}\x07\x1b]777;notify;scalable-tui;{LINE}\x07"]
            await pilot.press("q")
    files = list(got.iterdir())
    assert len(files) == 1
    assert json.loads(files[0].read_text())["summary"] == LINE

"""``attach --record FILE``: what the live app saw is in a recording that replays and diagnoses."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from scalable_tui.tui.attach import AttachApp
from scalable_tui.demo import workload
from scalable_tui.sources.recording.writer import RecordingWriter
from scalable_tui.sources.recording.reader import Recording
from tests.app.helpers import wait_for
from tests.conftest import run_cli

pytestmark = [pytest.mark.slow, pytest.mark.anyio]


def _submit(client):
    from distributed import wait

    inputs = client.map(workload.load_inputs, range(20), pure=False)
    with client.as_current():
        wait(inputs, timeout=90)
    return inputs


async def test_attach_records_what_it_sees(demo_cluster, tmp_path: Path) -> None:
    from assistant.diagnose import diagnose_state

    cluster, client = demo_cluster
    path = tmp_path / "night.rec"
    writer = RecordingWriter.create(path, address=cluster.scheduler_address, interval=0.3)
    app = AttachApp(cluster.scheduler_address, poll_interval=0.3, call_timeout=5.0, no_ai=True, recorder=writer)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.live is not None and app.live.connected, 20, "connected")
        futures = await asyncio.to_thread(_submit, client)
        failed = {f.key for f in futures if f.status == "error"}
        assert failed
        await wait_for(pilot, lambda: {f.key for f in app.live.failures} >= failed, 30, "failures seen")
        seen = app.live_version
        await wait_for(pilot, lambda: app.recorded >= 3 and app.live_version > seen + 1, 30, "frames written")
        live_diag = diagnose_state(app.live.to_run_state())
        await pilot.press("q")
    with Recording(path) as rec:
        assert len(rec.times()) >= 3
        last = rec.state_at(rec.end)
        assert failed <= {f.key for f in last.failures}
        whole = diagnose_state(rec.whole_run_state())
        assert {f.category for f in whole.findings} >= {f.category for f in live_diag.findings if f.count}
    out = run_cli("diagnose", str(path), "--format", "json")
    assert out.returncode == 0 and '"failures_total"' in out.stdout


def test_attach_record_refuses_an_existing_file(tmp_path: Path) -> None:
    existing = tmp_path / "x.rec"
    existing.write_text("not a recording")
    p = run_cli("attach", "tcp://127.0.0.1:1", "--record", str(existing))
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1
    assert existing.read_text() == "not a recording"

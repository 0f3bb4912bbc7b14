"""A task graph the scheduler cannot deserialize is a finding, not only a line on Events.

Real processes: a ``dask scheduler`` that cannot import a module the client's
function lives in (the module exists only in this test's temporary directory),
so ``update_graph`` fails with "Error during deserialization of the task graph"
and no task of that graph ever exists on the scheduler.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from pathlib import Path

import pytest

from assistant.diagnose import diagnose_state
from scalable_tui.sources.live.source import LiveSource
from tests.live.conftest import Procs, procs, until  # noqa: F401

pytestmark = pytest.mark.slow


def _submit_unimportable(address: str, tmp_path: Path) -> str:
    """Submit a function from a module only this process can import; return the error the client got."""
    from distributed import Client

    mod_dir = tmp_path / "clientonly"
    mod_dir.mkdir()
    (mod_dir / "h4_client_only_mod.py").write_text("def scenario(i):\n    return i * 2\n")
    sys.path.insert(0, str(mod_dir))
    try:
        mod = importlib.import_module("h4_client_only_mod")
        with Client(address, timeout=20, set_as_default=False) as c:
            fut = c.submit(mod.scenario, 1, key="scenario-1")
            try:
                fut.result(timeout=30)
            except Exception as e:  # noqa: BLE001 - the error is the point
                return f"{type(e).__name__}: {e}"
            raise AssertionError("the scheduler deserialized a graph it cannot import")
    finally:
        sys.path.remove(str(mod_dir))
        sys.modules.pop("h4_client_only_mod", None)


@pytest.mark.parametrize("use_plugin", [True, False], ids=["plugin", "limited"])
def test_graph_that_fails_to_deserialize_is_a_finding(procs: Procs, tmp_path: Path, use_plugin: bool) -> None:
    address, _ = procs.scheduler()
    procs.workers("--nworkers", "1")

    async def scenario():
        src = LiveSource(address, call_timeout=5.0, use_plugin=use_plugin)
        try:
            await src.start()
            got = await asyncio.to_thread(_submit_unimportable, address, tmp_path)
            snap = await until(src, lambda s: any(e.kind == "graph-error" for e in s.events), what="graph-error event")
            return got, snap
        finally:
            await src.close()

    got, snap = asyncio.run(scenario())
    assert "deserialization of the task graph" in got  # what the submitting client saw
    assert snap.mode == ("plugin" if use_plugin else "limited")
    (ev,) = [e for e in snap.events if e.kind == "graph-error"]
    assert "none of its tasks ran" in ev.text
    if use_plugin:  # the cause, read scheduler-side from the exception being handled
        assert "No module named 'h4_client_only_mod'" in ev.text
    assert "scenario" not in snap.prefixes  # no task of that graph exists: it is not a task failure

    state = snap.to_run_state()
    recs = [r for r in state.failures if r.source == "scheduler-events" and r.task_id is None
            and "deserializ" in r.message]
    assert len(recs) == 1
    diag = diagnose_state(state)
    (f,) = [x for x in diag.findings if x.category == "graph_deserialization"]
    assert f.severity == "critical" and f.count == 1
    assert "same environment" in f.suggestion and "get_versions(check=True)" in f.suggestion  # the fix
    if use_plugin:
        assert "'h4_client_only_mod'" in f.suggestion  # the module the scheduler lacks, named

"""Failure ingest of the live source against real LocalClusters: file names, times, worker names.

* A file error keeps its path (Dask's ``repr(e)`` drops it; the plugin reads it
  back from the exception the scheduler holds, without unpickling anything).
* Failures from before the monitor attached carry the scheduler's own time
  when it still has one, else no time at all: never the attach time.
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import re
import time
from pathlib import Path

import cloudpickle
import pytest

from assistant.diagnose import diagnose_state
from assistant.render import render_markdown, render_text, to_json
from scalable_tui.model.live import FILENAME_LOST, LiveFailure
from scalable_tui.sources.live.plugin import exception_filenames, traceback_path
from scalable_tui.sources.live.source import LiveSource
from tests.live import fileerrors, workload
from tests.live.conftest import until

pytestmark = pytest.mark.slow


def _wait_all(client, futures) -> None:
    from distributed import wait

    with client.as_current():
        wait(futures, timeout=60)


def test_missing_file_finding_names_the_path(local_cluster) -> None:
    """Real worker processes: the missing_file finding names the file; an errno-only error says the name was lost."""
    cluster, client = local_cluster
    cloudpickle.register_pickle_by_value(fileerrors)
    futures: list = []
    try:
        futures += [client.submit(fileerrors.read_missing, "/nonexistent/scenario-7/input.csv", key="read-in-7"),
                    client.submit(fileerrors.rename_missing, "/nonexistent/from.nc", "/nonexistent/to.nc",
                                  key="move-out-1"),
                    client.submit(fileerrors.errno_only, key="lib-call-1")]
        _wait_all(client, futures)
    finally:
        cloudpickle.unregister_pickle_by_value(fileerrors)
    # what Dask itself kept: the errno and the text, no path
    texts = client.run_on_scheduler(lambda dask_scheduler: {
        k: dask_scheduler.tasks[k].exception_text for k in ("read-in-7", "move-out-1", "lib-call-1")})
    assert texts["read-in-7"] == "FileNotFoundError(2, 'No such file or directory')"

    async def scenario():
        src = LiveSource(cluster.scheduler_address, call_timeout=5.0)
        try:
            await src.start()
            return await until(src, lambda s: {"read-in-7", "move-out-1", "lib-call-1"} <= {f.key for f in s.failures},
                               what="the three file errors")
        finally:
            await src.close()

    snap = asyncio.run(scenario())
    by_key = {f.key: f for f in snap.failures}
    read, move, lost = by_key["read-in-7"], by_key["move-out-1"], by_key["lib-call-1"]
    assert (read.filename, read.filename_from, read.filename_lost) == ("/nonexistent/scenario-7/input.csv", "exception", False)
    assert read.message == "[Errno 2] No such file or directory: '/nonexistent/scenario-7/input.csv'"
    assert read.traceback_text.rstrip().endswith(
        "FileNotFoundError: [Errno 2] No such file or directory: '/nonexistent/scenario-7/input.csv'")
    assert (move.filename, move.filename2) == ("/nonexistent/from.nc", "/nonexistent/to.nc")
    assert move.message == "[Errno 2] No such file or directory: '/nonexistent/from.nc' -> '/nonexistent/to.nc'"
    assert lost.filename is None and lost.filename_lost
    assert lost.message == f"[Errno 2] No such file or directory ({FILENAME_LOST})"

    diag = diagnose_state(snap.to_run_state())
    missing = [f for f in diag.findings if f.category == "missing_file"]
    assert missing, [(f.category, f.title) for f in diag.findings]
    text = "\n".join(f"{f.suggestion}\n{f.example_message}\n" + "\n".join(e.text for e in f.evidence) for f in missing)
    assert "/nonexistent/scenario-7/input.csv" in text
    assert "/nonexistent/from.nc" in text
    assert FILENAME_LOST in text
    # the suggestion names where the files are missing (the run-directory path does the same)
    assert any("/nonexistent" in f.suggestion for f in missing)
    rec = next(r for r in snap.to_run_state().failures if r.task_id == "read-in-7")
    assert rec.details["filename"] == "/nonexistent/scenario-7/input.csv"
    assert rec.details["filename_from"] == "exception"
    client.cancel(futures)


def test_exception_pickles_are_read_without_running_them(tmp_path: Path) -> None:
    """The scheduler-side reader never imports or calls what a pickle names."""
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    assert exception_filenames(pickle.dumps(FileNotFoundError(2, "No such file or directory", Evil()))) == (None, None)
    assert exception_filenames(pickle.dumps(Evil())) == (None, None)
    assert not marker.exists()
    assert exception_filenames(pickle.dumps(FileNotFoundError(2, "x", "/a/b.csv"))) == ("/a/b.csv", None)
    assert exception_filenames(b"not a pickle") is None
    # a pickle that names a thousand globals is refused, not turned into a thousand classes
    many = b"\x80\x04" + b"".join(b"c" + f"m{i}\nn{i}\n".encode() + b"0" for i in range(1000)) + b"N."
    assert exception_filenames(many) is None
    # the traceback fallback takes a plain literal only (an f-string is not the path)
    assert traceback_path('  File "m.py", line 3, in f\n    open("/data/in.csv")\n') == "/data/in.csv"
    assert traceback_path('  File "m.py", line 3, in f\n    open(f"/data/{i}.csv")\n') is None
    f = LiveFailure(key="k", prefix="k", exception_type="FileNotFoundError",
                    exception="FileNotFoundError(2, 'No such file or directory')", traceback=None, erred_on=[],
                    first_seen=None, filename="/data/in.csv", filename_from="traceback")
    assert f.message == "[Errno 2] No such file or directory: '/data/in.csv' (file name from the traceback's source line)"


def test_failures_before_attach_have_no_made_up_time() -> None:
    """Tasks fail, THEN the monitor attaches: their time is the scheduler's, or unknown; never the attach time."""
    from distributed import Client, LocalCluster

    import dask

    # a short transition log, so the scheduler forgets when the early failures happened
    with dask.config.set({"distributed.admin.low-level-log-length": 12}), \
            LocalCluster(n_workers=1, processes=False, protocol="tcp://", host="127.0.0.1",
                         dashboard_address=":0") as lc, Client(lc, set_as_default=False) as c:
        t_submit = time.time()
        early = c.map(workload.bad, [0, 5], pure=False, key=["early-0", "early-5"])
        _wait_all(c, early)
        oks = c.map(workload.ok, range(30), pure=False, key=[f"fill-{i}" for i in range(30)])
        _wait_all(c, oks)
        recent = c.map(workload.bad, [10], pure=False, key=["recent-10"])
        _wait_all(c, recent)
        log = c.run_on_scheduler(lambda dask_scheduler: [str(t[0]) for t in dask_scheduler.transition_log])
        assert "early-0" not in log and "recent-10" in log  # the premise: one remembered, two forgotten
        t_attach = time.time()

        async def scenario():
            src = LiveSource(lc.scheduler_address, call_timeout=5.0)
            try:
                await src.start()
                snap = await until(src, lambda s: len(s.failures) == 3, what="the three failures")
                late = c.map(workload.bad, [15], pure=False, key=["late-15"])
                await asyncio.to_thread(_wait_all, c, late)
                return snap, await until(src, lambda s: len(s.failures) == 4, what="the late failure")
            finally:
                await src.close()

        snap, after = asyncio.run(scenario())
    by_key = {f.key: f for f in after.failures}
    for k in ("early-0", "early-5"):
        f = by_key[k]
        assert f.before_attach and f.first_seen is None and f.time_from is None, f
        assert f.time_text == "before attach"
    r = by_key["recent-10"]
    assert r.before_attach and r.time_from == "transition_log"
    assert t_submit - 1 <= r.first_seen < t_attach, (r.first_seen, t_attach)
    late = by_key["late-15"]
    assert not late.before_attach and late.time_from == "plugin" and late.first_seen >= t_attach

    state = after.to_run_state()
    recs = {r.task_id: r for r in state.failures}
    assert recs["early-0"].ts is None and recs["early-0"].timestamp is None
    assert recs["early-0"].details["before_attach"] is True
    assert recs["recent-10"].ts == r.first_seen
    diag = diagnose_state(state)
    (f,) = [x for x in diag.findings if "early-0" in x.task_ids]
    assert f.count == 4 and f.before_attach == 2
    assert f.first_seen is not None  # from the two that have a time
    assert "2 of 4 before attach (time unknown)" in render_text(diag, width=200)
    assert re.search(r"\*\*Seen:\*\* .*2 of 4 before attach \\\(time unknown\\\)", render_markdown(diag))
    j = json.loads(to_json(diag))
    jf = next(x for x in j["findings"] if "early-0" in x["task_ids"])
    assert jf["before_attach"] == 2
    assert "before attach" in " ".join(e["source"] for e in jf["evidence"])
    # the screens' text of a finding and its export say it too
    from scalable_tui.session.lists import finding_text
    from scalable_tui.tui.screens.findings import finding_detail

    assert "2 of 4 before attach (time unknown)" in finding_detail(f).plain
    assert "2 of 4 before attach (time unknown)" in finding_text(f)

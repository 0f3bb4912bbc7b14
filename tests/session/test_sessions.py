"""The headless sessions (review, monitor, replay): one ``ViewModel`` type, capability flags, no Textual.

The apps used to hold this logic themselves (a subclass chain with holders and fake sources); these
tests drive the sessions with a plain list as the sink, the way the app's messages consume them.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from scalable_tui.session import diagnose_recording, diagnose_run
from scalable_tui.session.monitor import MonitorSession
from scalable_tui.session.replay import ReplaySession
from scalable_tui.session.review import ReviewSession
from scalable_tui.session.view import ViewModel
from scalable_tui.sources.recording.reader import Recording
from scalable_tui.sources.rundir.reader import RunDirReader
from tests.conftest import fixture_run
from tests.replay.conftest import DEATH_AT, FAIL_AT, FRAMES, write_recording

ROOT = Path(__file__).resolve().parents[2]


def _until(cond, timeout: float = 20.0, what: str = "condition") -> None:
    """Wait for a session's background thread (an event per emitted view, no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_review_session_emits_the_pipeline_diagnosis_without_an_app() -> None:
    run = fixture_run("killed-worker")
    views: list[ViewModel] = []
    ReviewSession(RunDirReader(run)).run(views.append)
    assert views and all(isinstance(v, ViewModel) for v in views)
    last = views[-1]
    assert last.run is not None and last.error is None
    assert last.run.diagnosis.failures_total == diagnose_run(run).failures_total > 0
    assert [f.id for f in last.run.diagnosis.findings] == [f.id for f in diagnose_run(run).findings]
    caps = last.caps
    assert (caps.live, caps.has_jobs, caps.has_timeline, caps.can_debug) == (False, False, False, False)
    assert last.timeline is None and not last.ticks()  # a finished run: the status line does not tick
    assert last.status_line(time.time()) == last.run.status_line(time.time())


def test_replay_session_seeks_and_diagnoses_the_whole_recording(tmp_path: Path) -> None:
    rec = write_recording(tmp_path / "night.rec")
    session = ReplaySession(rec.path)
    views: list[ViewModel] = []
    got = threading.Event()

    def sink(view: ViewModel) -> None:
        views.append(view)
        got.set()

    session.on_view = sink
    session.start()
    try:
        _until(lambda: session.view.whole is not None and session.view.run is not None, what="both diagnoses")
        view = session.view
        assert view.caps.has_timeline and view.caps.live and not view.caps.has_jobs and not view.caps.can_debug
        assert view.jobs_off_reason and "no batch-scheduler jobs" in view.jobs_off_reason
        with Recording(rec.path) as r:
            _, whole = diagnose_recording(r, slurm="auto")
        assert view.whole.diagnosis.failures_total == whole.failures_total == 4  # what `diagnose FILE.rec` says
        assert view.timeline is not None and view.timeline.pos == 0 and len(view.timeline.times) == FRAMES
        assert session.jump("failure", 1) is None and session.view.timeline.pos == min(FAIL_AT)
        assert session.jump("death", 1) is None and session.view.timeline.pos == DEATH_AT
        session.edge(1)
        assert session.jump("death", 1) == "no later worker death in this recording"
        # the moment's diagnosis follows the seek (it runs in the background, merged)
        _until(lambda: session.view.run is not None and session.view.run.diagnosis.failures_total == 4,
               what="the last moment diagnosed")
        assert session.view.status_line(0.0)[0].startswith("replay · ")
        assert f"({FRAMES}/{FRAMES})" in session.view.status_line(0.0)[0]
        assert views[-1] is session.view  # every change was emitted, the last one is the current view
    finally:
        session.close()


def test_monitor_diagnoses_a_recorded_frame_as_the_replay_does(tmp_path: Path) -> None:
    """The same LiveSnapshot gives the same findings in attach (monitor) and in replay (moment)."""
    rec = write_recording(tmp_path / "night.rec")
    with Recording(rec.path) as r:
        frame = r.state_at(r.times()[-1])
    monitor = MonitorSession(None)
    replay = ReplaySession(rec.path)
    try:
        monitor.got_live(frame)
        replay.seek(FRAMES - 1)
        _until(lambda: monitor.view.run is not None and replay.view.run is not None, what="two diagnoses")
        assert monitor.view.live is frame and monitor.view.live_version == 1
        m, p = monitor.view.run.diagnosis, replay.view.run.diagnosis
        assert (m.failures_total, m.tasks_total) == (p.failures_total, p.tasks_total)
        assert sorted(f.id for f in m.findings) == sorted(f.id for f in p.findings)
        # the same view model type, different capabilities: the monitor can debug, only the replay seeks
        assert type(monitor.view) is type(replay.view) is ViewModel
        assert monitor.view.caps.can_debug and not monitor.view.caps.has_timeline
        assert replay.view.caps.has_timeline and not replay.view.caps.can_debug
        assert monitor.view.ticks() and not replay.view.ticks()
    finally:
        monitor.close()
        replay.close()


def test_sessions_import_and_run_with_textual_blocked(tmp_path: Path) -> None:
    """``session.*`` is headless: with ``textual`` unimportable, every session still loads and runs."""
    script = """
import sys
sys.modules["textual"] = None  # any `import textual...` now raises ImportError
from scalable_tui.session import review, monitor, replay, view, snapshot  # noqa: F401
from scalable_tui.session.review import ReviewSession
from scalable_tui.sources.rundir.reader import RunDirReader
from tests.conftest import fixture_run
views = []
ReviewSession(RunDirReader(fixture_run("killed-worker"))).run(views.append)
assert views[-1].run.diagnosis.failures_total > 0
assert not [m for m in sys.modules if m == "textual" or m.startswith("textual.")
            if sys.modules[m] is not None]
print("headless ok", views[-1].run.diagnosis.failures_total)
"""
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "headless ok" in out.stdout


def test_tailing_a_run_pauses_in_proportion_to_what_a_publish_costs(tmp_path: Path) -> None:
    """A big run being written costs ~0.6 s a publish; publishing every second kept a core busy all night.
    The pause after a publish is PUBLISH_PAUSE × its cost (at least the poll interval); without new data,
    the plain poll interval."""
    import json
    import shutil

    from scalable_tui.session import review

    run = tmp_path / "run"
    shutil.copytree(fixture_run("killed-worker"), run)
    meta = json.loads((run / "run.json").read_text())
    meta.update(status="running", finished_at=None)
    (run / "run.json").write_text(json.dumps(meta))

    class Waits(threading.Event):
        def __init__(self) -> None:
            super().__init__()
            self.timeouts: list[float] = []

        def wait(self, timeout: float | None = None) -> bool:
            self.timeouts.append(float(timeout or 0.0))
            return len(self.timeouts) >= 2  # stop after the second pause

    ticks = iter([100.0, 102.0])  # the one publish "costs" 2 s
    session = ReviewSession(RunDirReader(run), poll_interval=1.0, stale_after_s=10**9)
    session.clock = lambda: next(ticks)
    waits = Waits()
    views: list[ViewModel] = []
    session.run(views.append, cancelled=waits)
    assert len(views) == 1 and views[0].run is not None and views[0].run.live
    assert waits.timeouts == [review.PUBLISH_PAUSE * 2.0, 1.0]

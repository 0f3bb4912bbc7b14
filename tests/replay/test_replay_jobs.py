"""The replay's Jobs screen shows the Slurm jobs stored at the moment on the timeline."""

from __future__ import annotations

import pytest

from scalable_tui.tui.replay import ReplayApp, replay_jobs
from scalable_tui.model.jobs import Job, JobsSnapshot
from scalable_tui.sources.recording.writer import RecordingWriter
from scalable_tui.sources.jobs.slurm import SlurmSource
from tests.app.helpers import screen_text, wait_for
from tests.replay.conftest import INTERVAL, T0, write_recording
from tests.slurm.test_parsers import read
from tests.slurm.test_source import dask_fake

pytestmark = pytest.mark.anyio

#: Jobs polls at frame 2 (p1: 21, 22 running, 23 pending) and frame 30 (p2: those cancelled, 24 running).
P1_AT, P2_AT = 2, 30


@pytest.fixture(scope="module")
def jobs_recording(tmp_path_factory):
    path = tmp_path_factory.mktemp("replay-jobs") / "jobs.rec"
    rec = write_recording(path)
    fake, _ = dask_fake()
    clock = [T0 + P1_AT * INTERVAL]
    src = SlurmSource(user="root", name="dask-worker", runner=fake, clock=lambda: clock[0])
    w = RecordingWriter.create(path, mode="append")
    assert w.write_jobs(src.poll())
    clock[0] = T0 + P2_AT * INTERVAL
    fake.squeue = [read("squeue_22.05_dask_p2.txt")]
    assert w.write_jobs(src.poll())
    w.close("scheduler closed")
    return rec


def _row(text: str, job_id: str) -> str:
    return next((ln for ln in text.splitlines() if ln.split()[:1] == [job_id]), "")


async def _screen(pilot, *needles: str) -> str:
    """The screen once every needle is on it (one render)."""
    got: list[str] = []

    def ok() -> bool:
        got[:] = [screen_text(pilot.app)]
        return all(n in got[0] for n in needles)

    await wait_for(pilot, ok, 10, f"{needles} on screen")
    return got[0]


async def test_jobs_screen_follows_the_timeline(jobs_recording) -> None:
    app = ReplayApp(jobs_recording.path, no_ai=True)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: app.live is not None, 10, "first snapshot")
        assert app.jobs is not None and not app.jobs.jobs  # frame 0: before the first jobs poll
        await pilot.press("7")
        await _screen(pilot, "Slurm: 0 jobs", "no jobs poll recorded before this moment")
        await pilot.press("right", "right", "right")  # frame 3: after the first jobs poll (frame 2)
        assert app.pos == P1_AT + 1
        # elapsed: 3 s at the poll, 5 s before the moment shown (and the columns are laid out)
        text = await _screen(pilot, "Slurm: 3 jobs", "1 job PENDING: Resources", "polled 5.0s ago", "00:00:08")
        assert app.jobs.job("21").elapsed_s == 3.0  # as polled: the screen advances it (00:00:08)
        assert "RUNNING" in _row(text, "21") and "RUNNING" in _row(text, "22") and "PENDING" in _row(text, "23")
        assert "24" not in [ln.split()[0] for ln in text.splitlines() if ln.split()]
        assert "not replayed" not in text
        await pilot.press("shift+right", "shift+right", "shift+right")  # frame 33: after the second poll
        assert app.pos == P1_AT + 31
        text = await _screen(pilot, "Slurm: 4 jobs", "polled 15s ago", "CANCELLED", "00:00:19")
        assert "CANCELLED" in _row(text, "21") and "CANCELLED" in _row(text, "23") and "RUNNING" in _row(text, "24")
        await pilot.press("home")
        await _screen(pilot, "Slurm: 0 jobs")


async def test_recording_without_jobs_says_so(recording) -> None:
    app = ReplayApp(recording.path, no_ai=True)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: app.live is not None, 10, "first snapshot")
        await pilot.press("7")
        text = await _screen(pilot, "Slurm: off", "no batch-scheduler jobs")
        assert app.jobs is None and "not replayed" not in text


def test_replay_jobs_reads_as_at_the_moment() -> None:
    snap = JobsSnapshot(jobs=[Job("1", "w", "RUNNING", elapsed_s=100.0, time_left_s=200.0),
                              Job("2", "w", "PENDING", elapsed_s=0.0)], polled_at=T0, last_ok=T0)
    out = replay_jobs(snap, T0 + 50, now=T0 + 10_000)
    assert out.polled_at == T0 + 10_000 - 50 and out.last_ok == T0 + 10_000 - 50
    # the Jobs screen advances elapsed and left from the (shifted) poll time: both as at T0 + 50
    from scalable_tui.tui.screens.live_jobs import elapsed_now, time_left_now

    assert [elapsed_now(j, out, T0 + 10_000) for j in out.jobs] == [150.0, 0.0]
    assert time_left_now(out.jobs[0], out, T0 + 10_000) == 150.0

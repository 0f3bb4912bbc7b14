"""The live Overview says why "N failures seen since attach" and the scheduler's "M erred" differ.

Before, the demo's Overview showed ``84 erred`` (the scheduler's per-prefix
counts, now) beside ``90 failures`` (every failed task seen since attach, also
those the scheduler has since released or retried) with nothing saying why.
"""

from __future__ import annotations

from scalable_tui.model.live import PrefixCounts
from scalable_tui.session.view import ViewModel, live_failures_note
from tests.session.test_pipeline import busy_night


def _night(seen: int, erred: int, still: int | None):  # type: ignore[no-untyped-def]
    live = busy_night(100, 0)
    live.prefixes["run_gcam"] = PrefixCounts("run_gcam", memory=100, erred=erred)
    live.failures_total = seen
    live.failures_erred_now = still
    return live


def test_released_or_retried_failures_are_said_in_words() -> None:
    note = live_failures_note(_night(90, 84, 84))
    assert note == "90 task failures seen since attach (84 still erred on the scheduler; 6 released or retried)"
    assert ViewModel(live=_night(90, 84, 84)).live_failures_note() == note


def test_tasks_erred_because_an_input_failed_are_said_too() -> None:
    assert live_failures_note(_night(6, 5, 4)) == (
        "6 task failures seen since attach (4 still erred on the scheduler; 2 released or retried); "
        "1 of the scheduler's 5 erred is a task whose input failed")
    assert live_failures_note(_night(3, 7, 3)) == (
        "3 task failures seen since attach (3 still erred on the scheduler); "
        "4 of the scheduler's 7 erred are tasks whose input failed")


def test_nothing_is_said_when_the_numbers_agree() -> None:
    assert live_failures_note(_night(17, 17, 17)) is None
    assert live_failures_note(_night(0, 0, 0)) is None
    assert live_failures_note(_night(17, 17, None)) is None
    assert ViewModel().live_failures_note() is None


def test_without_the_plugins_count_the_difference_is_explained_without_a_split() -> None:
    """Limited mode (no plugin) or an older recording: no number is made up."""
    note = live_failures_note(_night(90, 84, None))
    assert note is not None and note.startswith("90 task failures seen since attach; the scheduler holds 84 erred now")
    assert "6" not in note


def test_the_failure_count_beside_a_newer_view_is_the_views_own_until_it_is_diagnosed() -> None:
    """The diagnosis runs in the background, up to a poll behind the view: the Overview printed its "17 failures"
    next to the view's note about 18.  Now the diagnosis's breakdown is shown only for the view it was made from."""
    import copy
    import dataclasses

    from scalable_tui.session.monitor import build_live_snapshot
    from scalable_tui.session.snapshot import failures_text
    from scalable_tui.session.view import live_failures_line
    from tests.session.test_pipeline import _died

    live = busy_night(400, 17)
    snap = build_live_snapshot(live, 1, now=live.attached_at)
    assert live_failures_line(live, snap) == failures_text(snap.diagnosis) == "17 failures"

    newer = copy.deepcopy(live)  # the next poll: one more failed task, nothing diagnosed yet
    newer.failures.append(dataclasses.replace(newer.failures[0], key="run_gcam-17"))
    newer.failures_total = 18
    assert live_failures_line(newer, snap) == "18 task failures (diagnosing…)"
    assert live_failures_line(newer, build_live_snapshot(newer, 2, now=live.attached_at)) == "18 failures"

    died = copy.deepcopy(live)  # a worker died: the diagnosis's count of deaths is behind too
    died.incidents.append(_died(live.attached_at, "tcp://127.0.0.1:1", "w-1"))
    assert live_failures_line(died, snap) == "17 task failures (diagnosing…)"
    assert live_failures_line(died, build_live_snapshot(died, 2, now=live.attached_at)).startswith("18 failures")

    busier = copy.deepcopy(live)  # only events and task states moved: the count stays the diagnosis's
    busier.events_total += 50
    assert live_failures_line(busier, snap) == "17 failures"
    assert live_failures_line(live, None) == "17 task failures"


def test_a_failed_diagnosis_is_said_not_left_as_diagnosing() -> None:
    """A diagnosis that raised used to leave "(diagnosing…)" beside the view's count until a later one succeeded,
    which may be never on an idle cluster.  The real background loop, with a diagnosis that fails once."""
    import copy
    import dataclasses
    import queue

    from scalable_tui.session.monitor import LiveViews, build_live_snapshot
    from scalable_tui.session.view import diagnosis_failed_for, live_failures_line

    class Flaky(LiveViews):
        fail = True

        def diagnosed(self, live, version):  # type: ignore[no-untyped-def]
            if self.fail:
                raise MemoryError("out of memory")
            return build_live_snapshot(live, version, now=live.attached_at)

    views = Flaky()
    seen: queue.Queue[ViewModel] = queue.Queue()
    notices: list[str] = []
    views.on_view = seen.put
    views.on_notice = lambda n: notices.append(n.text)

    live = busy_night(400, 17)
    views.update(live=live)
    seen.get(timeout=5)
    views.diagnose_soon(live)
    view = seen.get(timeout=30)
    assert notices == ["diagnosis failed: MemoryError: out of memory"]
    assert view.run is None and diagnosis_failed_for(live, view.diagnosis_failed)
    assert live_failures_line(live, view.run, view.diagnosis_failed) == "17 task failures (diagnosis failed, see the notice)"

    views.fail = False
    views.diagnose_soon(live)
    view = seen.get(timeout=30)
    assert view.run is not None and view.diagnosis_failed is None
    assert live_failures_line(live, view.run, view.diagnosis_failed) == "17 failures"

    newer = copy.deepcopy(live)  # the next poll fails to diagnose: its count says so, not "diagnosing…"
    newer.failures.append(dataclasses.replace(newer.failures[0], key="run_gcam-17"))
    newer.failures_total = 18
    views.update(live=newer)
    seen.get(timeout=5)
    assert live_failures_line(newer, view.run, None) == "18 task failures (diagnosing…)"
    views.fail = True
    views.diagnose_soon(newer)
    view = seen.get(timeout=30)
    assert live_failures_line(newer, view.run, view.diagnosis_failed) == "18 task failures (diagnosis failed, see the notice)"
    assert not diagnosis_failed_for(live, view.diagnosis_failed)  # only the view it was made from


def test_views_leave_in_the_order_they_were_made() -> None:
    """A diagnosis thread made its view, then a replay's seek made a newer one and emitted it first; the
    diagnosis thread's older view came after and won (a flaky replay test: the Workers screen showed the moment
    before the seek).  The diagnosis thread is held between making its view and emitting it."""
    import threading

    from scalable_tui.session.monitor import LiveViews

    views = LiveViews()
    emitted: list[ViewModel] = []
    entered, go, seek_emitted = threading.Event(), threading.Event(), threading.Event()
    older, newer = busy_night(10, 1), busy_night(20, 2)
    views.update(live=older)

    def on_view(view: ViewModel) -> None:
        if threading.current_thread().name == "diagnosis" and not entered.is_set():
            entered.set()
            go.wait(10)  # preempted right here
        emitted.append(view)
        if threading.current_thread().name == "seek":
            seek_emitted.set()

    views.on_view = on_view
    diag = threading.Thread(target=lambda: views.update(run="diagnosed"), name="diagnosis")
    diag.start()
    assert entered.wait(10)
    seek = threading.Thread(target=lambda: views.update(live=newer), name="seek")
    seek.start()
    seek_emitted.wait(0.5)  # without the ordering it is out at once; with it, it waits for the lock
    go.set()
    diag.join(10)
    seek.join(10)
    assert [v.live is newer for v in emitted] == [False, True]
    assert emitted[-1].live is newer and emitted[-1].run == "diagnosed" and views.view is emitted[-1]


def test_an_earlier_schedulers_erred_tasks_are_not_this_ones_dependents() -> None:
    """After a restart on the same port: 5 erred over both schedulers, 2 of them now, 2 failures still erred.
    It said "3 of the scheduler's 5 erred are tasks whose input failed" with no dependent at all."""
    live = _night(5, 2, 2)
    live.earlier_totals = {"erred": 3, "memory": 17}
    assert live.task_totals()["erred"] == 5
    note = live_failures_note(live)
    assert note is None or "input failed" not in note, note

"""A live run's suggestions name no component or target they do not know.

The scheduler knows no Scalable component or target, so the import-error
suggestion read "conda env of component ?" in attach and record alerts.
"""

from __future__ import annotations

from scalable_tui.model.live import LiveFailure
from scalable_tui.model.run import RunState
from scalable_tui.session import diagnose_live
from tests.session.test_pipeline import T0, busy_night


def _import_error_night():  # type: ignore[no-untyped-def]
    live = busy_night(10, 0)
    live.failures = [LiveFailure(key=f"run_gcam-{i}", prefix="run_gcam", exception_type="ModuleNotFoundError",
                                 exception="ModuleNotFoundError(\"No module named 'gcamreader'\")", traceback=None,
                                 erred_on=["w-0"], first_seen=T0 - 5 + i) for i in range(2)]
    live.failures_total = 2
    return live


def test_live_import_error_suggestion_has_no_question_mark_for_the_component() -> None:
    _state, diag = diagnose_live(_import_error_night())
    (f,) = [f for f in diag.findings if f.category == "import_error"]
    assert "?" not in f.suggestion, f.suggestion
    assert "(container / conda env)" in f.suggestion and "'gcamreader'" in f.suggestion


def test_a_known_component_and_target_are_still_named() -> None:
    from assistant.grouping import _Group
    from assistant.rules import SUGGESTIONS
    from assistant.suggest_context import _context
    from scalable_tui.session import diagnose_run
    from tests.conftest import fixture_run

    diag = diagnose_run(fixture_run("mixed-failures"), now=T0)
    (f,) = [f for f in diag.findings if f.category == "import_error"]
    assert "(container / conda env of component demeter)" in f.suggestion

    state: RunState = _import_error_night().to_run_state()

    def startup(st: RunState) -> str:
        g = _Group(rule=None, matched="", sig="", pattern="", types=(), records=st.failures)  # type: ignore[arg-type]
        return SUGGESTIONS["cluster_startup"].format_map(_context(st, g, []))

    assert "Check the provider settings of target tcp://127.0.0.1:8786 (partition" in startup(state)
    state.meta.target_name = None  # a run.json without target_name
    assert "Check the provider settings (partition" in startup(state)
    state.meta.target_name = "hpc"
    assert "Check the provider settings of target hpc (partition" in startup(state)

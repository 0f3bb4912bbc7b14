"""Headless sessions: what every command and app door shares (no Textual here).

``session.pipeline.diagnose`` is the one diagnosis pipeline; the apps and
commands only choose its inputs (a run state, the jobs seen, the clock).
``review`` (a run directory), ``monitor`` (a live scheduler, its jobs, a
recorder) and ``replay`` (a recording) are the sessions the UI renders: each
emits one immutable ``view.ViewModel`` with capability flags.
"""

from scalable_tui.session.pipeline import diagnose, diagnose_live, diagnose_recording, diagnose_run, live_departures

__all__ = ["diagnose", "diagnose_live", "diagnose_recording", "diagnose_run", "live_departures"]

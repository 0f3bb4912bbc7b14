"""``AttachApp``: the app over a ``MonitorSession`` (``scalable-tui attach`` and the demo).

The monitor (``session.monitor``) follows the scheduler, polls Slurm, records
and diagnoses; ``tui.app.ScalableApp`` renders its view models.  This module
only assembles them for the door (a ``LiveSource`` for the address).
"""

from __future__ import annotations

import time
from typing import Any, Callable

from scalable_tui.session.monitor import MonitorSession, build_live_snapshot, live_key  # noqa: F401 - re-exported
from scalable_tui.session.view import live_status  # noqa: F401 - re-exported
from scalable_tui.tui.app import ScalableApp
from scalable_tui.tui.debug_terminal import debug_in_terminal  # noqa: F401 - re-exported

__all__ = ["AttachApp"]


def AttachApp(  # noqa: N802 - the door's name for the app over a scheduler
    address: str | None = None,
    *,
    source: Any = None,
    security: Any = None,
    poll_interval: float = 2.0,
    call_timeout: float | None = None,
    no_ai: bool = False,
    ai_config: Any = None,
    title: str | None = None,
    job_source: Any = None,
    jobs_interval: float = 20.0,
    slurm_log_dir: Any = None,
    jobs_off_reason: str | None = None,
    recorder: Any = None,
    now: Callable[[], float] = time.time,
    rediagnose_every: float = 30.0,
    alerts: Any = None,
) -> ScalableApp:
    """``scalable-tui attach ADDRESS``: live Workers, Tasks, Failures, Findings, Events and Jobs."""
    if source is None:
        from scalable_tui.sources.live.source import LiveSource

        source = LiveSource(address or "", security=security, poll_interval=poll_interval,
                            call_timeout=call_timeout, max_backoff=max(5.0, 4 * poll_interval))
    session = MonitorSession(source, job_source=job_source, jobs_interval=jobs_interval, slurm_log_dir=slurm_log_dir,
                             jobs_off_reason=jobs_off_reason, recorder=recorder, now=now, alerts=alerts,
                             security=security)
    return ScalableApp(session, no_ai=no_ai, ai_config=ai_config, now=now, poll_interval=poll_interval, title=title,
                       rediagnose_every=rediagnose_every)

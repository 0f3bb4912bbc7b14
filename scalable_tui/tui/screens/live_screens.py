"""The live screens, one per file now (``live_base``, ``live_overview``, ``live_workers``,
``live_tasks``, ``live_events``); this module keeps the old import path working."""

from scalable_tui.tui.screens.live_base import (  # noqa: F401
    EVENT_STYLE,
    FAULT_EVENTS,
    STATUS_STYLE,
    LiveListScreen,
    LiveSyncMixin,
    view_time,
    worker_label,
)
from scalable_tui.tui.screens.live_events import LiveEventsScreen  # noqa: F401
from scalable_tui.tui.screens.live_overview import LiveOverviewScreen  # noqa: F401
from scalable_tui.tui.screens.live_tasks import LiveTasksScreen  # noqa: F401
from scalable_tui.tui.screens.live_workers import LiveWorkersScreen  # noqa: F401
from scalable_tui.tui.fmt import ago, clock  # noqa: F401 - tests import them from here

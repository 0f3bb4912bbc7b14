"""A scheduler that never answered is "nothing seen yet", not "0 workers · 0 tasks · no failures".

Attached to a wrong port, the Overview used to say "no failures" and "Top
findings: none" beside "connection refused": a count nobody made, read as an
all-clear.  The real app against a port nothing listens on.
"""

from __future__ import annotations

import pytest

from scalable_tui.tui.attach import AttachApp
from scalable_tui.tui.screens.live_overview import NOT_REACHED
from tests.app.helpers import screen_text, wait_for, wait_text
from tests.conftest import closed_port

pytestmark = [pytest.mark.anyio]


async def test_a_scheduler_never_reached_shows_nothing_seen_not_zero() -> None:
    app = AttachApp(f"tcp://127.0.0.1:{closed_port()}", poll_interval=0.5, call_timeout=5.0, no_ai=True)
    async with app.run_test(size=(140, 40)) as pilot:
        text = await wait_text(pilot, "connection refused", timeout=20)
        text = screen_text(app)
        assert text.count(NOT_REACHED) >= 4, text  # workers, tasks, failures by category, findings
        assert "no data yet" in text and "showing the last data" not in text
        for claim in ("no failures", "0 workers", "0 tasks"):
            assert claim not in text, (claim, text)
        # once a (necessarily empty) diagnosis exists, the footer still counts nothing it did not see
        from scalable_tui.tui.widgets.status import StatusLine

        await wait_for(pilot, lambda: app.snapshot is not None, 20, "the empty diagnosis")
        await pilot.pause()
        footer = str(app.screen.query_one(StatusLine).render())
        assert "nothing seen yet" in footer and "0 failures" not in footer and "0 tasks" not in footer, footer

"""Notifications show untrusted text literally: an exception message with Rich markup is not styled."""

from __future__ import annotations

from pathlib import Path

import pytest

from scalable_tui.session.view import Notice
from scalable_tui.sources.rundir.reader import RunDirReader
from scalable_tui.tui.app import ReviewApp
from scalable_tui.tui.messages import SessionNotice
from tests.app.helpers import wait_for

pytestmark = pytest.mark.anyio

HOSTILE = "KeyError: '[bold red]x[/bold red]' in [link=http://evil.example]here[/link]"


async def test_a_session_notice_with_markup_is_shown_literally(gcam_run: Path) -> None:
    app = ReviewApp(RunDirReader(gcam_run), no_ai=True)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: app.view.run is not None, 15, "loaded")
        app.post_message(SessionNotice(Notice(HOSTILE, severity="error", timeout=30)))
        await wait_for(pilot, lambda: any(HOSTILE in n.message for n in app._notifications), 10, "the notice")
        app.screen.notify("screen says [b]hi[/b]")  # a screen's notify passes markup=True explicitly
        await wait_for(pilot, lambda: any(n.message == "screen says [b]hi[/b]" for n in app._notifications), 10,
                       "the screen's notice")
        shown = {n.message: n.markup for n in app._notifications}
        # Textual's Toast renders ``markup=False`` messages as plain Content: the brackets stay text
        assert shown[HOSTILE] is False and shown["screen says [b]hi[/b]"] is False

"""``ReplayApp``: ``scalable-tui review FILE.rec`` -- the live screens over a recording, with a timeline.

The ``ReplaySession`` (``session.replay``) seeks, steps and plays over the
recording and diagnoses the moment shown and the whole recording;
``tui.app.ScalableApp`` renders it (the timeline screens and keys come from
the ``has_timeline`` flag).  Keys (also in the footer / ``?``): ``←/→`` or
``,``/``.`` one snapshot, ``shift+←/→`` ten, ``n``/``N`` next/previous
failure, ``k``/``K`` next/previous worker death, ``home``/``end``, ``p``
play/pause, ``+``/``-`` speed (1×, 10×, 60×, 600×); click or drag on the
timeline to seek.
"""

from __future__ import annotations

from typing import Any

from scalable_tui.session.replay import SPEEDS, ReplaySession, replay_jobs  # noqa: F401 - re-exported
from scalable_tui.tui.app import PLAY_TICK, ScalableApp
from scalable_tui.tui.screens.replay import ReplayFindingsScreen, TimelineMixin  # noqa: F401 - re-exported

__all__ = ["ReplayApp", "SPEEDS"]


def ReplayApp(  # noqa: N802 - the door's name for the app over a recording
    recording: Any,
    *,
    no_ai: bool = False,
    ai_config: Any = None,
    speed: int = 10,
    play_tick: float = PLAY_TICK,
) -> ScalableApp:
    """The app over a ``ReplaySession`` of ``recording`` (a ``Recording`` or its path)."""
    return ScalableApp(ReplaySession(recording, speed=speed), no_ai=no_ai, ai_config=ai_config, play_tick=play_tick)

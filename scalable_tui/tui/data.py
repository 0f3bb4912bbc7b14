"""Moved to ``scalable_tui.session.snapshot`` (headless); kept as an alias for older imports."""

from scalable_tui.session.snapshot import *  # noqa: F401,F403
from scalable_tui.session.snapshot import (  # noqa: F401 - private helpers some tests import
    _ago,
    _dur,
    _timeline,
)

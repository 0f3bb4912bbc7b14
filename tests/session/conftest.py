"""Real schedulers for the session tests (127.0.0.1), with the live tests' process helpers."""

from __future__ import annotations

import pytest

from tests.live.conftest import no_leftover_processes, procs  # noqa: F401 - fixtures


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"

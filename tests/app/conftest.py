"""Fixtures for the review-app tests (Pilot via anyio's pytest plugin, asyncio only)."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"

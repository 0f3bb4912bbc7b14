"""Real clusters for the attach-app tests (everything on 127.0.0.1); every process is checked gone.

Reuses the live-source test helpers: ``Procs`` (separate ``dask scheduler`` /
``dask worker`` processes in their own process groups) and the module-level
leftover-process check.
"""

from __future__ import annotations

import pytest

from tests.live.conftest import Procs, _alive, _descendants, no_leftover_processes, procs, real_cluster  # noqa: F401

__all__ = ["Procs", "_alive", "_descendants"]


@pytest.fixture(scope="module")
def demo_cluster():
    """A LocalCluster with real worker processes and a Client that submits a workload failing on purpose."""
    # dashboard off; KilledWorker after 2 deaths, not the default 3
    with real_cluster({"distributed.scheduler.allowed-failures": 2}, dashboard=None) as cc:
        yield cc


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"

"""Real clusters for the attach-app tests (everything on 127.0.0.1); every process is checked gone.

Reuses the live-source test helpers: ``Procs`` (separate ``dask scheduler`` /
``dask worker`` processes in their own process groups) and the module-level
leftover-process check.
"""

from __future__ import annotations

import pytest

from tests.live.conftest import Procs, _alive, _descendants, no_leftover_processes, procs  # noqa: F401

__all__ = ["Procs", "_alive", "_descendants"]


@pytest.fixture(scope="module")
def demo_cluster():
    """A LocalCluster with real worker processes and a Client that submits a workload failing on purpose."""
    import dask
    from distributed import Client, LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": 2}):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None, memory_limit="1GiB")
        client = Client(cluster, set_as_default=False)
        try:
            yield cluster, client
        finally:
            client.close()
            cluster.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"

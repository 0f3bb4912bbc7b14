"""The demo's task functions: a small flaky "GCAM ensemble" on real worker processes.

Importable on the workers (the package is installed there, being the same
environment); no ``scalable_tui`` import beyond this module.  Failures are
deterministic per scenario number, so a demo run always shows the same mix:
most tasks succeed after a short sleep; some raise assorted errors with real
tracebacks; ``hog`` allocates past its worker's memory limit (its nanny kills
and restarts the worker); ``crash`` kills its worker process outright
(KilledWorker once ``allowed-failures`` is exhausted).
"""

from __future__ import annotations

import os
import random
import time

REGIONS = ("usa", "china", "eu-12", "india", "brazil", "africa_eastern", "canada", "japan")


class ConvergenceError(RuntimeError):
    """The solver did not converge (a custom exception from user code)."""


def _sleep(i: int, lo: float = 0.05, hi: float = 0.35) -> None:
    time.sleep(random.Random(i).uniform(lo, hi))


def _read_inputs(path: str) -> dict:
    with open(path) as fh:  # FileNotFoundError for the scenarios whose input is missing
        return {"path": path, "size": len(fh.read())}


def load_inputs(i: int) -> dict:
    """Read one scenario's inputs (a few are missing on purpose)."""
    _sleep(i)
    if i % 23 == 7:
        return _read_inputs(f"/nonexistent/gcam-inputs/scenario-{i:03d}/emissions.csv")
    return {"scenario": i, "region": REGIONS[i % len(REGIONS)], "years": list(range(2015, 2101, 5))}


def _solve(params: dict, i: int) -> float:
    region = params["region"]
    if i % 19 == 3:
        return params["carbon_price"][region]  # KeyError: no carbon price for this region
    if i % 29 == 11:
        raise ValueError(f"invalid emissions target {-i * 10} for {region}: must be >= 0")
    if i % 31 == 17:
        raise TimeoutError(f"solver timed out after 30 s waiting for the market to clear in {region}")
    if i % 37 == 5:
        raise ConvergenceError(f"no convergence after 500 iterations in {region}")
    return sum(params["years"]) / (1 + i)


def run_gcam(inputs: dict) -> dict:
    """One GCAM scenario (some raise)."""
    i = inputs["scenario"]
    _sleep(i + 1000, 0.1, 0.5)
    params = dict(inputs, carbon_price={"usa": 50.0, "eu-12": 80.0})
    return {"scenario": i, "region": inputs["region"], "value": _solve(params, i)}


def _downscale_grid(result: dict, cells: int) -> float:
    return result["value"] / cells


def downscale(result: dict) -> dict:
    """Downscale one scenario to a grid (an optional native module is missing for some)."""
    i = result["scenario"]
    _sleep(i + 2000)
    if i % 41 == 9:
        import gcam_native_downscaler  # noqa: F401  ModuleNotFoundError: not installed on the workers
    cells = (i % 13) - 6 if i % 43 == 20 else 720  # ZeroDivisionError for scenario 20
    return {"scenario": i, "grid": _downscale_grid(result, cells if cells else 0)}


def stitch(*parts: dict) -> int:
    """Stitch a batch of downscaled scenarios together."""
    _sleep(len(parts) + 3000, 0.2, 0.6)
    return len(parts)


def hog(mb: int = 1200) -> int:
    """Allocate past the worker's memory limit, slowly enough for the nanny to notice."""
    chunks = []
    for _ in range(mb // 10):
        chunks.append(bytearray(os.urandom(1)) * (10 * 2**20))
        time.sleep(0.02)
    time.sleep(5)
    return len(chunks)


def crash(i: int) -> int:
    """Kill the worker process running it (a segfaulting native library, say)."""
    time.sleep(0.3)
    os._exit(1)

"""One "night" of a workflow, run by the REAL Scalable library: some tasks fail on purpose.

``python nightly_driver.py KIND=N,KIND=N`` in a directory holding
``scalable.yaml``, with ``SCALABLE_RUNS_DIR`` set: one ScalableSession on the
local provider (in-process workers) runs 8 good tasks plus N failing tasks of
each KIND, then closes, so Scalable writes one complete run directory.
Successive calls in one directory make successive runs of one project: the
runs ``diagnose --compare`` and ``history`` look at.  Not a test module.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def run_gcam(i: int, kind: str = "ok") -> float:
    time.sleep(0.01)
    if kind == "keyerror":
        return {"region_0": 1.0}[f"region_{i}"]
    if kind == "zerodiv":
        return i / (i - i)
    if kind == "permission":
        raise PermissionError(13, "Permission denied", f"/scratch/out/basin_{i}.csv")
    if kind == "filenotfound":
        with open(f"/nonexistent-inputs/basin_{i}.csv") as f:
            return float(f.read())
    if kind == "valueerror":
        raise ValueError(f"negative land allocation in basin {i}: -0.0031")
    return i * 0.5


def _terminal(run_dir: Path) -> int:
    p = run_dir / "tasks.jsonl"
    if not p.exists():
        return 0
    return sum(1 for x in p.read_text().splitlines()
               if x.strip() and json.loads(x)["state"] in ("succeeded", "failed", "cancelled"))


def main(spec: str) -> None:
    from scalable import ScalableSession

    kinds = [(k, int(n)) for k, n in (part.split("=") for part in spec.split(",") if part)]
    raises = any(k == "driver_raises" and n for k, n in kinds)  # the script itself raises inside `with session:`
    kinds = [(k, n) for k, n in kinds if k != "driver_raises"]
    session = ScalableSession.from_yaml("./scalable.yaml", target="local")
    if raises:
        try:
            with session as client:
                run_dir = _submit_all(client, kinds)
                raise RuntimeError("driver aborted: scenario table inconsistent")
        except RuntimeError:
            print(run_dir)
        return
    client = session.start()
    run_dir = _submit_all(client, kinds)
    session.close()
    print(run_dir)


def _submit_all(client, kinds: list[tuple[str, int]]) -> Path:  # type: ignore[no-untyped-def]
    """Submit the good and failing tasks, wait until Scalable recorded every end; returns the run directory."""
    from distributed import wait

    futures = [client.submit(run_gcam, i, tag="gcam") for i in range(8)]
    i = 100
    for kind, n in kinds:
        for _ in range(n):
            futures.append(client.submit(run_gcam, i, kind, tag="gcam"))
            i += 1
    wait(futures)
    runs = sorted(p for p in Path(os.environ["SCALABLE_RUNS_DIR"]).iterdir() if p.name.startswith("run-"))
    deadline = time.monotonic() + 20
    while _terminal(runs[-1]) < len(futures) and time.monotonic() < deadline:
        time.sleep(0.05)  # terminal events are written from done-callbacks (another thread)
    return runs[-1]


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "")

"""What tasks actually used: ``observed_memory_gb`` / ``observed_cpu`` from ``resources.jsonl``.

The run-directory reader keeps only the *requested* resources (a few shared
profiles, so a 300k-task run stays small); observations differ per task, so
they are read here, on demand, by the commands that need them (``retry-plan``,
``efficiency``).  Scalable 2.0.0b6 itself writes ``null`` for both; a
collector (or a later Scalable) may append a second record per task with the
values filled in.  Several records for one task keep the peak memory and the
highest CPU figure.  Tolerant like the main reader: bad lines are counted,
never fatal; the file is only opened for reading.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from scalable_tui.sources.rundir.jsonl import JsonlTail

__all__ = ["Observed", "read_observed"]


@dataclass(slots=True)
class Observed:
    """Per task id: peak memory (GB) and CPU use (cores), where a record gave them."""

    memory_gb: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    #: resources.jsonl lines that could not be used (not JSON, not an object, wrong types).
    skipped: int = 0
    #: Why the file could not be read at all, if so.
    unreadable: str | None = None

    def __bool__(self) -> bool:
        return bool(self.memory_gb or self.cpu)


def _number(v: object) -> float | None:
    if type(v) in (int, float) and math.isfinite(v) and v >= 0:  # type: ignore[arg-type]
        return float(v)  # type: ignore[arg-type]
    return None


def read_observed(run_dir: str | os.PathLike[str]) -> Observed:
    """Observed use per task from ``RUN_DIR/resources.jsonl`` (empty when none is recorded)."""
    out = Observed()
    tail = JsonlTail(Path(run_dir) / "resources.jsonl")
    loads = orjson.loads
    # Scalable's own records (json.dumps, sort_keys) carry both as null: skip them unparsed.
    null_mem, null_cpu = b'"observed_memory_gb": null', b'"observed_cpu": null'
    for lines in tail.chunks():
        for line in lines:
            if b"observed_" not in line or (null_mem in line and null_cpu in line):
                continue
            try:
                obj = loads(line)
            except orjson.JSONDecodeError:
                out.skipped += 1
                continue
            if not isinstance(obj, dict) or not isinstance(obj.get("entity_id"), str):
                out.skipped += 1
                continue
            tid = obj["entity_id"]
            mem, cpu = obj.get("observed_memory_gb"), obj.get("observed_cpu")
            m, c = _number(mem), _number(cpu)
            if (mem is not None and m is None) or (cpu is not None and c is None):
                out.skipped += 1
            if m is not None and m > out.memory_gb.get(tid, -1.0):
                out.memory_gb[tid] = m
            if c is not None and c > out.cpu.get(tid, -1.0):
                out.cpu[tid] = c
    out.unreadable = tail.error
    return out

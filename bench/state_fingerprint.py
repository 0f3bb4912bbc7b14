"""Semantic fingerprint of ``load_run(dir)`` (and of a chunked incremental load), for before/after checks.

    python bench/state_fingerprint.py save  OUT.json DIR...   # record
    python bench/state_fingerprint.py check OUT.json DIR...   # compare, exit 1 on a difference
    python bench/state_fingerprint.py nasty OUTDIR            # write a deliberately damaged run
    python bench/state_fingerprint.py save-reference OUT.json DIR...  # record with the line caches off

The fingerprint covers everything the reader produces: per-state and per-name
counts, every column of the task table (hashed, in row order), failures,
profiles, durations, workers, errors, resources, issues and timestamps.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any


def _h(obj: Any) -> str:
    return hashlib.sha256(repr(obj).encode()).hexdigest()[:16]


def fingerprint(state: Any) -> dict[str, Any]:
    t = state.tasks
    vals = t.strings.values
    cols = {}
    for c in ("state", "name", "component", "tag", "function"):
        cols[c] = _h([vals[x] for x in getattr(t, c)])
    for c in ("submitted_ts", "last_ts", "duration"):
        cols[c] = _h([repr(x) for x in getattr(t, c)])
    return {
        "n_rows": len(t),
        "events": t.events,
        "ids": _h(t.ids),
        "row_ok": all(t.row[i] == r for r, i in enumerate(t.ids)) and len(t.row) == len(t.ids),
        "counts_by_state": t.counts_by_state(),
        "counts_by_name": t.counts_by("name"),
        "counts_by_component": t.counts_by("component"),
        "n_failures": len(state.failures),
        "failures": _h([(f.index, f.failure_class, f.message, f.task_id, f.source, f.worker, f.ts, f.line_no,
                         f.traceback, sorted(f.details.items(), key=str)) for f in state.failures]),
        "profiles": [list(asdict(p).values()) for p in state.profiles],
        "durations_sum": round(sum(t.durations()), 6),
        "worker": _h(sorted(t.worker.items())),
        "n_worker": len(t.worker),
        "error": _h(sorted(t.error.items(), key=str)),
        "n_error": len(t.error),
        "resource": _h(sorted(t.resource.items())),
        "resource_events": state.resource_events,
        "worker_events": len(state.worker_events),
        "issues": {k: asdict(v) for k, v in sorted(state.issues.items())},
        "ts": [state.first_event_ts, state.last_event_ts],
        "misc": [state.cache_hits, state.cache_misses, state.artifacts, state.cost_events, state.meta.run_id,
                 state.meta.status, state.summary is not None, state.plan is not None, state.parquet_used],
    }


def _incremental(run: Path, tmp: Path) -> dict[str, Any]:
    """Load a copy of the run whose task/resource files grow in 7 uneven steps, cut mid-line."""
    from scalable_tui.sources.rundir.reader import RunDirReader

    dst = tmp / run.name
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(run, dst)
    full = {n: (run / n).read_bytes() for n in ("tasks.jsonl", "resources.jsonl") if (run / n).exists()}
    for n in full:
        (dst / n).write_bytes(b"")
    reader = RunDirReader(dst)
    reader.load()
    for frac in (0.013, 0.2, 0.21, 0.5, 0.77, 0.9, 1.0):
        for n, data in full.items():
            cut = int(len(data) * frac)
            cur = (dst / n).stat().st_size
            with open(dst / n, "ab") as f:
                f.write(data[cur:cut])
        reader.refresh()
    fp = fingerprint(reader.state)
    shutil.rmtree(dst, ignore_errors=True)
    return fp


def _all(dirs: list[str]) -> dict[str, Any]:
    import tempfile

    from scalable_tui.sources.rundir.reader import load_run

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for d in dirs:
            p = Path(d)
            out[str(p)] = fingerprint(load_run(p))
            if (p / "tasks.jsonl").stat().st_size < 50_000_000:
                out[str(p) + " (incremental)"] = _incremental(p, Path(tmp))
    return out


def nasty(outdir: Path) -> Path:
    """A small generated run with every kind of damage injected into tasks/resources."""
    outdir.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, str(Path(__file__).with_name("gen_big_run.py")), str(outdir), "--tasks", "3000"],
                   check=True, stdout=subprocess.DEVNULL)
    run = sorted(outdir.glob("run-*"))[0]
    rnd = random.Random(3)
    for name in ("tasks.jsonl", "resources.jsonl"):
        lines = (run / name).read_bytes().split(b"\n")[:-1]
        out = []
        for ln in lines:
            out.append(ln)
            k = rnd.random()
            if k < 0.01:
                out.append(ln[: len(ln) // 2])  # corrupt
            elif k < 0.02:
                out.append(ln.replace(b"_id\": \"", b"_id\": \"\xff\xfe", 1))  # non-UTF-8 in the id
            elif k < 0.03:
                out.append(ln.replace(b"\"run_id\": \"", b"\"run_id\": \"\xc3\x28", 1))  # non-UTF-8 elsewhere
            elif k < 0.04:
                out.append(ln.replace(b"\"schema_version\": 1", b"\"schema_version\": 2"))
            elif k < 0.05:
                out.append(ln.replace(b"\"tag\": \"", b"\"tag\": 5, \"x\": \"").replace(b"\"requested_cpus\": 4",
                                                                                       b"\"requested_cpus\": \"4\""))
            elif k < 0.06:
                out.append(b"")
                out.append(b"[1, 2]")
            elif k < 0.07:
                # escaped id/timestamp: same task as a plain one once decoded
                out.append(ln.replace(b"_id\": \"", b"_id\": \"\\u0061", 1)
                           .replace(b"Z\"", b"\\u005a\"", 1))
            elif k < 0.08:
                out.append(ln.replace(b"\"task_id\": \"", b"\"task_id\": 12, \"y\": \"", 1))
            elif k < 0.09:
                out.append(ln.replace(b"\"state\": \"running\"", b"\"state\": \"cancelled\""))
            elif k < 0.095:
                out.append(ln.replace(b"\"worker\": null", b"\"worker\": \"w\\u00e9\""))
            elif k < 0.10:  # escaped / non-UTF-8 / control char / empty in the task_id itself
                out.append(ln.replace(b"\"task_id\": \"", b"\"task_id\": \"\\u0062", 1))
                out.append(ln.replace(b"\"task_id\": \"", b"\"task_id\": \"\xff", 1))
                out.append(ln.replace(b"\"task_id\": \"", b"\"task_id\": \"\t", 1))
                out.append(ln.replace(b"Z\", \"worker", b"\\u005a\", \"worker", 1))
            elif k < 0.105:
                i = ln.find(b"\"task_id\": \"")
                if i > 0:
                    out.append(ln[:i] + b"\"task_id\": \"\"" + ln[ln.find(b"\"", i + 12) + 1 :])
        data = b"\n".join(out) + b"\n" + lines[-1][:40]  # trailing partial line
        (run / name).write_bytes(data)
    return run


class _NeverStore(dict):
    """A template cache that is always "full": every line takes the fully decoded path."""

    def __len__(self) -> int:
        return 1 << 40

    def __setitem__(self, k: Any, v: Any) -> None:
        pass


def _disable_fast_paths() -> None:
    from scalable_tui.sources.rundir.reader import RunDirReader

    orig = RunDirReader._reset

    def _reset(self: Any) -> None:
        orig(self)
        self._line_cache = _NeverStore()
        self._resource_cache = _NeverStore()
        self._done_cache = _NeverStore()

    RunDirReader._reset = _reset  # type: ignore[method-assign]


def main() -> int:
    cmd, *rest = sys.argv[1:]
    if cmd.endswith("-reference"):  # e.g. save-reference: no template caches (the slow, plain semantics)
        cmd = cmd[: -len("-reference")]
        _disable_fast_paths()
    if cmd == "nasty":
        print(nasty(Path(rest[0])))
        return 0
    out, dirs = Path(rest[0]), rest[1:]
    fp = _all(dirs)
    if cmd == "save":
        out.write_text(json.dumps(fp, indent=1, sort_keys=True, default=str))
        print(f"saved {len(fp)} fingerprints to {out}")
        return 0
    old = json.loads(out.read_text())
    new = json.loads(json.dumps(fp, sort_keys=True, default=str))
    bad = 0
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if a == b:
            print(f"same  {k}")
            continue
        bad += 1
        diff = [f for f in sorted(set(a or {}) | set(b or {})) if (a or {}).get(f) != (b or {}).get(f)]
        print(f"DIFF  {k}: {diff}")
        for f in diff[:6]:
            print(f"   {f}: {str((a or {}).get(f))[:300]}\n    -> {str((b or {}).get(f))[:300]}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

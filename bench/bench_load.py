"""Benchmark: full load of a big run directory, incremental refresh, and Scalable's own summary.

    python bench/bench_load.py [--tasks 300000] [--keep DIR] [--repeat 3]

Generates a synthetic run with ``bench/gen_big_run.py`` (or reuses the one in
``--keep DIR``), warms the page cache, then measures every figure in a fresh
subprocess so that import cost and peak RSS are honest.  Prints a table with
the targets next to the figures.  Always exits 0: it is a report, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET_LOAD_S = 1.0
TARGET_RSS_MB = 300.0
REFRESH_CUT = 0.90


# ----------------------------------------------------------------------------- child side
def _peak_rss_mb() -> float:
    import resource

    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kb / 1024.0


def _child(mode: str, run_dir: str, extra: str | None) -> dict:
    t0 = time.perf_counter()
    if mode == "ours":
        from assistant.diagnose import diagnose_state
        from scalable_tui.sources.rundir import load_run

        t_import = time.perf_counter() - t0
        rss_import = _peak_rss_mb()
        t1 = time.perf_counter()
        state = load_run(run_dir)
        t_load = time.perf_counter() - t1
        rss_load = _peak_rss_mb()
        t2 = time.perf_counter()
        diagnose_state(state)
        t_diag = time.perf_counter() - t2
        return {
            "import_s": t_import,
            "load_s": t_load,
            "diagnose_s": t_diag,
            "rss_import_mb": rss_import,
            "rss_load_mb": rss_load,
            "rss_mb": _peak_rss_mb(),
            "tasks": len(state.tasks),
            "events": state.tasks.events,
            "failures": len(state.failures),
            "issues": sorted(state.issues),
        }
    if mode == "refresh":
        from scalable_tui.sources.rundir import RunDirReader

        rest_path = Path(extra or "")
        reader = RunDirReader(run_dir)
        t1 = time.perf_counter()
        reader.load()
        t_first = time.perf_counter() - t1
        n_before = reader.state.tasks.events
        rest = rest_path.read_bytes()
        with open(Path(run_dir) / "tasks.jsonl", "ab") as f:
            f.write(rest)
        t2 = time.perf_counter()
        res = reader.refresh()
        t_refresh = time.perf_counter() - t2
        t3 = time.perf_counter()
        res2 = reader.refresh()
        t_noop = time.perf_counter() - t3
        return {
            "first_load_s": t_first,
            "refresh_s": t_refresh,
            "noop_refresh_s": t_noop,
            "appended_bytes": len(rest),
            "events_before": n_before,
            "events_added": res.task_events,
            "events_after": reader.state.tasks.events,
            "tasks_after": len(reader.state.tasks),
            "noop_changed": res2.changed,
            "pending_after": reader.tails["tasks"].pending_bytes(),
            "rss_mb": _peak_rss_mb(),
        }
    if mode == "scalable":
        from scalable.telemetry.collectors import summarize_run

        t1 = time.perf_counter()
        out = summarize_run(run_dir)
        t_sum = time.perf_counter() - t1
        return {"summarize_s": t_sum, "rss_mb": _peak_rss_mb(), "task_events": out["counts"]["task_events"]}
    raise SystemExit(f"unknown mode {mode}")


def _run_child(mode: str, run_dir: Path, extra: str | None = None, timeout: float = 300) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", mode, str(run_dir)]
    if extra:
        cmd += ["--extra", extra]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        return {"error": (p.stderr or p.stdout).strip().splitlines()[-1:] or ["failed"], "wall_s": wall}
    out = json.loads(p.stdout.strip().splitlines()[-1])
    out["wall_s"] = wall
    return out


# ----------------------------------------------------------------------------- parent side
def _find_run(base: Path) -> Path | None:
    runs = sorted(p for p in base.glob("run-*") if (p / "tasks.jsonl").exists())
    return runs[0] if runs else None


def _generate(base: Path, n_tasks: int) -> Path:
    base.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, str(HERE / "gen_big_run.py"), str(base), "--tasks", str(n_tasks)], check=True,
                   stdout=subprocess.DEVNULL)
    (base / ".bench_tasks").write_text(str(n_tasks))
    run = _find_run(base)
    assert run is not None
    return run


def _warm(run: Path) -> tuple[int, int]:
    """Read every file once (page cache); returns (bytes, jsonl lines)."""
    total = lines = 0
    for p in sorted(run.iterdir()):
        if not p.is_file():
            continue
        with open(p, "rb") as f:
            while True:
                b = f.read(1 << 24)
                if not b:
                    break
                total += len(b)
                if p.suffix == ".jsonl":
                    lines += b.count(b"\n")
    return total, lines


def _make_refresh_copy(run: Path, work: Path) -> tuple[Path, Path]:
    """A copy of the run whose tasks.jsonl stops at ~90% (mid-line), plus the rest in a side file."""
    dst = work / run.name
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    for p in run.iterdir():
        if p.is_file() and p.name != "tasks.jsonl":
            try:
                os.link(p, dst / p.name)  # read-only use: a hard link is enough
            except OSError:
                shutil.copy2(p, dst / p.name)
    size = (run / "tasks.jsonl").stat().st_size
    cut = int(size * REFRESH_CUT) + 7  # deliberately mid-line: exercises the held-back partial line
    with open(run / "tasks.jsonl", "rb") as src, open(dst / "tasks.jsonl", "wb") as head:
        remaining = cut
        while remaining:
            b = src.read(min(remaining, 1 << 24))
            if not b:
                break
            head.write(b)
            remaining -= len(b)
        rest = src.read()
    rest_path = work / "tasks.rest"
    rest_path.write_bytes(rest)
    return dst, rest_path


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _pf(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", type=int, default=300_000)
    ap.add_argument("--keep", type=Path, help="generate into / reuse the run in this directory (not deleted)")
    ap.add_argument("--repeat", type=int, default=3, help="full loads to time (best and median reported)")
    ap.add_argument("--skip-scalable", action="store_true", help="do not time scalable's summarize_run")
    ap.add_argument("--child", nargs=2, metavar=("MODE", "RUN_DIR"), help=argparse.SUPPRESS)
    ap.add_argument("--extra", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(_child(a.child[0], a.child[1], a.extra)))
        return 0

    t_start = time.perf_counter()
    (HERE / "out").mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-", dir=HERE / "out"))
    try:
        if a.keep:
            base = a.keep
            marker = base / ".bench_tasks"
            run = _find_run(base) if base.exists() else None
            if run is not None and marker.exists() and marker.read_text().strip() != str(a.tasks):
                print(f"note: {base} holds a run of {marker.read_text().strip()} tasks, not {a.tasks}; reusing it anyway")
            if run is None:
                print(f"generating {a.tasks} tasks into {base} …", flush=True)
                run = _generate(base, a.tasks)
            else:
                print(f"reusing {run}", flush=True)
        else:
            print(f"generating {a.tasks} tasks into {tmp} (use --keep DIR to reuse) …", flush=True)
            run = _generate(tmp / "run", a.tasks)
        t_gen = time.perf_counter() - t_start

        size, lines = _warm(run)
        tasks_mb = (run / "tasks.jsonl").stat().st_size / 1e6
        print(f"page cache warmed: read {size / 1e6:.0f} MB once before measuring", flush=True)

        loads = []
        for i in range(a.repeat):
            r = _run_child("ours", run)
            loads.append(r)
            print(f"  our load #{i + 1}: {r.get('load_s', float('nan')):.2f} s" if "error" not in r else f"  error: {r['error']}",
                  flush=True)
        ok_loads = [r for r in loads if "error" not in r]

        ref_dir, rest = _make_refresh_copy(run, tmp / "refresh")
        _warm(ref_dir)
        ref = _run_child("refresh", ref_dir, str(rest))
        print("  refresh done", flush=True)

        scal = {"error": ["skipped"]} if a.skip_scalable else _run_child("scalable", run, timeout=600)
        print("  scalable summarize_run done", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    # ------------------------------------------------------------------ report
    print()
    print("=" * 78)
    print("scalable-tui load benchmark")
    print(f"machine : nproc={os.cpu_count()} (affinity {len(os.sched_getaffinity(0))}), CPU: {_cpu_model()}, "
          f"Python {platform.python_version()} ({platform.python_implementation()})")
    print(f"run     : {run.name}  {size / 1e6:.0f} MB, {lines:,} JSONL lines "
          f"(tasks.jsonl {tasks_mb:.0f} MB)")
    print("cache   : warm (every file read once before measuring); each figure from a fresh subprocess")
    print("-" * 78)
    print(f"{'figure':<44}{'value':>14}  {'target':>10}  result")
    print("-" * 78)

    def row(label: str, value: str, target: str = "", result: str = "") -> None:
        print(f"{label:<44}{value:>14}  {target:>10}  {result}")

    if ok_loads:
        lt = sorted(r["load_s"] for r in ok_loads)
        best, med = lt[0], statistics.median(lt)
        rss = max(r["rss_mb"] for r in ok_loads)
        r0 = ok_loads[0]
        row(f"our load_run, best of {len(lt)}", f"{best:.2f} s", f"<= {TARGET_LOAD_S:.1f} s", _pf(best <= TARGET_LOAD_S))
        row(f"our load_run, median of {len(lt)}", f"{med:.2f} s", f"<= {TARGET_LOAD_S:.1f} s", _pf(med <= TARGET_LOAD_S))
        row("  (import of reader + diagnose)", f"{statistics.median(r['import_s'] for r in ok_loads):.2f} s")
        row("diagnose_state", f"{statistics.median(r['diagnose_s'] for r in ok_loads):.2f} s")
        row("peak RSS, load + diagnose", f"{rss:.0f} MB", f"<= {TARGET_RSS_MB:.0f} MB", _pf(rss <= TARGET_RSS_MB))
        row("  (peak RSS after imports / after load)",
            f"{r0['rss_import_mb']:.0f}/{r0['rss_load_mb']:.0f} MB")
        row("  (tasks / task events / failures)", f"{r0['tasks']:,}/{r0['events']:,}/{r0['failures']:,}")
    else:
        row("our load_run", "ERROR", f"<= {TARGET_LOAD_S:.1f} s", f"MISS {loads[0].get('error')}")
    if "error" not in ref:
        mb = ref["appended_bytes"] / 1e6
        full_rate = (size / 1e6) / best if ok_loads else float("nan")
        consistent = (
            ok_loads
            and ref["events_after"] == ok_loads[0]["events"]
            and ref["tasks_after"] == ok_loads[0]["tasks"]
            and not ref["noop_changed"]
            and ref["pending_after"] == 0
        )
        row(f"refresh after appending {mb:.0f} MB to tasks.jsonl", f"{ref['refresh_s']:.3f} s")
        row("  (refresh rate vs full-load rate)", f"{mb / ref['refresh_s']:.0f}/{full_rate:.0f} MB/s")
        expect = best * ref["appended_bytes"] / size if ok_loads else float("nan")
        row("  (time expected if proportional to bytes)", f"{expect:.3f} s", "<= 2x", _pf(ref["refresh_s"] <= 2 * expect))
        row("no-op refresh (nothing appended)", f"{ref['noop_refresh_s'] * 1000:.1f} ms")
        row("refreshed state == full load (events, tasks)", "yes" if consistent else "NO", "", _pf(bool(consistent)))
    else:
        row("refresh", "ERROR", "", str(ref["error"]))
    if "error" not in scal:
        row("scalable summarize_run", f"{scal['summarize_s']:.2f} s")
        row("  (peak RSS)", f"{scal['rss_mb']:.0f} MB")
        if ok_loads:
            row("ratio summarize_run / our best load", f"{scal['summarize_s'] / best:.1f}x")
            row("ratio RSS scalable / ours", f"{scal['rss_mb'] / rss:.1f}x")
    else:
        row("scalable summarize_run", "n/a", "", str(scal["error"]))
    print("-" * 78)
    print(f"benchmark wall time {time.perf_counter() - t_start:.0f} s (generation {t_gen:.0f} s)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)

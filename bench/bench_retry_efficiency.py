"""retry-plan and efficiency on a big run: how long each step takes (prints its figures).

    python bench/bench_retry_efficiency.py [--tasks 100000]

Generates a run with ``bench/gen_big_run.py`` (Scalable's on-disk format) in a
temporary directory, appends an observation record for every tenth task (as a
collector would), and times: load_run, diagnose, read_observed, the retry plan,
the python snippet and the efficiency report.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=100_000)
    args = ap.parse_args()
    from assistant.efficiency import efficiency_from_run, oom_task_ids_of
    from assistant.retry_plan import build_retry_plan
    from assistant.retry_snippet import retry_snippet
    from scalable_tui.session import diagnose
    from scalable_tui.sources.rundir.observed import read_observed
    from scalable_tui.sources.rundir.reader import load_run

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, str(HERE / "gen_big_run.py"), tmp, "--tasks", str(args.tasks)], check=True,
                       stdout=subprocess.DEVNULL)
        (run,) = [p for p in Path(tmp).iterdir() if p.is_dir()]
        res = run / "resources.jsonl"
        ids = [json.loads(x)["entity_id"] for x in res.read_text().splitlines()[::10]]
        with res.open("a") as fh:
            for i, tid in enumerate(ids):
                fh.write(json.dumps({"entity_id": tid, "entity_type": "task", "event_type": "resource",
                                     "observed_cpu": 0.5 + (i % 4) / 4, "observed_memory_gb": 1.0 + (i % 7) / 3,
                                     "requested_cpus": 4, "requested_memory": "16G"}, sort_keys=True) + "\n")
        t = {}
        t0 = time.perf_counter(); state = load_run(run); t["load_run"] = time.perf_counter() - t0
        t0 = time.perf_counter(); diag = diagnose(state); t["diagnose"] = time.perf_counter() - t0
        t0 = time.perf_counter(); obs = read_observed(run); t["read_observed"] = time.perf_counter() - t0
        t0 = time.perf_counter(); plan = build_retry_plan(state, diag, observed_memory_gb=obs.memory_gb); t["retry_plan"] = time.perf_counter() - t0
        t0 = time.perf_counter(); src = retry_snippet(plan); t["snippet"] = time.perf_counter() - t0
        t0 = time.perf_counter(); rep = efficiency_from_run(state, obs.memory_gb, obs.cpu, oom_task_ids_of(state, diag)); t["efficiency"] = time.perf_counter() - t0
        print(f"{args.tasks} tasks, {plan.failed_tasks} failed in {len(plan.groups)} groups, "
              f"{len(obs.memory_gb)} observed, {len(rep.rows)} efficiency rows, snippet {len(src) // 1024} KiB")
        for k, v in t.items():
            print(f"  {k:<14} {v * 1000:8.0f} ms")


if __name__ == "__main__":
    main()

"""The floors under #15's targets on this machine: what the stack costs before any of our code runs.

    python bench/bench_floor.py [--keep DIR] [--repeat N]

Three figures, each in a fresh process, so a target can be judged against
what is physically possible here rather than against our last attempt:

- a hello-world Textual app (one ``Static``), headless, from the start of its
  script to its first paint: the least any Textual first screen costs
  (target for ours: <= 0.3 s);
- DuckDB reading the 300k-task run as the issue's reference did
  (``read_json`` + ``GROUP BY task_id`` into a table, every core), tasks.jsonl
  *and* resources.jsonl, with no validation, no line accounting, no failures
  and nothing handed to Python: the least a full engine index costs
  (target: <= 1.0 s);
- Python alone cutting tasks.jsonl into lines and decoding each with orjson,
  one process: the least the reference reader's per-line pass costs.

Uses the runs ``bench_load.py --keep DIR`` generates (DIR/equal, DIR/varied),
generating them when missing.  Always exits 0: it is a report, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHAPES = {"equal": [], "varied": ["--varied"]}

HELLO = """
import time
t0 = time.perf_counter()
from textual.app import App
from textual.widgets import Static
imported = time.perf_counter() - t0

class Hello(App):
    def compose(self):
        yield Static("hello")

    def on_mount(self):
        def painted():
            print(f'{{"import_s": {imported}, "paint_s": {time.perf_counter() - t0}}}')
            self.exit()
        self.call_after_refresh(painted)

Hello().run(headless=True)
"""

ENGINE = """
import json, os, sys, time
t0 = time.perf_counter()
import duckdb
imported = time.perf_counter() - t0
d = sys.argv[1].replace("'", "''")
con = duckdb.connect()
con.execute(f"SET threads = {len(os.sched_getaffinity(0))}")
t1 = time.perf_counter()
con.execute(f'''CREATE TABLE t AS SELECT task_id, arg_max(state, timestamp) AS st, min(timestamp) AS first,
    max(timestamp) AS last, any_value(task_name) AS nm, any_value(component) AS cp, arg_max(worker, timestamp) AS wk,
    max(duration_s) AS dur, max(error_type) AS et
    FROM read_json('{d}/tasks.jsonl', format = 'newline_delimited', ignore_errors = true,
        columns = {{task_id: 'VARCHAR', state: 'VARCHAR', timestamp: 'VARCHAR', task_name: 'VARCHAR',
                   component: 'VARCHAR', worker: 'VARCHAR', duration_s: 'DOUBLE', error_type: 'VARCHAR'}})
    GROUP BY task_id''')
t2 = time.perf_counter()
con.execute(f'''CREATE TABLE r AS SELECT entity_id, arg_max(component, timestamp) AS cp,
    arg_max(requested_memory, timestamp) AS mem, arg_max(requested_cpus, timestamp) AS cpus
    FROM read_json('{d}/resources.jsonl', format = 'newline_delimited', ignore_errors = true,
        columns = {{entity_id: 'VARCHAR', component: 'VARCHAR', timestamp: 'VARCHAR', requested_memory: 'VARCHAR',
                   requested_cpus: 'DOUBLE'}})
    GROUP BY entity_id''')
t3 = time.perf_counter()
print(json.dumps({"import_s": imported, "tasks_s": t2 - t1, "resources_s": t3 - t2, "total_s": t3 - t0}))
"""

PYTHON = """
import json, sys, time
t0 = time.perf_counter()
import orjson
with open(sys.argv[1] + "/tasks.jsonl", "rb") as f:
    data = f.read()
t1 = time.perf_counter()
lines = data.split(b"\\n")
t2 = time.perf_counter()
loads = orjson.loads
for line in lines:
    if line:
        loads(line)
t3 = time.perf_counter()
print(json.dumps({"read_s": t1 - t0, "split_s": t2 - t1, "decode_s": t3 - t2, "total_s": t3 - t0}))
"""


def _child(code: str, *args: str) -> dict:
    """Run ``code`` in a fresh interpreter; its last stdout line is a JSON object (plus the process's wall time)."""
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        return {"error": (p.stderr or p.stdout).strip().splitlines()[-1:] or ["failed"]}
    out = json.loads(p.stdout.strip().splitlines()[-1])
    out["process_s"] = wall
    return out


def _runs(keep: Path | None, tmp: Path) -> dict[str, Path]:
    out = {}
    for shape, extra in SHAPES.items():
        base = (keep or tmp) / shape
        found = sorted(p for p in base.glob("run-*") if (p / "tasks.jsonl").exists()) if base.exists() else []
        if not found:
            print(f"generating 300000 tasks ({shape}) into {base} …", flush=True)
            base.mkdir(parents=True, exist_ok=True)
            subprocess.run([sys.executable, str(HERE / "gen_big_run.py"), str(base), "--tasks", "300000", *extra],
                           check=True, stdout=subprocess.DEVNULL)
            found = sorted(p for p in base.glob("run-*") if (p / "tasks.jsonl").exists())
        out[shape] = found[0]
    return out


def _warm(run: Path) -> None:
    for p in run.iterdir():
        if p.is_file():
            with open(p, "rb") as f:
                while f.read(1 << 24):
                    pass


def _fig(rs: list[dict], key: str) -> str:
    xs = sorted(r[key] for r in rs if key in r)
    if not xs:
        return "failed: " + "; ".join(str(r.get("error")) for r in rs)
    return f"{xs[0]:.3f}/{statistics.median(xs):.3f} s"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keep", type=Path, help="reuse (or generate into) DIR/equal and DIR/varied, as bench_load.py")
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    print(f"cores {len(os.sched_getaffinity(0))} · Python {sys.version.split()[0]} · figures best/median of {a.repeat}")
    hello = [_child(HELLO) for _ in range(a.repeat)]
    print(f"hello-world Textual app: import {_fig(hello, 'import_s')}, first paint {_fig(hello, 'paint_s')} "
          f"(whole process {_fig(hello, 'process_s')}); target for the review app's first screen <= 0.300 s")
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
        for shape, run in _runs(a.keep, Path(tmp)).items():
            _warm(run)
            eng = [_child(ENGINE, str(run)) for _ in range(a.repeat)]
            py = [_child(PYTHON, str(run)) for _ in range(max(1, a.repeat // 2))]
            print(f"[{shape}] engine, no checks: import {_fig(eng, 'import_s')} + tasks {_fig(eng, 'tasks_s')} "
                  f"+ resources {_fig(eng, 'resources_s')} = {_fig(eng, 'total_s')}; target for the full index "
                  f"<= 1.000 s")
            print(f"[{shape}] Python, orjson per line, one process: read {_fig(py, 'read_s')} + split "
                  f"{_fig(py, 'split_s')} + decode {_fig(py, 'decode_s')} = {_fig(py, 'total_s')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

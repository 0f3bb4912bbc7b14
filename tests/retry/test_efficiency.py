"""efficiency: requested vs used per task function, waste findings, and what joins diagnose."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.efficiency import efficiency_from_jobs, efficiency_from_run, suggest_memory
from scalable_tui.model.jobs import Job
from scalable_tui.session import diagnose, diagnose_run
from scalable_tui.sources.rundir.observed import read_observed
from scalable_tui.sources.rundir.reader import load_run
from tests.conftest import fixture_run, run_cli, tree_fingerprint


def _report(run: Path, oom=()):
    obs = read_observed(run)
    return efficiency_from_run(load_run(run), obs.memory_gb, obs.cpu, oom)


def test_numbers_per_task_function(retry_run: Path) -> None:
    rows = {r.key: r for r in _report(retry_run).rows}
    model, post = rows["run_model"], rows["postprocess"]
    assert (model.tasks, model.observed, model.requested_memory, model.requested_cpus) == (4, 2, "16G", 4.0)
    assert model.peak_memory_gb == 2.1 and model.mean_memory_gb == pytest.approx(1.95)
    assert model.memory_efficiency == pytest.approx(2.1 / 16) and model.mean_cpu == pytest.approx(0.95)
    assert model.cpu_efficiency == pytest.approx(0.95 / 4)
    assert (post.peak_memory_gb, post.requested_memory_gb) == (2.6, 2.0)  # the killed task used more than asked


def test_waste_findings_name_the_request_the_peak_and_the_advice(retry_run: Path) -> None:
    rep = _report(retry_run)
    assert [(f.severity, f.title) for f in rep.findings] == [
        ("warning", "run_model: tasks use 1 of 4 requested cores"),
        ("warning", "run_model requests 16G, peaks at 2.1G: request 4G"),  # ceil(1.5 × 2.1) = 4
    ]


def test_no_request_less_for_a_function_that_ran_out_of_memory(retry_run: Path) -> None:
    state = load_run(retry_run)
    model_ids = [state.tasks.ids[r] for r in range(len(state.tasks.ids)) if state.tasks.strings.values[state.tasks.function[r]] == "run_model"]
    rep = _report(retry_run, oom=model_ids[:1])
    assert [f.title for f in rep.findings] == ["run_model: tasks use 1 of 4 requested cores"]


def test_large_waste_is_told_by_efficiency_and_diagnose_stays_the_review_apps(retry_run: Path) -> None:
    """Waste findings belong to ``efficiency``: ``diagnose`` shows what every other door shows."""
    d = diagnose_run(retry_run)
    assert not [f for f in d.findings if f.category == "efficiency"]
    assert d.failures_total == 5 and sum(f.count for f in d.findings) == 5
    assert d.findings == diagnose(load_run(retry_run)).findings  # the review app's pipeline
    text = run_cli("efficiency", str(retry_run)).stdout
    assert "run_model requests 16G, peaks at 2.1G: request 4G" in text
    ids = {f["id"] for f in json.loads(run_cli("efficiency", str(retry_run), "--format", "json").stdout)["findings"]}
    assert ids == {"efficiency:cpu:task_name:run_model", "efficiency:memory:task_name:run_model"}


def test_run_without_observations_says_so(tmp_path: Path) -> None:
    rep = _report(fixture_run("mixed-failures"))
    assert not rep.findings and all(r.observed == 0 for r in rep.rows)
    assert {r.key: r.requested_memory for r in rep.rows}["run_gcam"] == "8G"
    assert any("Scalable 2.0.0b6 writes null" in n for n in rep.notes)


def test_cli_table_and_json(retry_run: Path) -> None:
    before = tree_fingerprint(retry_run)
    text = run_cli("efficiency", str(retry_run))
    assert text.returncode == 0, text.stderr
    line = next(x for x in text.stdout.splitlines() if x.startswith("run_model"))
    assert line.split() == ["run_model", "model", "4", "2", "16G", "2.10", "1.95", "13.1%", "4", "0.95", "23.7%"]
    doc = json.loads(run_cli("efficiency", str(retry_run), "--format", "json").stdout)
    row = next(r for r in doc["rows"] if r["key"] == "run_model")
    assert (row["memory_efficiency"], row["cpu_efficiency"]) == (0.131, 0.237)
    assert tree_fingerprint(retry_run) == before


def test_observed_reader_skips_bad_lines_and_keeps_the_peak(run_copy) -> None:
    run = run_copy("mixed-failures")
    tid = json.loads((run / "resources.jsonl").read_text().splitlines()[0])["entity_id"]
    with open(run / "resources.jsonl", "a") as fh:
        fh.write('{"entity_id": "%s", "observed_memory_gb": 3.5, "observed_cpu": 1.5}\n' % tid)
        fh.write('{"entity_id": "%s", "observed_memory_gb": 1.0, "observed_cpu": "lots"}\n' % tid)
        fh.write('{"entity_id": "%s", "observed_memory_gb": -4, "observed_cpu": NaN}\n' % tid)
        fh.write('not json but observed_memory_gb\n')
    obs = read_observed(run)
    assert obs.memory_gb == {tid: 3.5} and obs.cpu == {tid: 1.5}
    assert obs.skipped == 3


def test_a_cpu_figure_that_cannot_be_cores_is_left_out(retry_run: Path) -> None:
    obs = read_observed(retry_run)
    pct = {k: v * 100 for k, v in obs.cpu.items()}  # as if a collector wrote percent
    rep = efficiency_from_run(load_run(retry_run), obs.memory_gb, pct)
    assert all(r.mean_cpu is None for r in rep.rows)
    assert any("not a core count" in n for n in rep.notes)
    assert not any("cores" in f.title for f in rep.findings)


def test_slurm_jobs_like_seff_and_oom_killed_jobs_are_never_told_to_ask_less() -> None:
    jobs = [
        Job(job_id="1", name="dask-gcam", state="COMPLETED", req_mem="16G", req_mem_mb=16384, max_rss_mb=2048, req_cpus=4),
        Job(job_id="2", name="dask-gcam", state="COMPLETED", req_mem="16G", req_mem_mb=16384, max_rss_mb=1024, req_cpus=4),
        Job(job_id="3", name="dask-hydro", state="OUT_OF_MEMORY", req_mem="16G", req_mem_mb=16384, max_rss_mb=900),
    ]
    rep = efficiency_from_jobs(jobs)
    rows = {r.key: r for r in rep.rows}
    assert rows["dask-gcam"].peak_memory_gb == pytest.approx(2048 * 2**20 / 1e9)
    assert rows["dask-hydro"].oom_killed == 1
    assert [f.id for f in rep.findings] == ["efficiency:memory:slurm_job:dask-gcam"]
    assert any("under-read" in n for n in rep.notes)


def test_suggested_memory_rounds_up() -> None:
    assert [suggest_memory(x) for x in (0.1, 2.0, 2.1, 10.0)] == ["1G", "3G", "4G", "15G"]


def test_real_sacct_output_gives_seff_rows_and_the_oom_killed_job_is_not_waste() -> None:
    """sacct recorded on a real Slurm (tests/slurm/data): job 15 'ok' asks 1000M and peaks at 1328K."""
    from scalable_tui.sources.jobs.slurm_parse import parse_sacct
    from tests.slurm.test_parsers import read

    jobs, _ = parse_sacct(read("sacct_22.05_sbatch.txt"))
    rep = efficiency_from_jobs(jobs.values())
    rows = {r.key: r for r in rep.rows}
    ok, oomy = rows["ok"], rows["oomy"]
    assert ok.requested_memory == "1000M" and ok.peak_memory_gb == pytest.approx(1328 * 1024 / 1e9)
    assert oomy.oom_killed == 1
    ids = [f.id for f in rep.findings]
    assert "efficiency:memory:slurm_job:ok" in ids and "efficiency:memory:slurm_job:oomy" not in ids
    ok_f = next(f for f in rep.findings if f.id == "efficiency:memory:slurm_job:ok")
    assert ok_f.severity == "info"  # under 2 GB unused per job: not added to diagnose
    assert any("TotalCPU" in n for n in rep.notes)


def test_efficiency_never_asks_slurm_about_a_local_run(retry_run: Path) -> None:
    from scalable_tui.session.efficiency import slurm_jobs

    class Boom:
        def history(self, *a, **k):  # pragma: no cover - must not be called
            raise AssertionError("asked Slurm about a local run")

    assert slurm_jobs(load_run(retry_run), "auto", Boom()) == ([], None)


def test_sacct_total_cpu_gives_the_slurm_rows_a_cpu_efficiency() -> None:
    """sacct's TotalCPU (asked for since this change) is the CPU time of all steps: with Elapsed and
    ReqCPUS it is seff's CPU efficiency.  Output of the older field list (no TotalCPU) still parses."""
    from scalable_tui.sources.jobs.slurm_parse import parse_sacct

    text = ("41|COMPLETED|0:0|None|node1|01:00:00|02:00:00|16G|4|debug|2026-11-25T12:00:00|"
            "2026-11-25T12:00:00|2026-11-25T13:00:00||01:00:30|alice|dask-gcam\n"
            "41.batch|COMPLETED|0:0||node1|01:00:00|||4||2026-11-25T12:00:00|2026-11-25T12:00:00|"
            "2026-11-25T13:00:00|2100M|01:00:30||batch\n")
    jobs, bad = parse_sacct(text)
    assert bad == 0 and jobs["41"].total_cpu_s == 3630.0 and jobs["41"].max_rss_mb == 2100.0
    rep = efficiency_from_jobs(jobs.values())
    (row,) = rep.rows
    assert abs(row.mean_cpu - 3630 / 3600) < 1e-9 and row.requested_cpus == 4.0
    assert "efficiency:cpu:slurm_job:dask-gcam" in {f.id for f in rep.findings}  # 1 of 4 cores
    assert not any("CPU efficiency of Slurm jobs not computed" in n for n in rep.notes)

    from scalable_tui.sources.jobs.slurm_parse import SACCT_FIELDS_V1

    v1 = text.replace("|01:00:30|alice", "|alice").replace("|01:00:30||batch", "||batch")
    old, bad = parse_sacct(v1, SACCT_FIELDS_V1)
    assert bad == 0 and old["41"].total_cpu_s is None and old["41"].max_rss_mb == 2100.0


def test_no_memory_finding_that_would_ask_for_more() -> None:
    """Dask workers of 0.35G peaking at 0.05G: 1.5 × the peak rounds up to the 1 G floor, more than they
    request; the finding said "request 1G" under a "requests less" heading.  No finding now."""
    from assistant.efficiency import efficiency_from_workers

    small = efficiency_from_workers([("w-0", 350 * 10**6, 50 * 10**6, 3.0, 1)], "x")
    assert small.rows[0].memory_efficiency < 0.25 and not [f for f in small.findings if ":memory:" in f.id]
    big = efficiency_from_workers([("w-0", 16 * 10**9, 2 * 10**9, 90.0, 1)], "x")
    assert [f.title for f in big.findings if ":memory:" in f.id] == ["workers w requests 16G, peaks at 2.0G: request 3G"]


def test_names_and_functions_per_task_fold_into_one_row(tmp_path: Path) -> None:
    """A producer that names each task's function after the task (``run_gcam[scenario=000063]``) got one row
    per task: 300,000 rows printed, 14 s. Rows fold as the findings fold names; the numbers add up."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    subprocess.run([sys.executable, str(ROOT / "bench" / "gen_big_run.py"), str(tmp_path), "--tasks", "2000",
                    "--varied"], check=True, stdout=subprocess.DEVNULL)
    run = next(tmp_path.glob("run-*"))
    state = load_run(run)
    assert len(state.tasks.counts_by("function")) > 1000
    rows = efficiency_from_run(state, {}, {}).rows
    assert {r.key: r.tasks for r in rows} == {"run_demeter[…]": 500, "run_gcam[…]": 500, "stitch_outputs[…]": 500,
                                              "xanthos_basin[…]": 500}
    assert sum(r.tasks for r in rows) == state.tasks.n_tasks()


def test_the_efficiency_column_never_rounds_across_the_warning_line() -> None:
    """24.75 % was printed "25%" beside the warning for tasks that peak below 25 % of their request."""
    from types import SimpleNamespace

    from scalable_tui.cli.plan import render_efficiency_text

    row = SimpleNamespace(key="agg", component="post", tasks=2, observed=2, requested_memory="4G", peak_memory_gb=0.99,
                          mean_memory_gb=0.9, memory_efficiency=0.2475, requested_cpus=1, mean_cpu=0.5,
                          cpu_efficiency=0.5)
    report = SimpleNamespace(run_id="run-x", rows=[row], findings=[], notes=[])
    text = render_efficiency_text(report)
    line = next(ln for ln in text.splitlines() if ln.startswith("agg"))
    assert "24.7%" in line and "25%" not in line and "50%" in line

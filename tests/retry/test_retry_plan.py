"""retry-plan: every failed task in exactly one group, the right action, the right numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scalable_tui.model.diagnosis import Finding
from assistant.retry_plan import build_retry_plan
from assistant.retry_resources import format_walltime, memory_bytes, more_memory, more_walltime, walltime_s
from scalable_tui.session.slurm_join import merge_findings
from scalable_tui.session import diagnose
from scalable_tui.sources.rundir.observed import read_observed
from scalable_tui.sources.rundir.reader import load_run
from tests.conftest import fixture_run, run_cli, tree_fingerprint


def _plan(run: Path):
    state = load_run(run)
    diag = diagnose(state)
    return state, diag, build_retry_plan(state, diag, observed_memory_gb=read_observed(run).memory_gb)


def _failed_ids(state) -> list[str]:
    t = state.tasks
    return [t.ids[r] for r in range(len(t.ids)) if t.state_of(r) == "failed"]


def _assert_partition(state, plan) -> None:
    ids = [x for g in plan.groups for x in g.task_ids]
    assert len(ids) == len(set(ids)), "a task is in two groups"
    assert set(ids) == set(_failed_ids(state))
    assert plan.failed_tasks == len(ids) == sum(plan.by_action().values())


@pytest.mark.parametrize("name", ["mixed-failures", "gcam-stitches", "killed-worker", "crashed-partial",
                                  "corrupt-lines", "tutorial-tracebacks", "session-start-failure"])
def test_every_failed_task_is_in_exactly_one_group_on_every_fixture(name: str) -> None:
    state, _, plan = _plan(fixture_run(name))
    _assert_partition(state, plan)


def test_each_cause_gets_its_action(retry_run: Path) -> None:
    state, _, plan = _plan(retry_run)
    _assert_partition(state, plan)
    action = {state.tasks.name_of(state.tasks.row[x]): g.action for g in plan.groups for x in g.task_ids}
    assert action == {
        "run_model:ssp4": "retry",  # ConnectionResetError
        "run_model:ssp3": "retry_more_time",  # DUE TO TIME LIMIT
        "postprocess:ssp2": "retry_more_memory",  # RuntimeError "Killed: memory …": OOM in words
        "postprocess:ssp3": "retry_more_memory",  # MemoryError
        "postprocess:ssp4": "fix_first",  # ValueError: invalid input
    }
    assert plan.by_action() == {"retry": 1, "retry_more_memory": 2, "retry_bigger_gpu": 0, "retry_more_time": 1,
                                "fix_first": 1}


def test_memory_is_twice_the_larger_of_request_and_observed_peak_in_whole_gb(retry_run: Path) -> None:
    state, _, plan = _plan(retry_run)
    mem = {g.category + ":" + next(iter(g.task_names)): g for g in plan.groups if g.action == "retry_more_memory"}
    killed = mem["oom:postprocess:ssp2"]  # requested 2G, observed 2.6 GB (over the request): 2 × 2.6 = 5.2 -> 6G
    assert (killed.current["memory"], killed.current["observed_peak_memory_gb"], killed.change["memory"]) == ("2G", 2.6, "6G")
    assert killed.component == "post" and "observed peak 2.6G" in killed.rule
    plain = mem["oom:postprocess:ssp3"]  # nothing observed: 2 × 2G
    assert (plain.change["memory"], plain.current["observed_peak_memory_gb"]) == ("4G", None)


def test_walltime_is_one_and_a_half_times_with_lifetime_advice(retry_run: Path) -> None:
    _, _, plan = _plan(retry_run)
    g = next(g for g in plan.groups if g.action == "retry_more_time")
    assert g.current["walltime"] == "01:00:00"
    assert g.change == {"walltime": "01:30:00", "lifetime": "85m", "lifetime_stagger": "2m",
                        "worker_extra_args": ["--lifetime", "85m", "--lifetime-stagger", "2m"]}


@pytest.mark.parametrize("req,peak,expected", [
    ("16G", 2.1, "32G"),  # the request is larger
    ("2G", 2.6, "6G"),  # the peak is larger: ceil(5.2)
    ("8GiB", None, "18G"),  # 2 × 8.59 GB = 17.2 -> 18
    ("500M", None, "1G"),  # at least one whole GB
    ("1500MB", None, "3G"),
    (None, 3.3, "7G"),  # only the peak
    (None, None, None),
    ("lots", None, None),
])
def test_more_memory_arithmetic(req, peak, expected) -> None:
    assert more_memory(req, peak)[0] == expected


def test_memory_and_walltime_parsing() -> None:
    assert memory_bytes("16G") == 16e9 and memory_bytes("2 GiB") == 2 * 2**30 and memory_bytes("Gi") is None
    assert [walltime_s(x) for x in ("04:00:00", "90", "90:30", "1-02", "1-02:30:15", "x", None)] == [
        14400, 5400, 5430, 93600, 95415, None, None]
    assert format_walltime(36 * 3600 + 61) == "36:01:01"  # Scalable's Slurm target takes HH:MM:SS only
    assert more_walltime("04:00:00", None)[0] == "06:00:00"
    assert more_walltime("01:00:00", 5000.0)[0] == "02:05:00"  # ran longer than the request said: 1.5 × 5000 s
    assert more_walltime(None, 3.0)[0] is None  # a 3 s failure says nothing about the limit


def test_gpu_oom_gets_no_host_memory_number_and_is_not_resubmitted() -> None:
    _, _, plan = _plan(fixture_run("mixed-failures"))
    gpu = next(g for g in plan.groups if g.category == "gpu_oom")
    # its own action: "retry_more_memory" said to add memory where the reason says host memory does not help
    assert gpu.action == "retry_bigger_gpu" and "memory" not in gpu.change and gpu.change["gpu"]
    assert not gpu.resubmittable and "@" not in gpu.id  # not per component: no component request to change
    assert any(gpu.id in n for n in plan.notes)
    assert plan.by_action()["retry_bigger_gpu"] == gpu.count and sum(plan.by_action().values()) == plan.failed_tasks
    assert all(g.category != "gpu_oom" for g in plan.groups if g.action == "retry_more_memory")


def _slurm_finding(kind: str, category: str) -> Finding:
    return Finding(id=f"slurm:{kind}", category=category, severity="error", title=f"Slurm {kind}", count=1,
                   suggestion="", resources={"requested_memory": "4G", "requested_walltime": "02:00:00"})


def test_dead_workers_follow_the_only_slurm_cause_else_fix_first() -> None:
    run = fixture_run("killed-worker")  # 3 KilledWorker failures, nothing says why
    state = load_run(run)
    diag = diagnose(state)
    plain = build_retry_plan(state, diag)
    assert [(g.category, g.action, g.count) for g in plain.groups] == [("worker_lost", "fix_first", 3)]
    # Hand-made: the same run with the Slurm join saying the jobs hit their cgroup memory limit.
    oom = build_retry_plan(state, merge_findings(diag, [_slurm_finding("oom", "oom")]))
    lost = next(g for g in oom.groups if g.category == "worker_lost")
    assert lost.action == "retry_more_memory" and lost.change["memory"] == "4G"  # 2 × the component's 2G
    both = build_retry_plan(state, merge_findings(diag, [_slurm_finding("oom", "oom"),
                                                         _slurm_finding("walltime", "walltime")]))
    assert next(g for g in both.groups if g.category == "worker_lost").action == "fix_first"


def test_a_task_with_two_failure_records_is_planned_once_by_its_last(run_copy) -> None:
    run = run_copy("mixed-failures")
    recs = [json.loads(x) for x in (run / "failures.jsonl").read_text().splitlines() if x.strip()]
    victim = next(r for r in recs if r["failure_class"] == "KeyError")
    later = dict(victim, failure_class="ConnectionError", message="Connection reset by peer",
                 timestamp="2099-01-01T00:00:00Z")
    tasks = [json.loads(x) for x in (run / "tasks.jsonl").read_text().splitlines() if x.strip()]
    ok_id = next(t["task_id"] for t in tasks if t["state"] == "succeeded")
    stale = dict(victim, task_id=ok_id)  # a failure record of a task that succeeded in the end
    with open(run / "failures.jsonl", "a") as fh:
        fh.write(json.dumps(later) + "\n" + json.dumps(stale) + "\n")
    state, _, plan = _plan(run)
    _assert_partition(state, plan)
    where = [g for g in plan.groups if victim["task_id"] in g.task_ids]
    assert len(where) == 1 and where[0].action == "retry" and where[0].category == "network"
    assert ok_id not in {x for g in plan.groups for x in g.task_ids}
    assert any("reached another final state" in n for n in plan.notes)


def test_cli_text_and_json_and_the_run_dir_is_untouched(retry_run: Path) -> None:
    before = tree_fingerprint(retry_run)
    text = run_cli("retry-plan", str(retry_run))
    assert text.returncode == 0, text.stderr
    assert "5 failed task(s) in 5 group(s)" in text.stdout
    assert "memory 2G -> 6G for component post" in text.stdout
    assert "walltime 01:00:00 -> 01:30:00" in text.stdout and "'--lifetime', '85m'" in text.stdout
    doc = json.loads(run_cli("retry-plan", str(retry_run), "--format", "json").stdout)
    assert doc["failed_tasks"] == 5 and doc["by_action"]["retry_more_memory"] == 2
    assert sorted(x for g in doc["groups"] for x in g["task_ids"]) == sorted(_failed_ids(load_run(retry_run)))
    latest = run_cli("retry-plan", "--latest", "--runs-dir", str(retry_run.parent), "--format", "json")
    assert json.loads(latest.stdout)["run_id"] == retry_run.name
    assert tree_fingerprint(retry_run) == before


def test_cli_says_what_is_wrong_with_a_bad_path(tmp_path: Path) -> None:
    r = run_cli("retry-plan", str(tmp_path / "nope"))
    assert r.returncode == 2 and "nope" in r.stderr and not r.stdout


def test_a_recording_is_planned_from_its_failed_keys(tmp_path: Path) -> None:
    from tests.session.test_pipeline import write_slurm_night

    rec = tmp_path / "night.rec"
    write_slurm_night(rec)  # 3 erred run_gcam keys (ValueError) and Slurm walltime / pending jobs
    r = run_cli("retry-plan", str(rec), "--format", "json", env={"PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [(g["action"], g["category"], sorted(g["task_ids"])) for g in doc["groups"]] == [
        ("fix_first", "invalid_input", ["run_gcam-0", "run_gcam-1", "run_gcam-2"])]
    py = run_cli("retry-plan", str(rec), "--format", "python", env={"PATH": "/usr/bin:/bin"})
    compile(py.stdout, "retry.py", "exec")
    assert "no manifest.yaml" in py.stderr


def test_unfinished_tasks_of_an_abandoned_run_are_named_not_planned() -> None:
    state, diag, plan = _plan(fixture_run("crashed-partial"))  # driver SIGKILLed: 7 tasks never finished
    assert diag.abandoned and diag.unfinished == 7
    _assert_partition(state, plan)
    assert plan.failed_tasks == 5
    assert any("7 task(s) never finished" in n for n in plan.notes)


def test_an_oom_task_without_component_gets_its_number_but_is_not_resubmitted() -> None:
    """Tasks submitted without ``tag=`` have no component: no manifest entry whose memory could be raised."""
    from assistant.retry_snippet import retry_snippet
    import ast

    state = load_run(fixture_run("mixed-failures"))
    diag = diagnose(state)
    oom = next(f for f in diag.findings if f.category == "oom")
    tid = oom.task_ids[0]
    state.tasks.component[state.tasks.row[tid]] = 0  # hand-made: as if submitted without tag
    plan = build_retry_plan(state, diag)
    g = next(g for g in plan.groups if tid in g.task_ids)
    assert g.change["memory"] == "16G" and g.component is None and not g.resubmittable
    assert "no component" in g.rule and any("no component" in n for n in plan.notes)
    tasks = ast.literal_eval(retry_snippet(plan).split("TASKS = ", 1)[1].split("\n\n\n", 1)[0])
    assert tid not in {t["task_id"] for t in tasks}


def test_hostile_task_names_are_shown_literally(run_copy) -> None:
    run = run_copy("mixed-failures")
    evil = "run_gcam\x1b]8;;http://x\x07[bold]boom[/]\x1b[31m"
    lines = (run / "tasks.jsonl").read_text().splitlines()
    lines = [json.dumps(dict(json.loads(x), task_name=evil), sort_keys=True) if '"run_gcam"' in x else x for x in lines]
    (run / "tasks.jsonl").write_text("\n".join(lines) + "\n")
    r = run_cli("retry-plan", str(run))
    assert r.returncode == 0, r.stderr
    assert "\x1b" not in r.stdout and "\x07" not in r.stdout
    assert "[bold]boom[/]" in r.stdout  # no markup interpretation either
    doc = json.loads(run_cli("retry-plan", str(run), "--format", "json").stdout)
    assert evil in {t["task_name"] for t in doc["tasks"].values()}  # JSON keeps the real value


def test_a_session_that_never_started_is_said_not_called_nothing_to_retry() -> None:
    r = run_cli("retry-plan", str(fixture_run("session-start-failure")))
    assert r.returncode == 0 and "0 failed task(s)" in r.stdout
    assert "failed to start" in r.stdout and "fix that first" in r.stdout


def test_text_plan_says_when_the_component_of_a_memory_group_is_unknown() -> None:
    """It printed "for component None"; the snippet cannot set memory without a component either."""
    from assistant.retry_plan import RetryGroup, RetryPlan
    from scalable_tui.cli.plan import render_plan_text

    g = RetryGroup(id="g1", action="retry_more_memory", reason="out of memory", category="oom", title="MemoryError",
                   finding_id="f1", task_ids=["t1"], task_names={"run_model": 1}, component=None,
                   change={"memory": "8G"}, current={"memory": "4G"}, rule="2 × max(request, peak)")
    plan = RetryPlan(run_id="run-x", run_dir="/tmp/x", project=None, target=None, provider=None, groups=[g],
                     failed_tasks=1, tasks={})
    text = render_plan_text(plan)
    assert "memory 4G -> 8G (component unknown)" in text and "component None" not in text
    assert not g.resubmittable


def test_diagnose_says_retry_the_way_the_retry_plan_does(retry_run: Path) -> None:
    """An out-of-memory or walltime group read "permanent: a retry will not help" next to a retry plan that
    retries it with more memory or time; diagnose now says what a retry needs."""
    from assistant.render import retry_words
    from scalable_tui.session import diagnose_run

    diag = diagnose_run(retry_run)
    words = {f.category: retry_words(f) for f in diag.findings}
    assert words["oom"] == ("more memory", "a retry needs more memory (scalable-tui retry-plan says how much)")
    assert words["walltime"][0] == "more time" and words["network"][0] == "transient"
    assert words["invalid_input"] == ("permanent", "permanent: a retry will not help")
    text = run_cli("diagnose", str(retry_run)).stdout
    assert "Retry:      a retry needs more memory" in text and "Retry:      a retry needs a longer walltime" in text


def test_a_finding_split_per_component_titles_each_part_with_its_own_tasks(tmp_path: Path) -> None:
    """Out-of-memory failures in four tasks of four components: the plan raises memory per component, and each
    part said "MemoryError in run_gcam" (once the finding's title, of a quarter of its failures)."""
    from tests.conftest import diagnose_bench_run

    run = diagnose_bench_run(tmp_path, 400)
    state, diag, plan = _plan(run)
    _assert_partition(state, plan)
    oom = [g for g in plan.groups if g.category == "oom"]
    assert len(oom) == 4
    for g in oom:
        (name,) = g.task_names
        assert g.title == f"Out of memory: MemoryError in {name}", g.title
    whole = next(f for f in diag.findings if f.category == "oom")
    assert whole.title == "Out of memory: MemoryError in run_demeter, run_gcam and 2 more"
    assert next(g for g in plan.groups if g.category == "invalid_input").title == "KeyError in run_demeter, run_gcam and 2 more"


def test_said_of_keeps_a_title_without_a_place() -> None:
    from assistant.task_names import said_of

    def show(s: str) -> str:
        return s

    assert said_of("GPU (session.start): RuntimeError", {"a": 1, "b": 1}, {"a": 1}, show) == "GPU (session.start): RuntimeError"
    assert said_of("KeyError in a and b", {"a": 1, "b": 1}, {"a": 1}, show) == "KeyError in a"
    assert said_of("KeyError in a and b", {"a": 1, "b": 1}, {}, show) == "KeyError in a and b"

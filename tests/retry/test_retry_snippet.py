"""retry-plan --format python: valid Python, and it really resubmits only the retryable tasks."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

from assistant.retry_plan import RetryGroup, RetryPlan
from assistant.retry_snippet import retry_snippet
from tests.conftest import run_cli, tree_fingerprint
from tests.retry.conftest import WORKFLOW, scalable_env


def _literal(tree: ast.Module, name: str):
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(name)


def test_snippet_parses_and_carries_the_plan(retry_run: Path) -> None:
    r = run_cli("retry-plan", str(retry_run), "--format", "python")
    assert r.returncode == 0, r.stderr
    tree = ast.parse(r.stdout)
    tasks = _literal(tree, "TASKS")
    assert sorted(t["task_name"] for t in tasks) == ["postprocess:ssp2", "postprocess:ssp3", "run_model:ssp3",
                                                     "run_model:ssp4"]  # not the ValueError (fix_first)
    assert _literal(tree, "COMPONENT_CHANGES") == {"post": {"memory": "6G"}}  # the larger of 6G and 4G
    assert _literal(tree, "TARGET_CHANGES") == {"walltime": "01:30:00"}
    assert _literal(tree, "WORKER_EXTRA_ARGS") == ["--lifetime", "85m", "--lifetime-stagger", "2m"]
    assert _literal(tree, "MANIFEST") == str(retry_run.resolve() / "manifest.yaml")


def test_hostile_names_cannot_break_or_inject_into_the_snippet() -> None:
    evil = "x'''\n\"\"\"\nimport os; os.system('echo pwned') #\\"
    g = RetryGroup(id="g", action="retry", reason="", category="network", title=evil, finding_id="g",
                   task_ids=["t1"], task_names={evil: 1}, component=evil)
    plan = RetryPlan(run_id=evil, run_dir="/tmp/" + evil, project=None, target=evil, provider=None, groups=[g],
                     failed_tasks=1, tasks={"t1": {"task_name": evil, "function_name": evil, "component": evil, "tag": evil}})
    src = retry_snippet(plan)
    tree = ast.parse(src)
    assert _literal(tree, "TASKS")[0]["task_name"] == evil
    assert _literal(tree, "TARGET") == evil
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "system"]
    assert not calls


def test_snippet_resubmits_only_retryable_tasks_with_the_new_resources(retry_run: Path, tmp_path: Path) -> None:
    """Run the script for real: a new Scalable session on the run's manifest with the changes applied."""
    before = tree_fingerprint(retry_run)
    script = tmp_path / "retry.py"
    script.write_text(run_cli("retry-plan", str(retry_run), "--format", "python").stdout)
    shutil.copy(WORKFLOW, tmp_path / "wf.py")  # the user's workflow module (stub functions + retry_arguments)
    runs = tmp_path / "runs"
    proc = subprocess.run([sys.executable, str(script), "wf"], cwd=tmp_path,
                          env=scalable_env(tmp_path, runs, RETRY_MODE="1"), capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "4 of 4 resubmitted task(s) succeeded" in proc.stdout
    (new,) = sorted(runs.glob("run-*"))
    events = [json.loads(x) for x in (new / "tasks.jsonl").read_text().splitlines()]
    final = {e["task_name"]: e["state"] for e in events}
    assert final == {"run_model:ssp3": "succeeded", "run_model:ssp4": "succeeded",
                     "postprocess:ssp2": "succeeded", "postprocess:ssp3": "succeeded"}
    res = [json.loads(x) for x in (new / "resources.jsonl").read_text().splitlines()]
    mem = {r["component"]: r["requested_memory"] for r in res}
    assert mem == {"model": "16G", "post": "6G"}  # post doubled from the observed 2.6 GB; model unchanged
    assert {r["requested_walltime"] for r in res} == {"01:30:00"}
    assert tree_fingerprint(retry_run) == before  # the old run is only read


def test_snippet_without_a_workflow_module_prints_its_usage(retry_run: Path, tmp_path: Path) -> None:
    script = tmp_path / "retry.py"
    script.write_text(run_cli("retry-plan", str(retry_run), "--format", "python").stdout)
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "retry_arguments(task)" in proc.stderr

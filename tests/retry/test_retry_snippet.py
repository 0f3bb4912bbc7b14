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
    # The script saved in another folder than the workflow module: the module is imported from the current one.
    script = tmp_path / "plans" / "retry.py"
    script.parent.mkdir()
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


def _script_module(path: Path):  # type: ignore[no-untyped-def]
    import importlib.util

    spec = importlib.util.spec_from_file_location("retry_script_under_test", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_without_run_json_the_script_changes_the_manifests_first_target(retry_run: Path, tmp_path: Path) -> None:
    """run.json lost: the plan cannot name the target, so the script's new walltime goes to the manifest's first."""
    run = tmp_path / retry_run.name
    shutil.copytree(retry_run, run)
    (run / "run.json").unlink()
    r = run_cli("retry-plan", str(run), "--format", "python")
    assert r.returncode == 0, r.stderr
    assert "does not name its target" in r.stderr
    script = tmp_path / "retry.py"
    script.write_text(r.stdout)
    tree = ast.parse(r.stdout)
    assert _literal(tree, "TARGET") is None and _literal(tree, "TARGET_CHANGES") == {"walltime": "01:30:00"}
    import yaml

    first = next(iter(yaml.safe_load((run / "manifest.yaml").read_text())["targets"]))
    session = _script_module(script).session_with_changes()  # a session object; nothing is started
    assert session.target_name == first
    assert session.manifest.targets[first].options["walltime"] == "01:30:00"


def test_without_the_runs_manifest_a_note_and_a_clear_exit(retry_run: Path, tmp_path: Path) -> None:
    run = tmp_path / retry_run.name
    shutil.copytree(retry_run, run)
    (run / "manifest.yaml").unlink()
    r = run_cli("retry-plan", str(run), "--format", "python")
    assert r.returncode == 0 and "manifest.yaml does not exist" in r.stderr
    script = tmp_path / "retry.py"
    script.write_text(r.stdout)
    proc = subprocess.run([sys.executable, str(script), "wf"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "does not exist; set MANIFEST" in proc.stderr and "Traceback" not in proc.stderr


def test_a_workflow_module_that_is_not_there_is_one_line(retry_run: Path, tmp_path: Path) -> None:
    script = tmp_path / "retry.py"
    script.write_text(run_cli("retry-plan", str(retry_run), "--format", "python").stdout)
    proc = subprocess.run([sys.executable, str(script), "no_such_wf"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "cannot import the workflow module 'no_such_wf'" in proc.stderr

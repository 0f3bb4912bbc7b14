"""What is sent: built from groups, trimmed to the budget, every group accounted for."""

from __future__ import annotations

import json
import shutil
import string
from pathlib import Path

import pytest

from scalable_tui.session import diagnose_run
from assistant.llm import build_messages, build_prompt, resolve_config
from assistant.llm.payload_fields import BYTES_PER_TOKEN, estimate_tokens, trim_traceback
from tests.conftest import fixture_run, run_cli

EXC = ["ValueError", "KeyError", "MemoryError", "FileNotFoundError", "ConnectionError", "RuntimeError", "TypeError"]


def _alpha(i: int) -> str:
    s = ""
    i += 26 * 26
    while i:
        i, r = divmod(i, 26)
        s = string.ascii_lowercase[r] + s
    return s


def _traceback(i: int, exc: str) -> str:
    frames = "".join(
        f'  File "/opt/conda/lib/python3.11/site-packages/dask/local_{k}.py", line {100 + k}, in execute_{k}\n'
        f"    result = _execute_task(task, data)  # {'x' * 60}\n"
        for k in range(12)
    )
    return (
        "Traceback (most recent call last):\n"
        + frames
        + f'  File "/home/alicehpc/model/steps.py", line {10 + i}, in step_{_alpha(i)}\n'
        + f"    value = compute_{_alpha(i)}(params)\n"
        + f"{exc}: step {_alpha(i)} failed for scenario ssp{i % 5} token=tok{i}SECRETxyz at 10.1.{i % 250}.7\n"
    )


def make_big_run(dst: Path, n_failures: int = 10_000, n_groups: int = 300) -> Path:
    src = fixture_run("mixed-failures")
    run = dst / src.name
    shutil.copytree(src, run)
    (run / "tasks.jsonl").write_text("")  # failures only: no synthesised ones from failed tasks
    template = json.loads((src / "failures.jsonl").read_text().splitlines()[0])
    # uneven sizes: 10 big groups, 290 small ones
    counts = [500] * 10 + [0] * (n_groups - 10)
    rest = n_failures - sum(counts)
    for i in range(10, n_groups):
        counts[i] = rest // (n_groups - 10) + (1 if i - 10 < rest % (n_groups - 10) else 0)
    assert sum(counts) == n_failures
    lines = []
    k = 0
    for g, c in enumerate(counts):
        exc = EXC[g % len(EXC)]
        tb = _traceback(g, exc)
        for _ in range(c):
            rec = dict(template)
            rec.update(failure_class=exc, message=f"step {_alpha(g)} failed for scenario ssp{g % 5}", task_id=f"{k:032x}")
            rec["details"] = {"phase": "task_execution", "traceback": tb}
            lines.append(json.dumps(rec))
            k += 1
    (run / "failures.jsonl").write_text("\n".join(lines) + "\n")
    return run


@pytest.fixture(scope="module")
def big_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_big_run(tmp_path_factory.mktemp("big"))


@pytest.fixture(scope="module")
def big_diag(big_run: Path):  # type: ignore[no-untyped-def]
    d = diagnose_run(big_run)
    assert d.failures_total == 10_000 and len(d.findings) == 300
    return d


def _accounted(payload: dict) -> tuple[int, int]:
    groups = len(payload["findings"]) + len(payload.get("other_groups", []))
    failures = sum(f["count"] for f in payload["findings"]) + sum(o["count"] for o in payload.get("other_groups", []))
    more = payload.get("more_groups")
    if more:
        groups += more["groups"]
        failures += more["failures"]
        assert more["text"].startswith(f"and {more['groups']} more groups (")
        assert sum(c["groups"] for c in more["by_category"].values()) == more["groups"]
    return groups, failures


@pytest.mark.parametrize("budget", [6000, 2500, 1200])
def test_10000_failures_in_300_groups_fit_the_budget_and_all_groups_are_accounted_for(big_diag, budget: int) -> None:  # type: ignore[no-untyped-def]
    p = build_prompt(big_diag, config=resolve_config(budget_tokens=budget, env={}))
    raw = sum(len(m["content"].encode()) for m in p.messages)
    assert p.estimated_tokens <= budget and not p.over_budget, p.summary_line()
    assert raw / BYTES_PER_TOKEN <= budget
    assert _accounted(p.payload) == (300, 10_000)
    assert p.groups_total == 300 and p.groups_listed + p.groups_folded == 300
    assert p.steps[0] == "trimmed tracebacks"  # tracebacks go first
    body = json.dumps(p.messages)
    assert "alicehpc" not in body and "SECRETxyz" not in body and "10.1." not in body


def test_tracebacks_are_trimmed_before_groups_are_folded(big_diag) -> None:  # type: ignore[no-untyped-def]
    roomy = build_prompt(big_diag, config=resolve_config(budget_tokens=200_000, env={}))
    assert roomy.steps == [] and roomy.groups_folded == 0
    assert all("traceback" in f for f in roomy.payload["findings"])
    tb = roomy.payload["findings"][0]["traceback"]
    assert "outer frame(s) omitted" in tb and tb.count('File "') == 3  # innermost three frames only
    tight = build_prompt(big_diag, config=resolve_config(budget_tokens=6000, env={}))
    assert tight.steps.index("trimmed tracebacks") < tight.steps.index("trimmed examples") < next(
        i for i, s in enumerate(tight.steps) if s.startswith("folded")
    )
    # trimmed, not dropped: the exception lines are still there
    assert all("traceback" in f and "Error" in f["traceback"] for f in tight.payload["findings"])


def test_smallest_groups_are_folded_first(big_diag) -> None:  # type: ignore[no-untyped-def]
    p = build_prompt(big_diag, config=resolve_config(budget_tokens=2500, env={}))
    listed = [o["count"] for o in p.payload.get("other_groups", [])]
    folded_max = max(f.count for f in big_diag.findings[10:])  # small groups only are folded here
    assert listed == sorted(listed, reverse=True)
    assert all(c >= min(listed, default=0) for c in listed)
    assert p.payload["more_groups"]["failures"] <= folded_max * p.payload["more_groups"]["groups"]


def test_explicit_findings_explain_those_and_fold_the_rest(big_diag) -> None:  # type: ignore[no-untyped-def]
    one = big_diag.findings[3]
    p = build_prompt(big_diag, [one], resolve_config(env={}))
    assert p.finding_ids == [one.id]
    assert [f["id"] for f in p.payload["findings"]] == [one.id]
    assert _accounted(p.payload) == (300, 10_000)


def test_prompt_is_deterministic(mixed_run: Path) -> None:
    d = diagnose_run(mixed_run)
    cfg = resolve_config(env={})
    assert build_messages(d, config=cfg) == build_messages(d, config=cfg)


def test_payload_is_built_from_groups_not_raw_failures(mixed_run: Path) -> None:
    d = diagnose_run(mixed_run)
    p = build_prompt(d, config=resolve_config(env={}))
    f = p.payload["findings"][0]
    assert {"id", "category", "count", "exception_types", "pattern", "heuristic_suggestion"} <= set(f)
    assert "task_ids" not in json.dumps(p.payload) and "evidence" not in f
    run = p.payload["run"]
    assert run["provider"] == "local" and run["failures_total"] == 21 and run["groups_total"] == 15
    assert estimate_tokens(p.messages) == p.estimated_tokens


def test_trim_traceback_keeps_innermost_frames_and_exception_lines() -> None:
    tb = (
        "Traceback (most recent call last):\n"
        + "".join(f'  File "/x/m{i}.py", line {i}, in f{i}\n    call_{i}()\n' for i in range(10))
        + "KeyError: 'region_2'\n\nDuring handling of the above exception, another exception occurred:\n\n"
        "Traceback (most recent call last):\n"
        + "".join(f'  File "/x/n{i}.py", line {i}, in g{i}\n    other_{i}()\n           ~~~^^^\n' for i in range(6))
        + "RuntimeError: region config incomplete\n  extra detail line\n"
    )
    out = trim_traceback(tb, 3)
    assert "KeyError: 'region_2'" in out and "RuntimeError: region config incomplete" in out
    assert "During handling of the above exception" in out
    assert "g5" in out and "g3" in out and "g2" not in out and "~~~" not in out
    assert "f9" in out and "f8" not in out  # one frame of the earlier section
    only = trim_traceback(tb, 0)
    assert 'File "' not in only and "RuntimeError" in only and "KeyError" in only


def test_show_prompt_on_a_big_run_respects_ai_budget(big_run: Path) -> None:
    p = run_cli("diagnose", str(big_run), "--show-prompt", "--ai-budget", "2000")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert estimate_tokens(doc["messages"]) <= 2000
    assert "nothing was sent" in p.stderr


def test_assistant_llm_never_imports_openai_until_a_request_is_made(mixed_run: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys, assistant, assistant.llm, assistant.llm.cli, assistant.llm.client, assistant.llm.cache\n"
        f"from scalable_tui.session import diagnose_run\nfrom assistant.llm import build_prompt\n"
        f"build_prompt(diagnose_run({str(mixed_run)!r}))\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'openai', 'textual', 'distributed', 'httpx2', 'httpx'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_maps_task_names_are_sent_folded(tmp_path: Path) -> None:
    """Tasks named per scenario: the model is told ``run_gcam[…] ×14``, not three of the 14 names "×1"."""
    src = fixture_run("gcam-stitches")
    run = tmp_path / src.name
    shutil.copytree(src, run)
    lines = [json.loads(x) for x in (run / "tasks.jsonl").read_text().splitlines() if x.strip()]
    order = {tid: i for i, tid in enumerate(dict.fromkeys(ev["task_id"] for ev in lines))}
    (run / "tasks.jsonl").write_text("".join(
        json.dumps(dict(ev, task_name=f"run_gcam[scenario={order[ev['task_id']]:06d}]"), sort_keys=True) + "\n"
        for ev in lines))
    d = diagnose_run(run)
    p = build_prompt(d, config=resolve_config(env={}))
    by_cat = {f["category"]: f for f in p.payload["findings"]}
    assert by_cat["invalid_input"]["tasks"] == ["run_gcam[…] ×14"]


def test_the_model_is_told_unfinished_tasks_as_the_reports_say_them() -> None:
    """A closed or abandoned run's "running": 7 read to the model as work still going on."""
    d = diagnose_run(fixture_run("crashed-partial"))  # abandoned: 7 tasks whose last event is "running"
    assert d.abandoned and d.tasks.get("running") == 7
    body = json.dumps(build_prompt(d, config=resolve_config(env={})).messages)
    assert '\\"never_finished\\": 7' in body or '\\"never_finished\\":7' in body, body[:2000]
    assert '\\"running\\"' not in body

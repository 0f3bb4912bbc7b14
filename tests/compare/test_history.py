"""``scalable-tui history`` over successive runs written by the real Scalable library, and its summary cache."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from scalable_tui.session import summary_cache
from scalable_tui.session.history import PERSISTENT_RUNS, classify, collect
from scalable_tui.session.history_render import sparkline
from tests.conftest import run_cli, tree_fingerprint


def test_classify_statuses() -> None:
    assert PERSISTENT_RUNS == 3
    assert classify([True, True, True]) == "persistent"
    assert classify([False, True, True, True]) == "persistent"
    assert classify([True]) == "new"  # one night is no evidence of persistence
    assert classify([True, True]) == "recurring"
    assert classify([False, False, True]) == "new"
    assert classify([True, False, True]) == "flaky"
    assert classify([True, False, True, False]) == "flaky"
    assert classify([False, True, True]) == "recurring"
    assert classify([True, True, False]) == "resolved"
    assert classify([True, False, False]) == "resolved"


def test_sparkline_scales_to_the_groups_peak() -> None:
    assert sparkline([3, 2, 4]) == "▆▄█"
    assert sparkline([None, 1, None, 8]) == "·▁·█"
    assert sparkline([None, None]) == "··"
    # a run-level finding (abandoned run) is seen with no failure to count: not "not seen"
    assert sparkline([0, None, 0]) == "█·█"


@pytest.mark.slow
def test_history_text_json_markdown(nightly_runs: list[Path], private_cache: Path) -> None:
    root = nightly_runs[0].parent
    before = tree_fingerprint(root)
    env = {"XDG_CACHE_HOME": str(private_cache), "COLUMNS": "300"}
    doc = json.loads(run_cli("history", "--runs-dir", str(root), "--format", "json", env=env).stdout)
    (proj,) = doc["projects"]
    assert proj["project"] == "nightly" and [r["run_id"] for r in proj["runs"]] == [r.name for r in nightly_runs]
    by = {g["title"].split(" ")[0] if "Error" in g["title"].split(" ")[0] else g["title"].split(": ")[1].split(" ")[0]: g
          for g in proj["groups"]}
    n1, n2, n3 = (r.name for r in nightly_runs)
    z = by["ZeroDivisionError"]
    assert (z["status"], z["runs_seen"], z["total"], z["counts"]) == ("persistent", 3, 9, {n1: 3, n2: 2, n3: 4})
    k = by["KeyError"]
    assert (k["status"], k["first_run"], k["last_run"], k["counts"]) == ("flaky", n1, n3, {n1: 2, n3: 1})
    assert (by["ValueError"]["status"], by["ValueError"]["counts"]) == ("new", {n3: 1})
    assert (by["PermissionError"]["status"], by["PermissionError"]["last_run"]) == ("resolved", n1)
    assert (by["FileNotFoundError"]["status"], by["FileNotFoundError"]["counts"]) == ("resolved", {n2: 1})
    assert "persistent" in doc["definitions"] and doc["unreadable"] == []

    text = run_cli("history", "--runs-dir", str(root), env=env).stdout
    assert text.startswith("Project nightly: 3 runs, ")
    assert "5 failure groups: 1 persistent, 1 new, 1 flaky, 2 resolved" in text.splitlines()[0]
    zline = next(ln for ln in text.splitlines() if "ZeroDivisionError" in ln)
    assert zline.split()[:4] == ["persistent", "3/3", "9", "▆▄█"]
    kline = next(ln for ln in text.splitlines() if "KeyError" in ln)
    assert kline.split()[:4] == ["flaky", "2/3", "3", "█·▄"]

    md = run_cli("history", "--runs-dir", str(root), "--format", "markdown", env=env).stdout
    assert md.startswith("# Failure history of ") and "## nightly" in md
    assert "| persistent | 3/3 | 9 | `▆▄█` |" in md and "| flaky | 2/3 | 3 | `█·▄` |" in md
    assert "run\\_gcam" in md  # escaped
    assert tree_fingerprint(root) == before  # nothing written into the runs


@pytest.mark.slow
def test_summaries_are_cached_privately_and_rebuilt_when_a_run_changes(nightly_runs: list[Path], tmp_path: Path,
                                                                      private_cache: Path) -> None:
    root = tmp_path / "runs"
    shutil.copytree(nightly_runs[0].parent, root)
    h = collect(root)
    assert (h.built, h.cached) == (3, 0)
    d = private_cache / "scalable-tui" / "summaries"
    assert stat.S_IMODE(d.stat().st_mode) == 0o700 and stat.S_IMODE(d.parent.stat().st_mode) == 0o700
    files = list(d.glob("*.json"))
    assert len(files) == 3 and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    h = collect(root)
    assert (h.built, h.cached) == (0, 3)
    # A failure appended to the newest run: its key (size/mtime) misses and it is read again.
    newest = sorted(root.iterdir())[-1]
    oldest = sorted(root.iterdir())[0]
    rec = next(r for r in map(json.loads, (oldest / "failures.jsonl").read_text().splitlines())
               if r["failure_class"] == "PermissionError")
    rec.update(run_id=newest.name, task_id="e" * 32)
    with open(newest / "failures.jsonl", "a") as f:
        f.write(json.dumps(rec) + "\n")
    h = collect(root)
    assert (h.built, h.cached) == (1, 2)
    perm = next(g for g in h.projects[0].groups if "PermissionError" in g.title)
    assert perm.status == "flaky" and perm.counts.get(newest.name) == 1
    # A damaged cache entry is rebuilt, never trusted.
    for f in d.glob("*.json"):
        f.write_bytes(b'{"key": ')
    h = collect(root)
    assert (h.built, h.cached) == (3, 0)
    # A summary made under another signature version is not used.
    key = summary_cache.run_key(newest)
    assert key["signature_version"] >= 1 and key["path"] == os.path.realpath(newest)


@pytest.mark.slow
def test_project_and_since_filters(nightly_runs: list[Path], tmp_path: Path, private_cache: Path) -> None:
    root = tmp_path / "runs"
    shutil.copytree(nightly_runs[0].parent, root)
    old = root / "run-20200101T000000Z-legacy-0000aaaa"
    shutil.copytree(nightly_runs[0], old)
    meta = json.loads((old / "run.json").read_text())
    meta.update(project_name="legacy", started_at="2020-01-01T00:00:00Z", run_id=old.name)
    (old / "run.json").write_text(json.dumps(meta))
    h = collect(root)
    assert [p.project for p in h.projects] == ["legacy", "nightly"]
    h = collect(root, project="nightly")
    assert [p.project for p in h.projects] == ["nightly"] and len(h.projects[0].runs) == 3
    h = collect(root, since_s=14 * 86400)
    assert [p.project for p in h.projects] == ["nightly"]
    assert (h.built + h.cached) == 3  # the 2020 run is skipped by its name, not even read
    p = run_cli("history", "--runs-dir", str(root), "--project", "nope", env={"XDG_CACHE_HOME": str(private_cache)})
    assert p.returncode == 0 and p.stdout.startswith(f"No runs (project nope) in {root}")
    p = run_cli("history", "--runs-dir", str(tmp_path / "missing"), env={"XDG_CACHE_HOME": str(private_cache)})
    assert p.returncode == 2 and "does not exist" in p.stderr


def test_hostile_names_are_shown_literally(tmp_path: Path, private_cache: Path) -> None:
    """A hand-made copy of a real run whose project and task names carry terminal escapes and Markdown
    (run.json and tasks.jsonl are whatever the workflow named things)."""
    from tests.conftest import fixture_run

    root = tmp_path / "runs"
    run = root / fixture_run("corrupt-lines").name
    shutil.copytree(fixture_run("corrupt-lines"), run)
    for p in run.rglob("*"):
        p.chmod(0o644 if p.is_file() else 0o755)
    evil = "evil\x1b[2J\x1b]0;pwned\x07 **b** [x](http://e.invalid)"
    meta = json.loads((run / "run.json").read_text())
    meta["project_name"] = evil
    (run / "run.json").write_text(json.dumps(meta))
    tasks = (run / "tasks.jsonl").read_bytes().replace(b'"run_gcam"', json.dumps("run_gcam" + evil).encode())
    (run / "tasks.jsonl").write_bytes(tasks)
    env = {"XDG_CACHE_HOME": str(private_cache)}
    outs = {fmt: run_cli("history", "--runs-dir", str(root), "--format", fmt, env=env) for fmt in ("text", "markdown", "json")}
    for fmt, p in outs.items():
        assert p.returncode == 0, p.stderr
        assert "\x1b" not in p.stdout and "\x07" not in p.stdout, fmt
    assert "evil" in outs["text"].stdout and "pwned" in outs["text"].stdout  # shown, not interpreted
    assert "](http" not in outs["markdown"].stdout and "**b**" not in outs["markdown"].stdout
    assert json.loads(outs["json"].stdout)["projects"][0]["project"].startswith("evil")


@pytest.mark.slow
def test_empty_runs_dir_points_at_runs_one_level_down(nightly_runs: list[Path], private_cache: Path) -> None:
    project_dir = nightly_runs[0].parent.parent.parent  # <work>/.scalable/runs/run-… -> <work>
    p = run_cli("history", "--runs-dir", str(project_dir), env={"XDG_CACHE_HOME": str(private_cache)})
    assert p.returncode == 0 and f"found 3 runs in {project_dir / '.scalable' / 'runs'}" in p.stdout


def test_an_unwritable_cache_only_costs_speed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import fixture_run

    root = tmp_path / "runs"
    shutil.copytree(fixture_run("mixed-failures"), root / fixture_run("mixed-failures").name)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory would go")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    h = collect(root)
    assert (h.built, h.cached, h.unreadable) == (1, 0, [])
    assert sum(sum(g.counts.values()) for g in h.projects[0].groups) == 21


def test_a_lone_run_has_new_groups_not_persistent_ones(nightly_runs: list[Path], tmp_path: Path,
                                                        private_cache: Path) -> None:
    """One night is no evidence of persistence: the first run's groups are new, and the legend keeps the rule."""
    runs = tmp_path / "runs"
    runs.mkdir()
    shutil.copytree(nightly_runs[0], runs / nightly_runs[0].name)
    p = run_cli("history", "--runs-dir", str(runs), env={"XDG_CACHE_HOME": str(private_cache)})
    assert p.returncode == 0, p.stderr
    rows = [ln.split()[0] for ln in p.stdout.splitlines() if ln.startswith("  ") and "1/1" in ln]
    assert rows and set(rows) == {"new"}, p.stdout
    assert f"persistent = in each of the last {PERSISTENT_RUNS} runs" in p.stdout


def test_a_run_level_finding_is_shown_as_seen_in_its_run(tmp_path: Path, private_cache: Path) -> None:
    """The abandoned-run finding (count 0: no failure records) showed "·" (= not seen) in the one run it came from."""
    from tests.conftest import fixture_run

    src = fixture_run("running-live")  # status "running", its last event days old: abandoned
    shutil.copytree(src, tmp_path / "runs" / src.name)
    r = run_cli("history", "--runs-dir", str(tmp_path / "runs"),
                env={"XDG_CACHE_HOME": str(private_cache), "COLUMNS": "300"})
    assert r.returncode == 0, r.stderr
    line = next(x for x in r.stdout.splitlines() if "(run_abandoned" in x)
    assert line.split()[:4] == ["new", "1/1", "0", "█"], line


def test_a_copy_of_a_run_is_counted_once_and_said(nightly_runs: list[Path], tmp_path: Path,
                                                   private_cache: Path) -> None:
    """Two directories holding one run (a copy, same run id) merged into one column with doubled counts."""
    root = tmp_path / "runs"
    root.mkdir()
    for r in nightly_runs:
        shutil.copytree(r, root / r.name)
    n3 = nightly_runs[-1]
    shutil.copytree(n3, root / (n3.name[:-8] + "copy0001"))
    h = collect(root)
    (p,) = h.projects
    assert [s["run_id"] for s in p.runs] == [r.name for r in nightly_runs]
    zero = next(g for g in p.groups if "ZeroDivisionError" in g.title)
    assert zero.counts[n3.name] == 4  # not 8
    ((copy, first),) = h.copies  # which of the two is read first is the listing's order
    assert {copy, first} == {str(root / (n3.name[:-8] + "copy0001")), str(root / n3.name)}
    out = run_cli("history", "--runs-dir", str(root), env={"XDG_CACHE_HOME": str(private_cache)})
    assert out.returncode == 0, out.stderr
    assert f"note: {copy} holds the same run as {first}: counted once" in out.stdout


def test_a_groups_title_across_runs_names_no_task_that_only_one_run_had() -> None:
    """The newest run's title named sim_step[scenario=003] for failures in scenarios 003 to 005 over the nights."""
    from scalable_tui.session.history import across_runs_title

    assert across_runs_title(["FileNotFoundError in sim_step[scenario=005]",
                              "FileNotFoundError in sim_step[scenario=003]"]) == "FileNotFoundError in sim_step[…]"
    assert across_runs_title(["KeyError in run_gcam", "KeyError in run_hector"]) == "KeyError in several tasks"
    assert across_runs_title(["KeyError in run_gcam", "KeyError in run_gcam"]) == "KeyError in run_gcam"
    # another wording of the head (an older scalable-tui): the newest, as before
    assert across_runs_title(["Errors in task code: KeyError", "KeyError in run_gcam"]) == "KeyError in run_gcam"

"""``diagnose --compare``: trends and resolved groups on successive runs written by the real Scalable library."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from assistant.compare import EarlierRun, compare, comparison_line
from assistant.signature import SIGNATURE_VERSION
from scalable_tui.session import diagnose_run
from scalable_tui.session.compare import CompareError, compare_with, previous_run
from tests.conftest import run_cli, tree_fingerprint

pytestmark = pytest.mark.slow  # real ScalableSessions write the runs


def _by_type(doc: dict) -> dict[str, dict]:
    return {f["exception_types"][0]: f for f in doc["findings"]}


def _cli_json(run: Path, *extra: str, cache: Path) -> dict:
    p = run_cli("diagnose", str(run), "--no-ai", "--format", "json", *extra, env={"XDG_CACHE_HOME": str(cache)})
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_every_trend_and_resolved_against_previous(nightly_runs: list[Path], private_cache: Path) -> None:
    n1, n2, n3 = nightly_runs
    before = {r.name: tree_fingerprint(r) for r in nightly_runs}
    doc = _cli_json(n3, "--compare", "previous", cache=private_cache)
    f = _by_type(doc)
    assert f["ZeroDivisionError"]["trend"] == "recurring" and f["ZeroDivisionError"]["previous_count"] == 2
    assert f["ZeroDivisionError"]["count"] == 4
    # KeyError: in night 1, gone in night 2, back in night 3.
    assert f["KeyError"]["trend"] == "regressed" and f["KeyError"]["previous_count"] == 0
    assert f["KeyError"]["last_seen_run"] == n1.name
    assert f["ValueError"]["trend"] == "new" and f["ValueError"]["previous_count"] == 0
    assert [(r["exception_types"], r["count"]) for r in doc["resolved"]] == [(["FileNotFoundError"], 1)]
    c = doc["comparison"]
    assert (c["previous_run_id"], c["new"], c["regressed"], c["recurring"], c["resolved"], c["history_runs"]) == (
        n2.name, 1, 1, 1, 1, 1)
    assert c["mismatch"] is None
    # The tool never writes into a run directory; its summaries go to the private cache only.
    assert {r.name: tree_fingerprint(r) for r in nightly_runs} == before
    assert list((private_cache / "scalable-tui" / "summaries").glob("*.json"))


def test_second_night_against_the_first_by_path(nightly_runs: list[Path], private_cache: Path) -> None:
    n1, n2, _ = nightly_runs
    doc = _cli_json(n2, "--compare", str(n1), cache=private_cache)
    f = _by_type(doc)
    assert (f["ZeroDivisionError"]["trend"], f["ZeroDivisionError"]["previous_count"]) == ("recurring", 3)
    assert f["FileNotFoundError"]["trend"] == "new"
    assert sorted(r["exception_types"][0] for r in doc["resolved"]) == ["KeyError", "PermissionError"]
    assert doc["comparison"]["history_runs"] == 0  # nothing before night 1: nothing can be regressed


def test_an_older_prev_named_explicitly_still_sees_the_runs_between(nightly_runs: list[Path], tmp_path: Path,
                                                                    private_cache: Path) -> None:
    """A group absent from PREV but seen in a run between PREV and this one is back, not new."""
    n1, n2, _ = nightly_runs
    root = tmp_path / "runs"
    root.mkdir()
    for r in (n1, n2):
        shutil.copytree(r, root / r.name)
    # A later night that fails like night 2: FileNotFoundError was not in night 1 but was in night 2.
    later = root / "run-29991231T000000Z-nightly-0000abcd"
    shutil.copytree(n2, later)
    doc = _cli_json(later, "--compare", str(root / n1.name), cache=private_cache)
    f = _by_type(doc)
    assert (f["FileNotFoundError"]["trend"], f["FileNotFoundError"]["last_seen_run"]) == ("regressed", n2.name)
    assert (f["ZeroDivisionError"]["trend"], f["ZeroDivisionError"]["previous_count"]) == ("recurring", 3)
    c = doc["comparison"]
    assert (c["previous_run_id"], c["new"], c["regressed"], c["recurring"], c["history_runs"]) == (n1.name, 0, 1, 1, 1)


def test_without_history_a_comeback_is_new_but_with_history_regressed(nightly_runs: list[Path]) -> None:
    n1, n2, n3 = nightly_runs
    cur, prev = diagnose_run(n3), diagnose_run(n2)
    key = next(f for f in cur.findings if f.exception_types == ["KeyError"])
    alone = compare(cur, prev)
    assert next(f for f in alone.findings if f.id == key.id).trend == "new"
    old = diagnose_run(n1)
    hist = [EarlierRun(old.run_id, old.signature_version, {f.signature: f.count for f in old.findings})]
    withh = compare(cur, prev, hist)
    assert next(f for f in withh.findings if f.id == key.id).trend == "regressed"
    # An earlier run made with another signature version cannot vouch for "seen before".
    other = [EarlierRun(old.run_id, SIGNATURE_VERSION + 1, hist[0].counts)]
    assert next(f for f in compare(cur, prev, other).findings if f.id == key.id).trend == "new"


def test_text_and_markdown_say_it_in_one_line_at_the_top(nightly_runs: list[Path], private_cache: Path) -> None:
    n2, n3 = nightly_runs[1], nightly_runs[2]
    env = {"XDG_CACHE_HOME": str(private_cache), "COLUMNS": "400"}
    text = run_cli("diagnose", str(n3), "--no-ai", "--compare", "previous", env=env).stdout
    line = f"1 new group since {n2.name}, 1 regressed, 1 recurring, 1 resolved"
    assert text.splitlines()[3] == line, text[:600]
    assert "✓ resolved: Missing input file or directory: FileNotFoundError in run_gcam (missing_file)" in text
    assert "[regressed (last seen in" in text and "[new]" in text and "[recurring (2 before)]" in text
    md = run_cli("diagnose", str(n3), "--no-ai", "--compare", "previous", "--format", "markdown", env=env).stdout
    lines = md.splitlines()
    assert lines[0].startswith("# Diagnosis of") and lines[2] == f"**{line}**"
    assert "**Trend:** regressed" in md and "**Trend:** new" in md and "**Trend:** recurring \\(2 before\\)" in md


def test_previous_resolution_picks_the_last_earlier_run_of_the_same_project(nightly_runs: list[Path],
                                                                           tmp_path: Path) -> None:
    n1, n2, n3 = nightly_runs
    assert previous_run(n3) == n2 and previous_run(n2) == n1
    with pytest.raises(CompareError, match="no earlier run of project 'nightly'"):
        previous_run(n1)
    # A run of another project that sorts between them is skipped.
    runs = tmp_path / "runs"
    shutil.copytree(n2.parent, runs)
    other = runs / (n3.name[:20] + "-aaa-00000000")
    other.mkdir()
    meta = json.loads((n2 / "run.json").read_text())
    meta["project_name"] = "aaa"
    (other / "run.json").write_text(json.dumps(meta))
    assert other.name < (runs / n3.name).name
    assert previous_run(runs / n3.name) == runs / n2.name
    # --runs-dir is used when the run's own directory holds no other runs.
    alone = tmp_path / "alone" / n3.name
    shutil.copytree(n3, alone)
    assert previous_run(alone, runs) == runs / n2.name


def test_signature_version_mismatch_is_said_not_guessed(nightly_runs: list[Path], tmp_path: Path,
                                                        private_cache: Path) -> None:
    """A diagnosis saved by an older scalable-tui (hand-made: the real library cannot make one)."""
    n2, n3 = nightly_runs[1], nightly_runs[2]
    env = {"XDG_CACHE_HOME": str(private_cache)}
    saved = json.loads(run_cli("diagnose", str(n2), "--no-ai", "--format", "json", env=env).stdout)
    same = tmp_path / "night2.json"
    same.write_text(json.dumps(saved))
    doc = _cli_json(n3, "--compare", str(same), cache=private_cache)
    assert doc["comparison"]["mismatch"] is None and _by_type(doc)["ZeroDivisionError"]["trend"] == "recurring"
    assert doc["comparison"]["history_runs"] == 1  # the saved run_dir leads to its runs directory

    saved["signature_version"] = SIGNATURE_VERSION - 1
    old = tmp_path / "old.json"
    old.write_text(json.dumps(saved))
    doc = _cli_json(n3, "--compare", str(old), cache=private_cache)
    assert doc["comparison"]["mismatch"].startswith(f"not compared with {n2.name}: its failure groups were made "
                                                    f"with signature version {SIGNATURE_VERSION - 1}")
    assert all(f["trend"] is None for f in doc["findings"]) and doc["resolved"] == []
    text = run_cli("diagnose", str(n3), "--no-ai", "--compare", str(old), env=env).stdout
    assert "not compared with" in text and "[new]" not in text


def test_bad_prev_is_one_clear_line(nightly_runs: list[Path], tmp_path: Path, private_cache: Path) -> None:
    n1, _, n3 = nightly_runs
    env = {"XDG_CACHE_HOME": str(private_cache)}
    p = run_cli("diagnose", str(n1), "--no-ai", "--compare", "previous", env=env)
    assert p.returncode == 2 and "no earlier run of project 'nightly'" in p.stderr and not p.stdout
    p = run_cli("diagnose", str(n3), "--no-ai", "--compare", str(tmp_path / "nope"), env=env)
    assert p.returncode == 2 and "does not exist" in p.stderr
    junk = tmp_path / "junk.json"
    junk.write_text('{"hello": 1}')
    p = run_cli("diagnose", str(n3), "--no-ai", "--compare", str(junk), env=env)
    assert p.returncode == 2 and "is JSON but not a diagnosis" in p.stderr
    p = run_cli("diagnose", str(n3), "--no-ai", "--compare", str(n3), env=env)
    assert p.returncode == 2 and "is the run being diagnosed" in p.stderr


def test_compare_with_a_recording(tmp_path: Path) -> None:
    """PREV may be a recording (written by the recorder's own writer): the same failures recur."""
    from scalable_tui.session import diagnose_recording
    from scalable_tui.sources.recording.reader import Recording
    from tests.replay.conftest import write_recording

    rec = write_recording(tmp_path / "night.rec")
    with Recording(rec.path) as r:
        _, cur = diagnose_recording(r, slurm="off")
    out = compare_with(cur, str(rec.path), current_run_dir=None)
    assert out.findings and all(f.trend == "recurring" and f.previous_count == f.count for f in out.findings)
    assert out.resolved == [] and comparison_line(out).startswith("0 new groups since ")
    with pytest.raises(CompareError, match="needs a run directory"):
        compare_with(cur, "previous", current_run_dir=None)


def test_latest_against_previous_and_a_run_id(nightly_runs: list[Path], private_cache: Path) -> None:
    """The README's morning command (``--latest --compare previous``) and PREV given as a unique start of a run id."""
    n1, n2, n3 = nightly_runs
    root = n3.parent
    doc = _cli_json(n3, "--compare", n2.name.removeprefix("run-")[:22], cache=private_cache)
    assert doc["comparison"]["previous_run_id"] == n2.name
    p = run_cli("diagnose", "--latest", "--no-ai", "--compare", "previous", "--format", "json",
                env={"XDG_CACHE_HOME": str(private_cache)}, cwd=root.parent.parent)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert (doc["run_id"], doc["comparison"]["previous_run_id"]) == (n3.name, n2.name)
    p = run_cli("diagnose", str(n3), "--no-ai", "--compare", "run-1999", env={"XDG_CACHE_HOME": str(private_cache)})
    assert p.returncode == 2 and "not found in" in p.stderr


def test_comparing_with_another_projects_run_is_said(nightly_runs: list[Path], tmp_path: Path,
                                                     private_cache: Path) -> None:
    n1, n2, _ = nightly_runs
    other = tmp_path / n1.name
    shutil.copytree(n1, other)
    meta = json.loads((other / "run.json").read_text())
    meta["project_name"] = "someone-else"
    (other / "run.json").write_text(json.dumps(meta))
    p = run_cli("diagnose", str(n2), "--no-ai", "--compare", str(other), env={"XDG_CACHE_HOME": str(private_cache)})
    assert p.returncode == 0, p.stderr
    assert "compared with a run of another project ('someone-else'; this run is of 'nightly')" in p.stderr
    same = run_cli("diagnose", str(n2), "--no-ai", "--compare", str(n1), env={"XDG_CACHE_HOME": str(private_cache)})
    assert "another project" not in same.stderr

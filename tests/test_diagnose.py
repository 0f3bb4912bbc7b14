"""Findings: grouped, complete, ordered, with context-aware suggestions."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from scalable_tui.session import diagnose_run
from assistant.diagnose import diagnose_state
from scalable_tui.model.diagnosis import SEVERITY_RANK
from scalable_tui.sources.rundir.reader import load_run


def test_gcam_run_groups_into_one_finding_per_bug(gcam_run: Path) -> None:
    d = diagnose_run(gcam_run)
    by_cat = {f.category: f for f in d.findings}
    assert d.failures_total == 41 and d.method == "heuristic"
    assert {c: f.count for c, f in by_cat.items()} == {
        "invalid_input": 14,  # KeyError 'region_N'
        "user_code": 11,  # ZeroDivisionError
        "permission": 6,
        "disk_full": 5,
        "gpu_oom": 5,
    }
    assert by_cat["invalid_input"].pattern == "'region_<n>'"
    assert by_cat["permission"].pattern == "[Errno 13] Permission denied: '/project/shared/gcam/outputs/run_<n>.db'"
    assert "/project/shared/gcam/outputs" in by_cat["permission"].suggestion
    assert by_cat["disk_full"].severity == "critical"
    assert by_cat["gpu_oom"].transient is False
    assert by_cat["invalid_input"].task_names == {"run_gcam": 14}
    assert by_cat["invalid_input"].resources["requested_memory"] == "2G"
    assert by_cat["invalid_input"].first_seen <= by_cat["invalid_input"].last_seen
    assert by_cat["invalid_input"].evidence[0].source.startswith("failures.jsonl:")


def test_every_failure_is_in_exactly_one_finding(gcam_run: Path) -> None:
    state = load_run(gcam_run)
    d = diagnose_state(state)
    seen = [i for f in d.findings for i in f.failure_indices]
    assert sorted(seen) == list(range(len(state.failures)))
    assert sum(f.count for f in d.findings) == d.failures_total


def test_findings_are_ordered_by_severity_then_count(gcam_run: Path) -> None:
    d = diagnose_run(gcam_run)
    keys = [(SEVERITY_RANK[f.severity], f.count > 0, -f.count) for f in d.findings]
    assert keys == sorted(keys)


def test_thousands_of_identical_failures_are_one_finding(run_copy) -> None:
    run = run_copy("gcam-stitches")
    rec = json.loads((run / "failures.jsonl").read_text().splitlines()[0])
    (run / "tasks.jsonl").write_text("")  # else failed tasks without a record count as failures too
    with (run / "failures.jsonl").open("w") as f:
        for i in range(5000):
            f.write(json.dumps(dict(rec, message=f"'region_{i}'", task_id=f"{i:032x}")) + "\n")
    d = diagnose_run(run)
    assert [(f.category, f.count) for f in d.findings] == [("invalid_input", 5000)]
    assert len(d.findings[0].task_ids) == 50 and d.findings[0].task_ids_more == 4950


def test_memory_suggestion_uses_the_runs_requested_memory(run_copy) -> None:
    run = run_copy("gcam-stitches")
    rec = json.loads((run / "failures.jsonl").read_text().splitlines()[0])
    rec.update(failure_class="MemoryError", message="Unable to allocate 3.2 GiB for an array")
    (run / "failures.jsonl").write_text(json.dumps(rec) + "\n")
    keep = [ln for ln in (run / "tasks.jsonl").read_text().splitlines(keepends=True) if '"failed"' not in ln]
    (run / "tasks.jsonl").write_text("".join(keep))
    d = diagnose_run(run)
    assert d.findings[0].category == "oom"
    assert "requested memory: 2G" in d.findings[0].suggestion and "4G" in d.findings[0].suggestion


def test_abandoned_run_is_reported_with_unfinished_tasks(run_copy) -> None:
    run = run_copy("gcam-stitches")
    meta = json.loads((run / "run.json").read_text())
    meta.update(status="running", finished_at=None)
    (run / "run.json").write_text(json.dumps(meta))
    (run / "summary.json").unlink()
    lines = (run / "tasks.jsonl").read_text().splitlines(keepends=True)
    (run / "tasks.jsonl").write_text("".join(lines[:200]))
    state = load_run(run)
    last = state.last_event_ts
    fresh = diagnose_state(state, now=last + 60)
    assert not fresh.abandoned and all(f.category != "run_abandoned" for f in fresh.findings)
    old = diagnose_state(state, now=last + 5 * 3600)
    assert old.abandoned
    top = old.findings[0]
    assert top.category == "run_abandoned" and top.count == 0
    assert old.unfinished == state.tasks.unfinished() > 0
    assert f"{old.unfinished} task(s) never finished" in top.suggestion
    assert "5h 00m" in top.title
    # an explicit threshold wins
    assert diagnose_state(state, stale_after_s=30, now=last + 60).abandoned


def test_session_start_failure_is_cluster_startup(tmp_path: Path) -> None:
    run = tmp_path / "run-20261124T010203Z-x-deadbeef"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"run_id": run.name, "status": "failed", "schema_version": 1}))
    (run / "failures.jsonl").write_text(
        json.dumps(
            {
                "details": {"phase": "session.start"},
                "event_type": "failure",
                "failure_class": "ValueError",
                "message": "Unknown provider 'slurmm'",
                "task_id": None,
                "timestamp": "2026-11-24T01:02:03Z",
            }
        )
        + "\n"
    )
    d = diagnose_run(run)
    assert [(f.category, f.severity, f.phase) for f in d.findings] == [("cluster_startup", "critical", "session.start")]
    assert "(session.start)" in d.findings[0].title


def test_dask_keys_in_the_worker_field_are_not_shown_as_workers(gcam_run: Path) -> None:
    # Scalable 2.0.0b6 writes the future's key ("run_gcam-<32 hex>") into `worker`.
    state = load_run(gcam_run)
    d = diagnose_state(state)
    assert all(f.workers == [] for f in d.findings)
    assert all(f.dask_key and f.dask_key.startswith("run_gcam-") for f in state.failures)


def test_a_title_names_the_map_not_one_of_its_tasks(run_copy) -> None:
    """Tasks named one per scenario (``run_gcam[scenario=7]``): the title says ``run_gcam[…]``; it named the one
    scenario that sorted first, as if 14 failures were that task's."""
    run = run_copy("gcam-stitches")
    assert {f.title for f in diagnose_run(run).findings} >= {"KeyError in run_gcam"}  # one name: as it is
    lines = [json.loads(x) for x in (run / "tasks.jsonl").read_text().splitlines() if x.strip()]
    order = {tid: i for i, tid in enumerate(dict.fromkeys(ev["task_id"] for ev in lines))}
    with (run / "tasks.jsonl").open("w") as f:
        for ev in lines:
            f.write(json.dumps(dict(ev, task_name=f"run_gcam[scenario={order[ev['task_id']]:06d}]"), sort_keys=True)
                    + "\n")
    d = diagnose_run(run)
    by_cat = {f.category: f for f in d.findings}
    assert by_cat["invalid_input"].title == "KeyError in run_gcam[…]"
    assert by_cat["disk_full"].title == "Disk full or quota exceeded: OSError in run_gcam[…]"
    assert len(by_cat["invalid_input"].task_names) == 14  # the names themselves are kept as they are
    from assistant.render import render_markdown, render_text

    text = render_text(d)
    assert "Tasks:      run_gcam[…] ×14\n" in text  # the whole line: not four of the 14 names "×1"
    assert "`run_gcam[…]` ×14" in render_markdown(d)


def test_task_names_are_shown_as_they_are_until_there_are_too_many() -> None:
    from assistant.task_names import shown_names, title_place

    assert shown_names({"run_gcam": 14, "stitch": 2}, 4) == ([("run_gcam", 14), ("stitch", 2)], 0)
    assert shown_names({"p[0]": 1, "p[1]": 2}, 4) == ([("p[1]", 2), ("p[0]", 1)], 0)  # few: which ones
    many = {f"p[{i}]": 1 for i in range(9)} | {"q": 3, "r[x=1]": 1}
    assert shown_names(many, 2) == ([("p[…]", 9), ("q", 3)], 1)
    assert shown_names({"a": 1, "b": 1, "c": 1}, 2) == ([("a", 1), ("b", 1)], 1)  # nothing to fold: cut
    assert title_place({"run_gcam": 3, "p[0]": 1, "p[1]": 1}, str) == "run_gcam"
    assert title_place({"run_gcam": 2, "p[0]": 1, "p[1]": 1, "p[2]": 1}, str) == "p[…]"
    assert title_place({"p[0]": 1}, str) == "p[0]"


def test_dask_keys_are_told_from_workers_beyond_the_join_memo(gcam_run: Path, monkeypatch) -> None:
    """The join remembers "is this a Dask key" for a bounded number of values; past it, answers stay the same."""
    import assistant.grouping as grouping

    def joined(memo: int) -> list[tuple]:
        monkeypatch.setattr(grouping, "_KEY_MEMO", memo)
        state = load_run(gcam_run)
        keys = {f.task_id: f"run_gcam-{i:032x}" for i, f in enumerate(state.failures)}
        for i, f in enumerate(state.failures):  # half carry a key in `worker`, half a worker address
            f.worker = keys[f.task_id] if i % 2 else f"tcp://127.0.0.1:{40000 + i}"
        grouping.join_failures(state)
        return [(f.worker, f.dask_key) for f in state.failures]

    plain, capped = joined(1_000_000), joined(2)
    assert plain == capped
    n = len(plain)
    assert sum(1 for w, k in plain if w is None and k) == n // 2  # the keys left `worker`
    assert sum(1 for w, _ in plain if w and w.startswith("tcp://127.0.0.1:")) == n - n // 2


def test_the_diagnosis_pauses_the_cyclic_gc_and_restores_it(gcam_run: Path, monkeypatch) -> None:
    """Grouping 100,000 failures makes many tuples and no cycles: generation scans cost 10-15 % (model/bulk.py)."""
    import gc

    import assistant.diagnose as diagnose

    seen: list[bool] = []
    group = diagnose.group_failures
    monkeypatch.setattr(diagnose, "group_failures", lambda s, fs=None: (seen.append(gc.isenabled()), group(s, fs))[1])
    was = gc.isenabled()
    try:
        for enabled in (True, False):
            (gc.enable if enabled else gc.disable)()
            assert diagnose_state(load_run(gcam_run)).failures_total == 41
            assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
    assert seen == [False, False]


_KEYISH = "0123456789abcdef" + "ABCxyz_-.<>:/\n é"


@settings(max_examples=3000, deadline=None)
@given(st.one_of(
    st.text(alphabet=_KEYISH, max_size=60),
    st.builds(lambda a, h, b: a + "-" + h + b, st.text(alphabet=_KEYISH, max_size=12),
              st.text(alphabet="0123456789abcdef", min_size=30, max_size=34), st.sampled_from(["", "\n", "\n\n", "x"])),
    # pure=False keys: name-<uuid4> and name-<uuid4>-<i>, with near misses in every part
    st.builds(lambda a, parts, i, b: a + "-" + "-".join(parts) + i + b, st.text(alphabet=_KEYISH, max_size=12),
              st.tuples(*(st.text(alphabet="0123456789abcdefg", min_size=n - 1, max_size=n + 1)
                          for n in (8, 4, 4, 4, 12))),
              st.sampled_from(["", "-0", "-17", "-", "-x", "-٣"]), st.sampled_from(["", "\n", "\n\n", "x"]))))
def test_dask_key_test_is_the_regex(value: str) -> None:
    """``looks_like_dask_key`` is ``_DASK_KEY.match`` cut at the only place it can split."""
    from scalable_tui.model.run import _DASK_KEY, looks_like_dask_key

    assert looks_like_dask_key(value) == bool(_DASK_KEY.match(value))


def test_the_keys_distributed_makes_are_keys_and_worker_addresses_are_not() -> None:
    """An audit found ``submit(pure=False)`` keys (``name-<uuid4>``) listed as workers."""
    import uuid

    from scalable_tui.model.run import looks_like_dask_key

    u = uuid.uuid4()
    for key in (f"run_model-{u.hex}", f"run_model-{u}", f"run_model-{u}-0", f"run_model-{u}-117",
                f"Class.method-{u}"):
        assert looks_like_dask_key(key), key
    for worker in ("tcp://127.0.0.1:40001", "tls://node17.cluster:8786", "SLURMCluster-3-1", "worker-7",
                   f"run_model-{str(u)[:-1]}", f"run_model-{str(u).upper()}"):
        assert not looks_like_dask_key(worker), worker


def test_the_reports_and_the_findings_screen_list_the_same_task_names(gcam_run: Path) -> None:
    """Seven distinct names: the text and Markdown reports listed 4 and 10 (folded in one, not the other), the
    screen 5 in a third format; all three now say the same names with the same counts."""
    from assistant.render import render_markdown, render_text
    from assistant.task_names import NAMES_SHOWN
    from scalable_tui.tui.screens.findings import finding_detail

    d = diagnose_run(gcam_run)
    f = next(x for x in d.findings if x.category == "invalid_input")
    f.task_names = {f"step_{i}": 2 for i in range(NAMES_SHOWN + 2)}
    d.findings = [f]
    text_line = next(x.strip() for x in render_text(d, width=400).splitlines() if x.strip().startswith("Tasks:  "))
    md_line = next(x for x in render_markdown(d).splitlines() if x.startswith("- **Tasks:** `"))
    screen_line = next(x for x in finding_detail(f).plain.splitlines() if x.startswith("tasks "))

    def names(line: str) -> list[str]:
        return re.findall(r"step_\d+`? ×2", line.replace("`", ""))

    assert names(text_line) == names(md_line) == names(screen_line) == [f"step_{i} ×2" for i in range(NAMES_SHOWN)], (
        text_line, md_line, screen_line)
    assert all(line.endswith("… 2 more names") for line in (text_line, md_line, screen_line))


def test_a_title_names_a_task_only_when_it_has_most_of_the_failures() -> None:
    """Four tasks with 6250 failures each were titled "KeyError in run_gcam", blaming one for the others' 18,750."""
    from assistant.task_names import title_place

    def show(s: str) -> str:
        return s

    assert title_place({"run_gcam": 6250, "run_demeter": 6250, "stitch": 6250, "xanthos": 6250}, show) == (
        "run_demeter, run_gcam and 2 more")
    assert title_place({"a": 2, "b": 2}, show) == "a and b"
    assert title_place({"a": 3, "b": 2}, show) == "a"  # most of them
    assert title_place({"p[0]": 1, "p[1]": 1, "q": 1}, show) == "p[…]"  # the map's folded name has most
    assert title_place({"a": 5}, show) == "a"


def test_the_benchmark_titles_do_not_blame_one_of_four_tasks(tmp_path: Path) -> None:
    from tests.conftest import diagnose_bench_run

    d = diagnose_run(diagnose_bench_run(tmp_path, 400))
    assert len(d.findings) == 4
    assert all(f.title.endswith("in run_demeter, run_gcam and 2 more") for f in d.findings), [f.title for f in d.findings]


def test_the_text_and_markdown_reports_say_the_requests_alike(gcam_run: Path) -> None:
    """Markdown said ``requested_memory=2G, requested_cpus=1`` where the text said ``memory=2G, cpus=1``."""
    from assistant.render import render_markdown, render_text

    d = diagnose_run(gcam_run)
    text = [x.strip().removeprefix("Requested:").strip() for x in render_text(d, width=400).splitlines()
            if x.strip().startswith("Requested:")]
    md = [x.removeprefix("- **Requested:** ") for x in render_markdown(d).splitlines() if x.startswith("- **Requested:**")]
    assert text and text == md and all("requested_" not in x for x in md)
    assert text[0] == "memory=2G, cpus=1, provider=local"


def test_the_reports_tell_apart_findings_with_the_same_title() -> None:
    """Two ``ValueError in parse_region_config`` rows in the Markdown table (and two such headings in the text)
    hid two causes; the screens already said what differs. The reports now say it too, by the same rule."""
    from assistant.render import render_markdown, render_text
    from tests.conftest import fixture_run

    d = diagnose_run(fixture_run("tutorial-tracebacks"))
    twins = [f for f in d.findings if f.title == "ValueError in parse_region_config"]
    assert len(twins) == 2
    rows = [x for x in render_markdown(d).splitlines() if x.startswith("| ") and "ValueError" in x]
    heads = [x for x in render_text(d, width=400).splitlines() if "] ValueError in parse_region_config" in x]
    assert len(rows) == len(heads) == 2 and len(set(rows)) == 2 and len(set(heads)) == 2
    assert any("calibration step produced a zero denominator" in x for x in rows)
    assert any("calibration step produced a zero denominator" in x for x in heads)
    assert "\x1b" not in render_text(d) and "\x1b" not in render_markdown(d)  # the pattern is shown literally


def test_a_groups_requests_are_all_said_when_its_failures_asked_differently(tmp_path: Path) -> None:
    """The first failure's request alone said memory=2G for a group whose failures were mostly at 8G."""
    import json
    import shutil

    from tests.conftest import fixture_run

    run = tmp_path / "run"
    shutil.copytree(fixture_run("gcam-stitches"), run)
    key_tasks = [json.loads(x)["task_id"] for x in (run / "failures.jsonl").read_text().splitlines()
                 if json.loads(x)["failure_class"] == "KeyError"]
    assert len(key_tasks) == 14
    moved = set(key_tasks[5:])  # 9 of the 14 asked for 8G in another component
    out = []
    for line in (run / "resources.jsonl").read_text().splitlines():
        r = json.loads(line)
        if r["entity_id"] in moved:
            r.update(requested_memory="8G", component="hector")
        out.append(json.dumps(r))
    (run / "resources.jsonl").write_text("\n".join(out) + "\n")
    d = diagnose_run(run)
    f = next(x for x in d.findings if x.exception_types == ["KeyError"])
    assert f.resources["requested_memory"] == "8G ×9, 2G ×5"
    assert f.resources["requested_cpus"] == 1 and f.resources["provider"] == "local"  # agreed: the plain value
    from assistant.render import render_text

    assert "Requested:  memory=8G ×9, 2G ×5, cpus=1, provider=local" in render_text(d, width=400)
    other = next(x for x in d.findings if x.exception_types == ["ZeroDivisionError"])
    assert other.resources["requested_memory"] == "2G"


def test_a_report_of_thousands_of_groups_shows_the_first_ones_and_says_how_many_more(gcam_run: Path) -> None:
    """20,000 distinct exception types took 135 s to lay out as text; the reports now stop at FINDINGS_SHOWN."""
    from assistant.render import FINDINGS_SHOWN, render_markdown, render_text

    d = diagnose_run(gcam_run)
    f = next(x for x in d.findings if x.count)
    many = [f.model_copy(update={"id": f"g{i}", "signature": f"g{i}", "title": f"E{i} in run_gcam", "count": 2})
            for i in range(FINDINGS_SHOWN + 50)]
    d = d.model_copy(update={"findings": many, "failures_total": 2 * len(many)})
    text = render_text(d, width=200)
    assert f"{FINDINGS_SHOWN}. [" in text and f"{FINDINGS_SHOWN + 1}. [" not in text
    assert "… 50 more groups (100 failures) not shown in full: diagnose --format json lists every group" in text
    md = render_markdown(d)
    assert f"## {FINDINGS_SHOWN}. " in md and f"## {FINDINGS_SHOWN + 1}. " not in md
    assert "50 more groups (100 failures)" in md

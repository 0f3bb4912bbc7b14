"""Import rules: the headless core stays headless and --help stays cheap."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HEAVY = ("textual", "distributed", "openai")
#: Also kept out of ``--help`` (each costs 0.05-0.2 s to import), but allowed in the headless core.
CLI_HEAVY = (*HEAVY, "numpy", "duckdb")


def _imported_after(code: str) -> set[str]:
    probe = code + "\nimport sys\nprint(','.join(sorted({m.split('.')[0] for m in sys.modules})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return set(out.strip().splitlines()[-1].split(","))


def test_assistant_imports_without_textual_distributed_openai() -> None:
    mods = _imported_after("import assistant, assistant.diagnose, assistant.render, assistant.rules")
    assert "assistant" in mods
    assert not (mods & set(HEAVY)), mods & set(HEAVY)


def test_diagnosing_a_run_imports_no_ui_or_cluster_code(gcam_run) -> None:
    mods = _imported_after(f"from scalable_tui.session import diagnose_run\ndiagnose_run({str(gcam_run)!r})")
    assert not (mods & set(HEAVY)), mods & set(HEAVY)


def test_assistant_imports_no_source_and_reads_no_run_directory() -> None:
    code = ("import sys, assistant, assistant.diagnose, assistant.render, assistant.hpc, assistant.retry_plan\n"
            "print(sorted(m for m in sys.modules if m.startswith('scalable_tui.sources')))\n"
            "print(hasattr(assistant, 'diagnose_run'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "[]", out[0]
    assert out[1] == "False"  # reading a run directory is scalable_tui.session.diagnose_run's job


def test_the_session_pipeline_is_headless() -> None:
    mods = _imported_after("import scalable_tui.session, scalable_tui.session.pipeline")
    assert "scalable_tui" in mods
    assert not (mods & {"textual", "distributed", "openai"}), mods & {"textual", "distributed", "openai"}


def test_help_imports_none_of_the_heavy_packages() -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "scalable_tui", "--help"], capture_output=True, text=True
    )
    assert proc.returncode == 0
    assert "diagnose" in proc.stdout
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line}
    assert "scalable_tui" in imported
    assert not (imported & set(CLI_HEAVY)), imported & set(CLI_HEAVY)


def test_subcommand_help_is_cheap_too() -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "scalable_tui", "diagnose", "--help"], capture_output=True, text=True
    )
    assert proc.returncode == 0 and "--fail-on" in proc.stdout
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line}
    assert not (imported & set(CLI_HEAVY))


def test_the_diagnosis_reads_no_file(tmp_path) -> None:
    """The assistant works on models only: diagnosing after the run directory is gone gives the same answer.

    Before, ``abandoned_info`` stat'ed run.json and ``incomplete_inputs`` counted a file's lines itself.
    """
    import shutil
    import time as _time

    from assistant.diagnose import diagnose_state
    from scalable_tui.sources.rundir.reader import load_run

    src = next((Path(__file__).resolve().parents[1] / "fixtures" / "runs" / "running-live").glob("run-*"))
    run = tmp_path / src.name
    shutil.copytree(src, run)
    with open(run / "tasks.jsonl", "ab") as fh:
        fh.write(b"\xff\xfe not json\n{broken\n")  # two skipped lines: the report says their share
    state = load_run(run)
    assert state.run_json_mtime is not None and state.lines_read["tasks.jsonl"] > 2
    now = _time.time() + 30 * 86400  # long after: the run looks abandoned
    before = diagnose_state(state, now=now)
    shutil.rmtree(run)
    after = diagnose_state(state, now=now)  # again, with nothing on disk to read
    assert after.abandoned and after.abandoned == before.abandoned and after.idle_s == before.idle_s
    assert after.incomplete == before.incomplete and any("tasks.jsonl" in n and "%" in n for n in after.incomplete)



def test_the_review_app_starts_without_the_live_replay_and_other_screens_code() -> None:
    """``review`` imports the screens it shows when it shows them (~0.1 s of a ~0.4 s start).

    The live session, the replay, the picker, the export dialog and every
    screen but the first are imported on first use (``tui.keys.screen_class``).
    """
    code = ("import sys\nfrom scalable_tui.sources.rundir.reader import RunDirReader\n"
            "from scalable_tui.tui.app import ReviewApp\n"
            "print(','.join(sorted(m for m in sys.modules if m.startswith('scalable_tui'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    mods = set(out.strip().splitlines()[-1].split(","))
    assert "scalable_tui.tui.app" in mods
    late = {"scalable_tui.session.monitor", "scalable_tui.session.replay", "scalable_tui.sources.live",
            "scalable_tui.tui.screens.picker", "scalable_tui.tui.screens.export", "scalable_tui.tui.screens.history",
            "scalable_tui.tui.screens.efficiency", "scalable_tui.tui.screens.live_overview",
            "scalable_tui.tui.screens.replay", "scalable_tui.tui.screens.tasks", "scalable_tui.tui.debug_terminal"}
    assert not (mods & late), mods & late


def test_a_screen_is_imported_when_its_mode_is_first_shown(gcam_run: Path) -> None:
    import asyncio

    from scalable_tui.sources.rundir.reader import RunDirReader
    from scalable_tui.tui.app import ReviewApp
    from scalable_tui.tui.screens.efficiency import EfficiencyScreen

    async def go() -> tuple[str, str]:
        app = ReviewApp(RunDirReader(gcam_run), no_ai=True)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("9")
            await pilot.pause()
            first = type(app.screen).__name__
            await pilot.press("1")
            await pilot.pause()
            return first, type(app.screen).__name__

    first, back = asyncio.run(go())
    assert first == EfficiencyScreen.__name__ and back == "OverviewScreen"

"""The one direction of flow (model <- sources | assistant <- session <- tui <- cli), checked on every test run.

The contracts live in ``pyproject.toml`` (``[tool.importlinter]``); this test runs
``lint-imports`` so that a wrong import fails the README's test command, not only a
separate CI step that a developer may skip.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert exe, "lint-imports (import-linter) is part of the test extras: pip install -e '.[test]'"
    proc = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "broken" not in proc.stdout.split("Contracts:")[-1].split("\n")[0].replace("0 broken", "")


def test_the_contracts_catch_a_wrong_import(tmp_path: Path) -> None:
    """A contract that cannot fail proves nothing: a model module importing a source must break it."""
    import importlinter.api  # noqa: F401  (installed with the test extras)

    cfg = (ROOT / "pyproject.toml").read_text()
    bad = ROOT / "scalable_tui" / "model" / "_layer_probe.py"
    bad.write_text("from scalable_tui.sources.rundir import reader  # noqa: F401\n")
    try:
        exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
        proc = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    finally:
        bad.unlink()
    assert proc.returncode != 0 and "scalable_tui.model._layer_probe" in proc.stdout, proc.stdout[-3000:]
    assert (ROOT / "pyproject.toml").read_text() == cfg

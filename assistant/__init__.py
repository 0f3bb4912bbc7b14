"""The failure-diagnosis assistant: heuristics first, an LLM only when asked.

Headless on purpose: importing ``assistant`` never imports Textual,
distributed or openai (a test enforces it), so the diagnosis runs in cron
jobs, on air-gapped login nodes and inside the TUI alike.
"""

from __future__ import annotations

from pathlib import Path

from assistant.diagnose import diagnose_state
from assistant.models import Diagnosis, Evidence, Finding

__all__ = ["Diagnosis", "Evidence", "Finding", "diagnose_run", "diagnose_state"]


def diagnose_run(
    run_dir: str | Path,
    no_ai: bool = True,
    *,
    stale_after_s: float | None = None,
) -> Diagnosis:
    """Diagnose a Scalable run directory (heuristics; ``no_ai`` is for the LLM step to come)."""
    from scalable_tui.sources.rundir import load_run

    state = load_run(run_dir)
    return diagnose_state(state, stale_after_s=stale_after_s)

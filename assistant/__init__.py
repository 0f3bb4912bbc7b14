"""The failure-diagnosis assistant: heuristics first, an LLM only when asked.

Headless on purpose: importing ``assistant`` never imports Textual,
distributed or openai (a test enforces it), so the diagnosis runs in cron
jobs, on air-gapped login nodes and inside the TUI alike.  Pure functions over
models: reading a run directory is ``scalable_tui.session.diagnose_run``'s job.
"""

from __future__ import annotations

from assistant.diagnose import diagnose_state
from scalable_tui.model.diagnosis import Diagnosis, Evidence, Finding

__all__ = ["Diagnosis", "Evidence", "Finding", "diagnose_state"]

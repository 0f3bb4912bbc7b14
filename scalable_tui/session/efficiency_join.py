"""Large resource waste as diagnosis findings, for the doors that read a run directory.

Kept out of ``diagnose`` itself: that runs on every refresh of the review app,
and the observations need a second pass over ``resources.jsonl``.  The
one-shot doors (``diagnose`` on the command line, ``diagnose_run``) call this.
Only ``warning`` findings are added (``assistant.efficiency.large_waste_findings``
has the thresholds); the full table is ``scalable-tui efficiency``.
"""

from __future__ import annotations

from pathlib import Path

from assistant.efficiency import efficiency_from_run, large_waste_findings, oom_task_ids_of
from scalable_tui.model.diagnosis import SEVERITY_RANK, Diagnosis
from scalable_tui.model.run import RunState
from scalable_tui.sources.rundir.observed import read_observed

__all__ = ["with_efficiency"]


def with_efficiency(diag: Diagnosis, state: RunState) -> Diagnosis:
    """``diag`` plus the large-waste findings of ``state``'s run directory (unchanged when none)."""
    if not Path(state.run_dir).is_dir():
        return diag
    observed = read_observed(state.run_dir)
    if not observed:
        return diag
    extra = large_waste_findings(efficiency_from_run(state, observed.memory_gb, observed.cpu, oom_task_ids_of(state, diag)))
    if not extra:
        return diag
    findings = [*diag.findings, *extra]
    findings.sort(key=lambda f: (SEVERITY_RANK[f.severity], f.count > 0, -f.count, f.category, f.id))
    return diag.model_copy(update={"findings": findings})

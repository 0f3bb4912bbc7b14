"""The assistant's public result types (pydantic: they cross the JSON edge).

``Diagnosis.findings[*].severity/.category/.suggestion`` is the shape the
Scalable tutorials describe; the other fields are what a person needs to act
on a finding without opening the raw files.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Severity = Literal["critical", "error", "warning", "info"]
SEVERITY_RANK = {"critical": 0, "error": 1, "warning": 2, "info": 3}


class Evidence(BaseModel):
    """One line that supports a finding, with where and when it was seen."""

    timestamp: str | None = None
    source: str
    text: str


class Finding(BaseModel):
    id: str
    category: str
    severity: Severity
    title: str
    #: Failure records in this finding (0 for run-level findings such as run_abandoned).
    count: int
    transient: bool | None = None
    exception_types: list[str] = Field(default_factory=list)
    pattern: str = ""
    suggestion: str
    matched: str = ""
    evidence: list[Evidence] = Field(default_factory=list)
    task_ids: list[str] = Field(default_factory=list)
    #: Task ids beyond the listed ones (the list is capped to keep output small).
    task_ids_more: int = 0
    task_names: dict[str, int] = Field(default_factory=dict)
    components: dict[str, int] = Field(default_factory=dict)
    workers: list[str] = Field(default_factory=list)
    first_seen: str | None = None
    last_seen: str | None = None
    #: Occurrences with no known time: they failed before the live monitor attached
    #: (first/last_seen cover only the others).  Shown as "before attach (time unknown)".
    before_attach: int = 0
    example_message: str = ""
    example_traceback: str | None = None
    signature: str = ""
    phase: str | None = None
    resources: dict[str, str | int | float | None] = Field(default_factory=dict)
    #: Set by ``diagnose --compare`` (``assistant.compare``): new, recurring or regressed.
    trend: Literal["new", "recurring", "regressed"] | None = None
    #: This group's count in the compared (previous) run; 0 for new and regressed groups.
    previous_count: int | None = None
    #: A regressed group: the last earlier run it was seen in.
    last_seen_run: str | None = None
    #: Indices into RunState.failures, for drill-down in the UI (not serialised).
    failure_indices: list[int] = Field(default_factory=list, exclude=True)


class Comparison(BaseModel):
    """What ``diagnose --compare`` compared with (``assistant.compare``)."""

    previous_run_id: str
    previous_run_dir: str = ""
    previous_signature_version: int
    #: Set when the signature versions differ: groups are then not matched at all.
    mismatch: str | None = None
    new: int = 0
    recurring: int = 0
    regressed: int = 0
    resolved: int = 0
    #: Earlier runs (before the previous one) looked at to tell regressed from new.
    history_runs: int = 0


class Diagnosis(BaseModel):
    run_id: str
    run_dir: str
    status: str
    abandoned: bool = False
    #: Seconds since the newest event, when the run still says "running".
    idle_s: float | None = None
    method: Literal["heuristic", "ai-enhanced"] = "heuristic"
    summary: str
    #: Failures grouped into findings (= the sum of the findings' counts):
    #: ``task_failures`` plus ``run_failures`` plus the worker deaths no task failure
    #: stands for, plus ``job_failures`` (batch jobs the scheduler of jobs killed or failed).
    #: What counts as a failure is defined once, in ``assistant.diagnose.failure_counts``.
    failures_total: int
    #: Failed tasks, each counted once (by its last record; not when it succeeded later).
    task_failures: int = 0
    #: Failures of no task: the session failed to start or close, the driving script
    #: raised inside ``with session:``, or the scheduler refused a task graph.
    run_failures: int = 0
    #: Unexpected worker departures, each counted once (also those a KilledWorker names).
    worker_deaths: int = 0
    #: Batch jobs (Slurm) that failed or were killed (walltime, OOM, node failure), each
    #: counted once; pending jobs are not failures.  Added by ``session.slurm_join.merge_findings``.
    job_failures: int = 0
    #: Tasks per state (``TaskTotals``): Scalable's states for a run directory, the
    #: scheduler's (``memory``, ``erred``, …) for a live scheduler or a recording.
    tasks: dict[str, int]
    tasks_total: int
    #: ``run`` (task events) or ``scheduler`` (task-prefix counts): which states ``tasks`` uses.
    tasks_origin: str = "run"
    unfinished: int = 0
    findings: list[Finding]
    notices: list[str] = Field(default_factory=list)
    #: Files whose content could not be read in full, said in the report itself:
    #: "no failures" from a file that was mostly unreadable means nothing.
    incomplete: list[str] = Field(default_factory=list)
    signature_version: int
    #: AI explanations by finding id (assistant.llm; empty unless method is "ai-enhanced").
    explanations: dict[str, dict] = Field(default_factory=dict)
    #: ``diagnose --compare``: what was compared with, and the previous run's groups that are gone.
    comparison: Comparison | None = None
    resolved: list[Finding] = Field(default_factory=list)

    @property
    def ended(self) -> bool:
        """The run closed or was given up: its unfinished tasks never finished (``words.unfinished_word``)."""
        return self.abandoned or self.status in ("completed", "failed")

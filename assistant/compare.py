"""Compare a run's diagnosis with an earlier one: new, recurring, regressed and resolved groups.

Groups are matched by their grouping signature (``Finding.signature``, or the
id of run-level findings that have none), which is exact within one
``SIGNATURE_VERSION``.  Across versions the same bug may carry another
signature, so two diagnoses made with different versions are not matched at
all: the comparison says so rather than calling every group new and every
old one resolved.

"Regressed" needs more than two runs: a group absent from the previous run
but seen in some run before it is back, not new.  The earlier runs come in as
compact ``EarlierRun`` summaries (signature -> count), which the caller reads
from its cache; nothing here reads files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

from scalable_tui.model.diagnosis import Comparison, Diagnosis, Finding
from scalable_tui.model.words import plural


@dataclass(frozen=True, slots=True)
class EarlierRun:
    """A run before the compared one, reduced to what ``regressed`` needs."""

    run_id: str
    signature_version: int
    counts: Mapping[str, int] = field(default_factory=dict)


def group_key(f: Finding) -> str:
    """The identity of a finding's group across runs."""
    return f.signature or f.id


def mismatch_text(previous_run_id: str, previous_version: int, current_version: int) -> str:
    return (f"not compared with {previous_run_id}: its failure groups were made with signature version "
            f"{previous_version}, this run's with version {current_version}, so the same failure may carry "
            f"another signature; diagnose both runs with one version of scalable-tui to compare them")


def compare(
    current: Diagnosis,
    previous: Diagnosis,
    earlier: Iterable[EarlierRun] = (),
    *,
    previous_run_dir: str = "",
) -> Diagnosis:
    """``current`` with each finding's ``trend``/``previous_count`` set, ``resolved`` and ``comparison`` filled.

    ``earlier``: runs before ``previous``, newest first; those made with another
    signature version are skipped (they cannot vouch for "seen before").
    """
    out = current.model_copy(deep=True)
    info = Comparison(previous_run_id=previous.run_id, previous_run_dir=previous_run_dir,
                      previous_signature_version=previous.signature_version)
    out.comparison = info
    out.resolved = []
    if previous.signature_version != current.signature_version:
        info.mismatch = mismatch_text(previous.run_id, previous.signature_version, current.signature_version)
        for f in out.findings:
            f.trend = f.previous_count = f.last_seen_run = None
        return out
    before: dict[str, int] = {}
    for f in previous.findings:
        k = group_key(f)
        before[k] = before.get(k, 0) + f.count
    older = [r for r in earlier if r.signature_version == current.signature_version]
    info.history_runs = len(older)
    now_keys = set()
    for f in out.findings:
        k = group_key(f)
        now_keys.add(k)
        f.last_seen_run = None
        if k in before:
            f.trend, f.previous_count = "recurring", before[k]
            info.recurring += 1
            continue
        f.previous_count = 0
        seen_in = next((r.run_id for r in older if r.counts.get(k)), None)
        if seen_in is None:
            f.trend = "new"
            info.new += 1
        else:
            f.trend, f.last_seen_run = "regressed", seen_in
            info.regressed += 1
    out.resolved = [f.model_copy(deep=True) for f in previous.findings if group_key(f) not in now_keys]
    info.resolved = len(out.resolved)
    return out



def comparison_line(diag: Diagnosis) -> str | None:
    """The one line a report starts with: "2 new groups since run-…, 1 regressed, 3 recurring, 1 resolved"."""
    c = diag.comparison
    if c is None:
        return None
    if c.mismatch:
        return c.mismatch
    line = f"{plural(c.new, 'new group')} since {c.previous_run_id}"
    if c.regressed:
        line += f", {c.regressed} regressed"
    line += f", {c.recurring} recurring, {c.resolved} resolved"
    return line


def trend_text(f: Finding) -> str:
    """A finding's trend for a report: "new", "recurring (12 before)", "regressed (last seen in run-…)"."""
    if f.trend == "recurring":
        return f"recurring ({f.previous_count} before)"
    if f.trend == "regressed":
        return f"regressed (last seen in {f.last_seen_run})" if f.last_seen_run else "regressed"
    return f.trend or ""


def comparison_lines(diag: Diagnosis) -> list[str]:
    """The comparison line, then one line per resolved group (plain text; the renderer makes it safe)."""
    line = comparison_line(diag)
    if line is None:
        return []
    out = [line]
    for f in diag.resolved:
        out.append(f"  ✓ resolved: {f.title} ({f.category}) — {plural(f.count, 'occurrence')} in "
                   f"{diag.comparison.previous_run_id if diag.comparison else 'the previous run'}")
    return out

"""What is sent: the assistant's groups (never raw failures), redacted, within a token budget.

Per group: category, count, exception types, normalised pattern, the heuristic
suggestion and ONE representative traceback trimmed to its innermost frames
and exception lines; plus run context (provider/target, requested
memory/walltime, package versions when known).  Size is O(groups) and capped
by a token budget; over budget, tracebacks are trimmed first, then examples,
then the smallest groups are folded into one "and N more groups (…)" line, so
no group is ever silently dropped.

:func:`build_prompt` is what ``--show-prompt`` prints and what
:func:`assistant.llm.client.explain_findings` sends: the preview is exact.

Every field is redacted whole before it is normalised or cut (a secret cut in
half escapes its rule), then every value learned is swept from the whole
payload (one placeholder per value).  The data goes between markers it cannot
forge (:func:`wrap_data`) and the system prompt says it is untrusted.

This module holds the assembly and the budget: :class:`Prompt`, the fitting
steps and :func:`build_prompt`.  The fixed words and data markers are in
:mod:`assistant.llm.prompt_text`, the making of one field safe to send in
:mod:`assistant.llm.payload_fields`, one group's rows in
:mod:`assistant.llm.payload_rows` and the run context in
:mod:`assistant.llm.context`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Sequence

from assistant.llm.config import AIConfig, safe_url
from assistant.llm.context import _context_from_findings
from assistant.llm.payload_fields import _cut, estimate_tokens
from assistant.llm.payload_rows import _Row, _more_line, _other_row, _target_row
from assistant.llm.prompt_text import SYSTEM_PROMPT, USER_INTRO, wrap_data
from assistant.llm.redact import Redactor
from scalable_tui.model.diagnosis import Diagnosis, Finding
from scalable_tui.model.words import run_states_said


@dataclass
class Prompt:
    """The exact request that would leave the machine, and how it was made to fit."""

    messages: list[dict[str, str]]
    model: str
    endpoint: str
    #: Findings the model is asked to explain (ids as in ``Diagnosis.findings``).
    finding_ids: list[str]
    groups_total: int
    groups_listed: int
    groups_folded: int
    estimated_tokens: int
    budget_tokens: int
    over_budget: bool
    #: What was done to fit the budget, in order ("trimmed tracebacks", …).
    steps: list[str]
    #: Replacements per redaction rule name, and placeholder -> kind.
    redactions: dict[str, int]
    placeholders: dict[str, str]
    payload: dict[str, Any]

    def preview(self) -> dict[str, Any]:
        """What ``--show-prompt`` prints: endpoint, model and the exact messages."""
        return {"endpoint": self.endpoint, "model": self.model, "messages": self.messages}

    def summary_line(self) -> str:
        fold = f", {self.groups_folded} folded into one line" if self.groups_folded else ""
        over = " (OVER BUDGET even after trimming)" if self.over_budget else ""
        red = sum(self.redactions.values())
        return (
            f"{len(self.finding_ids)} finding(s) to explain, {self.groups_total} group(s) in total{fold}; "
            f"~{self.estimated_tokens} tokens of {self.budget_tokens}{over}; {red} value(s) redacted"
        )

def _tasks_said(diagnosis: Diagnosis) -> dict[str, int]:
    """Tasks per state as the reports say them: Scalable's ``running`` (written at submission) and
    ``submitted`` are ``not_finished``, or ``never_finished`` once the run ended (a closed run's
    ``"running": 3`` read to the model as work still going on)."""
    if diagnosis.tasks_origin == "scheduler":
        return dict(diagnosis.tasks)
    return {words.replace(" ", "_"): n for _s, n, words in run_states_said(diagnosis.tasks, diagnosis.ended)}


def _lower(targets: list[_Row], order: list[int], levels: Sequence[int | None], tokens: Any, budget: int) -> None:
    """Step the traceback level down, smallest groups first, until the prompt fits."""
    for level in levels:
        for i in order:
            if targets[i].level is not None:
                targets[i].level = level
                if tokens() <= budget:
                    return


def build_prompt(
    diagnosis: Diagnosis,
    findings: Sequence[Finding] | None = None,
    config: AIConfig | None = None,
    *,
    context: dict[str, Any] | None = None,
    redactor: Redactor | None = None,
) -> Prompt:
    """The messages for one request, redacted and within ``config.budget_tokens``.

    ``findings=None`` explains the top ``config.max_findings`` findings of the
    run and lists the other groups compactly (folded when over budget); a
    list (the TUI: one finding) explains those and folds all other groups into
    one line.  ``context`` is :func:`run_context` of the run state, if known.
    Raises :class:`assistant.llm.redact.RedactionRulesError` when a custom
    rules file cannot be used (then nothing must be sent).
    """
    cfg = config or AIConfig()
    red = redactor or Redactor(keep_hosts=cfg.keep_hosts, rules_file=cfg.redact_rules_file)
    all_findings = list(diagnosis.findings)
    if findings is None:
        targets_f = all_findings[: max(1, cfg.max_findings)]
        explicit = False
    else:
        targets_f = list(findings)
        explicit = True
        known = {x.id for x in diagnosis.findings}
        all_findings += [f for f in findings if f.id not in known]
    target_ids = {f.id for f in targets_f}
    rest = [f for f in all_findings if f.id not in target_ids]
    # Others are folded smallest first: keep them biggest first.
    rest.sort(key=lambda f: (-f.count, f.category, f.id))

    ctx_src = context if context is not None else _context_from_findings(all_findings)
    ctx: dict[str, Any] = {
        # the status and task states are read from the run's files: untrusted text too
        "run_status": red.redact(diagnosis.status) + (" (probably abandoned)" if diagnosis.abandoned else ""),
        "tasks": {red.redact(str(k)): v for k, v in _tasks_said(diagnosis).items()},
        "failures_total": diagnosis.failures_total,
        "groups_total": len(all_findings),
    }
    if diagnosis.unfinished:
        ctx["unfinished_tasks"] = diagnosis.unfinished
    ctx.update(red.redact_obj({k: v for k, v in ctx_src.items() if v not in (None, "", [], {})}))

    targets = [_target_row(f, red) for f in targets_f]
    others = [_other_row(f, red) for f in rest]
    # One value, one placeholder, everywhere: a value learned in one field
    # ("password=X") is also hidden where it stands alone in another.
    ctx = red.sweep_obj(ctx)
    for t in targets:
        t.data = red.sweep_obj(t.data)
        t.tb = {lvl: red.sweep(tb) for lvl, tb in t.tb.items()}
    others = red.sweep_obj(others)
    n_others = 0 if explicit else len(others)  # others kept as rows; the rest are folded
    n_targets = len(targets)
    steps: list[str] = []

    def payload() -> dict[str, Any]:
        rows = []
        for r in targets[:n_targets]:
            d = dict(r.data)
            if r.level is not None and r.tb.get(r.level):
                d["traceback"] = r.tb[r.level]
            rows.append(d)
        p: dict[str, Any] = {"run": ctx, "findings": rows}
        if n_others:
            p["other_groups"] = others[:n_others]
        folded = [t.finding for t in targets[n_targets:]] + rest[n_others:]
        if folded:
            p["more_groups"] = _more_line(folded)
        return p

    def messages_of(p: dict[str, Any]) -> list[dict[str, str]]:
        body = json.dumps(p, ensure_ascii=False, separators=(",", ":"))
        return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": USER_INTRO + wrap_data(body)}]

    def tokens() -> int:
        return estimate_tokens(messages_of(payload()))

    budget = cfg.budget_tokens
    by_size = sorted(range(len(targets)), key=lambda i: (targets[i].finding.count, i))
    # 1. tracebacks: the innermost frame and the exception lines only (smallest groups first)
    if tokens() > budget:
        steps.append("trimmed tracebacks")
        _lower(targets, by_size, (1,), tokens, budget)
    # 2. examples: shorter (smallest groups first)
    if tokens() > budget:
        steps.append("trimmed examples")
        for i in by_size:
            d = targets[i].data
            if "example_message" in d:
                d["example_message"] = _cut(d["example_message"], 160)
            if "tasks" in d:
                d["tasks"] = d["tasks"][:1]
            if "evidence" in d:
                d["evidence"] = d["evidence"][:1]
            if tokens() <= budget:
                break
        else:
            for o in others:
                if "pattern" in o:
                    o["pattern"] = _cut(o["pattern"], 60)
    # 3. fold the smallest other groups (binary search on how many stay)
    if tokens() > budget and n_others:
        lo, hi = 0, n_others
        while lo < hi:
            mid = (lo + hi + 1) // 2
            n_others = mid
            if tokens() <= budget:
                lo = mid
            else:
                hi = mid - 1
        n_others = lo
        steps.append(f"folded {len(others) - n_others} smaller group(s)")
    # 3b. still over: exception lines only, then no tracebacks and no examples
    if tokens() > budget:
        steps.append("dropped tracebacks and examples")
        _lower(targets, by_size, (0, None), tokens, budget)
        if tokens() > budget:
            for i in by_size:
                for k in ("example_message", "evidence", "tasks"):
                    targets[i].data.pop(k, None)
                if tokens() <= budget:
                    break
    # 4. fold the smallest findings to explain (at least one stays)
    if tokens() > budget and n_targets > 1:
        order = sorted(range(len(targets)), key=lambda i: (-targets[i].finding.count, i))
        targets[:] = [targets[i] for i in order]  # biggest first, so the tail is the smallest
        before = n_targets
        while n_targets > 1 and tokens() > budget:
            n_targets -= 1
        steps.append(f"folded {before - n_targets} finding(s) to explain")
    # 5. last resort: shorten the remaining texts
    if tokens() > budget:
        steps.append("shortened texts")
        for r in targets[:n_targets]:
            for k, n in (("heuristic_suggestion", 300), ("pattern", 150), ("title", 120)):
                if isinstance(r.data.get(k), str):
                    r.data[k] = _cut(r.data[k], n)

    final = payload()
    msgs = messages_of(final)
    est = estimate_tokens(msgs)
    folded = len(targets) - n_targets + len(rest) - n_others
    return Prompt(
        messages=msgs,
        model=cfg.model,
        endpoint=safe_url(cfg.base_url),
        finding_ids=[r.finding.id for r in targets[:n_targets]],
        groups_total=len(all_findings),
        groups_listed=n_targets + n_others,
        groups_folded=folded,
        estimated_tokens=est,
        budget_tokens=budget,
        over_budget=est > budget,
        steps=steps,
        redactions=dict(red.hits),
        placeholders=red.mapping,
        payload=final,
    )


def build_messages(
    diagnosis: Diagnosis,
    findings: Sequence[Finding] | None = None,
    config: AIConfig | None = None,
    *,
    context: dict[str, Any] | None = None,
) -> list[dict[str, str]]:
    """Just the messages of :func:`build_prompt` (for previews)."""
    return build_prompt(diagnosis, findings, config, context=context).messages


__all__ = [
    "Prompt",
    "build_messages",
    "build_prompt",
]

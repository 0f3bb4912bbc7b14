"""Diagnosis -> text (Rich, colour only on a terminal), JSON, Markdown.

Every string of a diagnosis may come from the run (exception classes, messages,
timestamps, task names, requested resources), so each renderer first passes
the whole diagnosis through ``safe_diagnosis``: every string (and dict key)
through ``printable`` and ``clip``, at this one boundary, for all three
formats alike.  Text then goes into Rich ``Text`` (never parsed as markup); in
Markdown into code spans or fenced blocks with a fence longer than any
backtick run they contain, or escaped.
"""

from __future__ import annotations

import io
import re
from typing import Callable

import orjson

from assistant.compare import comparison_lines, trend_text
from scalable_tui.model.diagnosis import Diagnosis, Finding
from scalable_tui.model.words import plural, run_states_said
from assistant.task_names import NAMES_SHOWN, shown_names
from assistant.titles import title_distinctions, titled
from assistant.textsafe import clip, one_line, printable, printable_line

SEVERITY_STYLE = {"critical": "bold white on red", "error": "bold red", "warning": "yellow", "info": "cyan"}
TRANSIENT_TEXT = {True: "transient: a retry may help", False: "permanent: a retry will not help", None: "retry may or may not help"}
TRANSIENT_CELL = {True: "transient", False: "permanent", None: "maybe"}


def names_text(names: dict[str, int], limit: int, show: Callable[[str], str]) -> str:
    """``name ×count, …`` for a finding's task names (``shown_names``), with how many were left out."""
    shown, more = shown_names(names, limit)
    text = ", ".join(f"{show(k)} ×{v}" for k, v in shown)
    return text + (f", … {plural(more, 'more name')}" if more else "")


def requested_text(resources: dict[str, str | int | float | None]) -> str:
    """``memory=16G, walltime=04:00:00, cpus=4, provider=slurm``: a finding's requests, as every report says them."""
    return ", ".join(f"{k.removeprefix('requested_')}={v}" for k, v in resources.items() if v is not None)


def retry_words(f: Finding) -> tuple[str, str]:
    """(table cell, sentence) for "will a retry help?", in the retry plan's terms.

    A failure that more memory or more time fixes is not "permanent" (the word
    said "a retry will not help" next to a retry plan that retries it with more
    memory): it is said as the plan's action, so the two never disagree.
    """
    from assistant.retry_plan import CATEGORY_ACTION

    if f.category == "gpu_oom":
        return "bigger GPU", "a retry needs a GPU with more memory or smaller batches (host memory does not help)"
    action = CATEGORY_ACTION.get(f.category)
    if action == "retry_more_memory":
        return "more memory", "a retry needs more memory (scalable-tui retry-plan says how much)"
    if action == "retry_more_time":
        return "more time", "a retry needs a longer walltime (scalable-tui retry-plan says how long)"
    return TRANSIENT_CELL[f.transient], TRANSIENT_TEXT[f.transient]


#: Longest string a report shows (a traceback is kept to 20,000 by the reader).
MAX_FIELD_CHARS = 20_000


def _safe_tree(value: object) -> object:
    if isinstance(value, str):
        return printable(clip(value, MAX_FIELD_CHARS))
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for k, v in value.items():
            key = _safe_tree(k) if isinstance(k, str) else k
            while key in out:  # two keys cut to the same text stay two entries
                key = f"{key} (another)"
            out[key] = _safe_tree(v)  # type: ignore[index]
        return out
    if isinstance(value, list):
        return [_safe_tree(v) for v in value]
    return value


def safe_diagnosis(diag: Diagnosis) -> Diagnosis:
    """The diagnosis with every string printable and bounded (the render boundary)."""
    return Diagnosis.model_validate(_safe_tree(diag.model_dump(mode="json")))


def to_json(diag: Diagnosis) -> str:
    data = _safe_tree(diag.model_dump(mode="json"))
    return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n"


def _counts_line(diag: Diagnosis) -> str:
    """``412 total · 395 succeeded · 17 failed`` (a run) or ``412 total · 380 memory · 17 erred`` (a scheduler)."""
    parts = [f"{diag.tasks_total} total"]
    if diag.tasks_origin != "scheduler":
        return " · ".join(parts + [f"{n} {words}" for _s, n, words in run_states_said(diag.tasks, diag.ended)])
    order = ["processing", "memory", "erred", "waiting", "queued", "no-worker", "released", "forgotten"]
    for k in order + sorted(set(diag.tasks) - set(order)):
        if diag.tasks.get(k):
            # "lost": unfinished on a scheduler that is gone (model.run.retired_counts)
            word = "lost with an earlier scheduler" if k == "lost" and diag.tasks_origin == "scheduler" else k
            parts.append(f"{diag.tasks[k]} {word}")
    return " · ".join(parts)


def failure_breakdown(diag: Diagnosis, sep: str = " · ") -> str:
    """What ``failures_total`` is made of, in words that add up, for every door.

    ``" (20 task failures · 3 worker deaths)"`` when the total holds worker
    deaths, failures of no task (session-level) or Slurm jobs besides task failures; the deaths a ``KilledWorker``
    failure stands for are not in the total (``assistant.diagnose.failure_counts``),
    so they are told apart: ``" · 6 worker deaths (in the KilledWorker failures)"``; so are the
    deaths a failed Slurm job explains (``session.slurm_join.merge_findings``).
    Empty when every failure is a task failure.
    """
    uncovered = max(0, diag.failures_total - diag.task_failures - diag.run_failures - diag.job_failures)
    behind = max(0, diag.worker_deaths - uncovered)
    out = ""
    if uncovered or diag.job_failures or diag.run_failures:
        parts = [plural(diag.task_failures, "task failure")]
        if diag.run_failures:
            parts.append(plural(diag.run_failures, "failure") + " of no task")
        if uncovered:
            parts.append(plural(uncovered, "worker death"))
        if diag.job_failures:
            parts.append(plural(diag.job_failures, "Slurm job"))
        out = f" ({sep.join(parts)})"
    if behind:
        why = ("explained by the failed Slurm jobs or KilledWorker failures" if diag.job_failures
               else "in the KilledWorker failures")
        out += f"{sep}{plural(behind, ('more ' if uncovered else '') + 'worker death')} ({why})"
    return out


def _failures_line(diag: Diagnosis) -> str:
    """``23`` or ``23 (20 task failures, 3 worker deaths)``: the counts of ``failure_counts``."""
    return f"{diag.failures_total}{failure_breakdown(diag, ', ')}"


def _header_lines(diag: Diagnosis) -> list[str]:
    status = diag.status + (" (probably abandoned)" if diag.abandoned else "")
    return [
        f"Run {printable_line(diag.run_id)}  [{status}]",
        f"Tasks: {_counts_line(diag)}",
    ]


#: Findings a text or Markdown report shows in full (the most important first); a run with thousands of
#: distinct failures took minutes to lay out, and nobody reads past the first screens.  JSON has them all.
FINDINGS_SHOWN = 200


def _more_findings(rest: list[Finding]) -> str:
    n = sum(f.count for f in rest)
    return (f"… {plural(len(rest), 'more group')} ({plural(n, 'failure')}) not shown in full: "
            "diagnose --format json lists every group")


def render_text(diag: Diagnosis, *, color: bool = False, width: int = 100) -> str:
    from rich.console import Console
    from rich.text import Text

    diag = safe_diagnosis(diag)
    buf = io.StringIO()
    console = Console(
        file=buf,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        width=width,
        highlight=False,
        emoji=False,
        markup=False,
    )
    head = _header_lines(diag)
    console.print(Text(head[0], style="bold"))
    console.print(Text(head[1]))
    console.print()
    for j, line in enumerate(comparison_lines(diag)):  # diagnose --compare
        console.print(Text(printable_line(line), style="bold" if j == 0 else ""), end="\n\n" if j == len(diag.resolved) else "\n")
    for w in diag.incomplete:
        console.print(Text("⚠ " + printable_line(w), style="bold red"))
    if diag.incomplete:
        console.print()
    failure_findings = [f for f in diag.findings if f.count]
    run_findings = [f for f in diag.findings if not f.count]
    for f in run_findings:
        t = Text("⚠ ", style="bold yellow")
        t.append(printable(f.title), style=SEVERITY_STYLE[f.severity])
        console.print(t)
        console.print(Text("  Suggestion: " + printable(f.suggestion)))
        console.print()
        _text_explanation(console, diag, f)
    if not failure_findings:
        if diag.incomplete:
            console.print(Text("⚠ No failures found in the part that could be read: results are incomplete.", style="bold yellow"))
        else:
            console.print(Text("✓ No failures recorded.", style="green"))
        _text_unstructured(console, diag)
        return _rstrip_lines(buf.getvalue())
    cats = {f.category for f in failure_findings}
    console.print(
        Text(
            f"⚠ {diag.failures_total} failure{'s' if diag.failures_total != 1 else ''} detected in "
            f"{len(failure_findings)} group{'s' if len(failure_findings) != 1 else ''} across {len(cats)} "
            f"categor{'ies' if len(cats) != 1 else 'y'}"
            + f"{failure_breakdown(diag, ', ')}:",
            style="bold",
        )
    )
    console.print()
    distinctions = title_distinctions(failure_findings)
    for i, f in enumerate(failure_findings[:FINDINGS_SHOWN], 1):
        _text_finding(console, i, f, distinctions)
        _text_explanation(console, diag, f)
    rest = failure_findings[FINDINGS_SHOWN:]
    if rest:
        console.print(Text(_more_findings(rest), style="bold"))
        console.print()
    _text_unstructured(console, diag)
    return _rstrip_lines(buf.getvalue())


_TRAILING = re.compile(r"(?<![ ])[ ]+((?:\x1b\[[0-9;]*m)*)$", re.M)  # from a run's start: linear


def _rstrip_lines(text: str) -> str:
    """Rich pads table rows to the full width; drop the padding (keeps style resets)."""
    return _TRAILING.sub(r"\1", text)


def seen_text(f: Finding) -> str:
    """When a finding's failures happened; those from before a live monitor attached have no time."""
    parts = []
    if f.first_seen:
        parts.append(f"{f.first_seen} … {f.last_seen}" if f.last_seen and f.last_seen != f.first_seen else f.first_seen)
    if f.before_attach:
        some = f"{f.before_attach} of {f.count} " if f.before_attach < f.count else ""
        parts.append(f"{some}before attach (time unknown)")
    return "; ".join(parts)


def _text_finding(console, i: int, f: Finding, distinctions: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    from rich.table import Table
    from rich.text import Text

    t = Text()
    t.append(f"[{f.severity}]", style=SEVERITY_STYLE[f.severity])
    t.append(" ")
    t.append(printable(titled(f, distinctions)), style="bold")
    t.append(f" ({f.category}) — {f.count} occurrence{'s' if f.count != 1 else ''}")
    if f.trend:
        t.append(f" [{trend_text(f)}]", style="bold magenta" if f.trend != "recurring" else "")
    # the number in a column of its own: a heading that wraps continues under its title, not at the margin
    head = Table.grid()
    head.add_column(no_wrap=True)
    head.add_column()
    head.add_row(f"{i}. ", t)
    console.print(head)
    rows: list[tuple[str, str]] = [
        ("Exception", printable_line(" → ".join(f.exception_types))),
        ("Pattern", one_line(f.pattern, 160)),
        ("Example", one_line(f.example_message, 160) if f.example_message else ""),
    ]
    if f.task_names:
        rows.append(("Tasks", names_text(f.task_names, NAMES_SHOWN, printable_line)))
    if f.first_seen or f.before_attach:
        rows.append(("Seen", printable_line(seen_text(f))))
    if f.resources:
        r = f.resources
        rows.append(("Requested", printable_line(requested_text(r))))
    if f.example_traceback:
        last = [ln for ln in f.example_traceback.strip().splitlines() if ln.strip().startswith("File ")]
        if last:
            rows.append(("Where", one_line(last[-1].strip(), 160)))
    rows.append(("Retry", retry_words(f)[1]))
    rows.append(("Suggestion", printable(f.suggestion)))
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=2)
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    for k, v in rows:
        if v:
            grid.add_row("", k + ":", Text(v))
    console.print(grid)
    console.print()


_BACKTICKS = re.compile(r"`+")


def _code(s: str) -> str:
    s = printable(s).replace("\n", " ")
    longest = max((len(m.group(0)) for m in _BACKTICKS.finditer(s)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def _md_escape(s: str) -> str:
    return re.sub(r"([\\`*_{}\[\]()#+!|<>~])", r"\\\1", printable_line(s))


def render_markdown(diag: Diagnosis) -> str:
    diag = safe_diagnosis(diag)
    out: list[str] = [f"# Diagnosis of {_md_escape(diag.run_id)}", ""]
    out += [f"**{_md_escape(line.strip())}**" if j == 0 else f"- {_md_escape(line.strip())}"
            for j, line in enumerate(comparison_lines(diag))] + ([""] if diag.comparison else [])
    for w in diag.incomplete:
        out += [f"> **⚠ Incomplete input:** {_md_escape(printable_line(w))}", ""]
    out.append(f"- **Status:** {_md_escape(diag.status)}" + (" (probably abandoned)" if diag.abandoned else ""))
    out.append(f"- **Tasks:** {_counts_line(diag)}")
    out.append(f"- **Failures:** {_failures_line(diag)}")
    out.append(f"- **Summary:** {_md_escape(diag.summary)}")
    for n in diag.notices:
        out.append(f"- **Note:** {_md_escape(n)}")
    out.append("")
    distinctions = title_distinctions(diag.findings)
    if diag.findings:
        out += ["| # | Severity | Category | Finding | Count |", "|---|---|---|---|---|"]
        for i, f in enumerate(diag.findings, 1):
            out.append(f"| {i} | {f.severity} | {_code(f.category)} | {_md_escape(printable_line(titled(f, distinctions)))} "
                       f"| {f.count} |")
        out.append("")
    for i, f in enumerate(diag.findings[:FINDINGS_SHOWN], 1):
        out.append(f"## {i}. {_md_escape(printable_line(titled(f, distinctions)))}")
        out.append("")
        out.append(f"- **Severity:** {f.severity} · **Category:** `{f.category}` · **Count:** {f.count}"
                   + (f" · **Trend:** {_md_escape(trend_text(f))}" if f.trend else ""))
        out.append(f"- **Retry:** {retry_words(f)[1]}")
        if f.exception_types:
            out.append(f"- **Exception:** {_code(' → '.join(f.exception_types))}")
        if f.pattern:
            out.append(f"- **Pattern:** {_code(f.pattern)}")
        if f.first_seen or f.before_attach:
            out.append(f"- **Seen:** {_md_escape(printable_line(seen_text(f)))}")
        if f.task_names:
            out.append("- **Tasks:** " + names_text(f.task_names, NAMES_SHOWN, _code))
        if f.resources:
            out.append("- **Requested:** " + _md_escape(printable_line(requested_text(f.resources))))
        out.append(f"- **Suggestion:** {_md_escape(f.suggestion)}")
        out.append("")
        out += _md_explanation(diag, f)
        if f.evidence:
            out.append("Evidence:")
            out.append("")
            for e in f.evidence:
                out.append(f"- {_md_escape(printable_line(e.timestamp or ''))} {_code(e.source)} {_code(e.text)}")
            out.append("")
        text = f.example_traceback or (f"{f.exception_types[0]}: {f.example_message}" if f.exception_types else "")
        if text:
            body = printable(text.rstrip())
            longest = max((len(m.group(0)) for m in _BACKTICKS.finditer(body)), default=0)
            fence = "`" * max(3, longest + 1)
            out += [f"{fence}text", body, fence, ""]
    if len(diag.findings) > FINDINGS_SHOWN:
        out += [f"**{_more_findings(diag.findings[FINDINGS_SHOWN:])}**", ""]
    out += _md_unstructured(diag)
    return "\n".join(out).rstrip() + "\n"


# -- AI explanations (assistant.llm) -------------------------------------------
# The model's reply is untrusted text: printable() in Rich Text (never markup),
# escaped and on one line per item in Markdown (no active links or HTML).
RETRY_AI_TEXT = {True: "may help", False: "will not help", None: "unknown"}


def _explanation_of(diag: Diagnosis, f: Finding) -> dict | None:
    exp = (getattr(diag, "explanations", None) or {}).get(f.id)
    return exp if isinstance(exp, dict) else None


def _flat(s: object) -> str:
    return printable(str(s)).replace("\n", " ").strip()


def _explanation_heading(exp: dict) -> str:
    conf = exp.get("confidence")
    return f"Explanation (AI, {_flat(exp.get('model') or 'model')}" + (f", confidence: {_flat(conf)}" if conf else "") + ")"


def _text_explanation(console, diag: Diagnosis, f: Finding) -> None:  # type: ignore[no-untyped-def]
    """The AI explanation block under a finding (nothing when there is none)."""
    exp = _explanation_of(diag, f)
    if exp is None:
        return
    from rich.table import Table
    from rich.text import Text

    console.print(Text("   " + _explanation_heading(exp) + ":", style="bold magenta"))
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=4)
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    rows = [("Summary", _flat(exp.get("summary", ""))), ("Cause", _flat(exp.get("likely_cause", "")))]
    steps = [s for s in exp.get("fix_steps") or [] if isinstance(s, str) and s.strip()]
    if steps:
        rows.append(("Fix", "\n".join(f"{n}. {_flat(s)}" for n, s in enumerate(steps, 1))))
    if "retry_may_help" in exp:
        rows.append(("Retry", RETRY_AI_TEXT.get(exp.get("retry_may_help"), "unknown")))
    for k, v in rows:
        if v:
            grid.add_row("", k + ":", Text(v))
    console.print(grid)
    console.print()


def _text_unstructured(console, diag: Diagnosis) -> None:  # type: ignore[no-untyped-def]
    """A plain-text AI reply (server without JSON output), shown as such."""
    exp = (getattr(diag, "explanations", None) or {}).get("_unstructured")
    if not isinstance(exp, dict) or not exp.get("text"):
        return
    from rich.text import Text

    console.print(Text(f"AI reply (unstructured text from {_flat(exp.get('model') or 'model')}, not validated):", style="bold magenta"))
    for line in printable(str(exp["text"])).strip().splitlines()[:80]:
        console.print(Text("  " + line))
    console.print()


def _md_explanation(diag: Diagnosis, f: Finding) -> list[str]:
    exp = _explanation_of(diag, f)
    if exp is None:
        return []
    out = [f"**{_md_escape(_explanation_heading(exp))}**", ""]
    if exp.get("summary"):
        out.append(f"- **Summary:** {_md_escape(_flat(exp['summary']))}")
    if exp.get("likely_cause"):
        out.append(f"- **Likely cause:** {_md_escape(_flat(exp['likely_cause']))}")
    steps = [s for s in exp.get("fix_steps") or [] if isinstance(s, str) and s.strip()]
    if steps:
        out.append("- **Fix steps:**")
        out += [f"  {n}. {_md_escape(_flat(s))}" for n, s in enumerate(steps, 1)]
    if "retry_may_help" in exp:
        out.append(f"- **Retry:** {RETRY_AI_TEXT.get(exp.get('retry_may_help'), 'unknown')}")
    return out + [""]


def _md_unstructured(diag: Diagnosis) -> list[str]:
    exp = (getattr(diag, "explanations", None) or {}).get("_unstructured")
    if not isinstance(exp, dict) or not exp.get("text"):
        return []
    body = printable(str(exp["text"]).rstrip())
    longest = max((len(m.group(0)) for m in _BACKTICKS.finditer(body)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"## AI reply (unstructured text from {_md_escape(_flat(exp.get('model') or 'model'))}, not validated)", "", f"{fence}text", body, fence, ""]

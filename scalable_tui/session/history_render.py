"""``scalable-tui history`` as text (with sparklines), JSON and Markdown.

Group titles come from exception messages (untrusted): every string goes
through ``printable_line`` in text, is escaped or code-spanned in Markdown,
and through ``printable`` in JSON, as the diagnosis renderers do.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from assistant.textsafe import clip, printable, printable_line
from scalable_tui.session.history import ABSENT, DEFINITIONS, PERSISTENT_RUNS, SPARK, SPARK_RUNS, History, ProjectHistory


def sparkline(counts: list[int | None]) -> str:
    """One character per run: ``·`` not seen (None), else ▁…█ scaled to the group's largest count.

    A run-level finding (an abandoned run, a session that never started) is
    seen with no failure to count: █ in the runs it was seen in (it showed
    ``·``, "not seen", in the very run it came from).
    """
    top = max((c for c in counts if c is not None), default=0)
    if top <= 0:
        return "".join(ABSENT if c is None else SPARK[-1] for c in counts)
    return "".join(ABSENT if c is None else SPARK[max(0, math.ceil(c / top * len(SPARK)) - 1)] if c > 0 else SPARK[0]
                   for c in counts)


def short_run(run_id: str, project: str | None) -> str:
    """``run-20261125T114713Z-gcam-ensemble-7cec5155`` -> ``20261125T114713Z-7cec5155`` (the project is in the header)."""
    s = run_id.removeprefix("run-")
    if project:
        s = s.replace(f"-{project}-", "-", 1)
    return s


def _runs(n: int) -> str:
    return f"{n} run{'s' if n != 1 else ''}"


def _status_counts(p: ProjectHistory) -> str:
    counts: dict[str, int] = {}
    for g in p.groups:
        counts[g.status] = counts.get(g.status, 0) + 1
    return ", ".join(f"{n} {k}" for k, n in counts.items())


def _span(p: ProjectHistory) -> str:
    first, last = p.runs[0].get("started_at") or p.runs[0]["run_id"], p.runs[-1].get("started_at") or p.runs[-1]["run_id"]
    return first if first == last else f"{first} … {last}"


def _scope(h: History) -> str:
    parts = []
    if h.project_filter is not None:
        parts.append(f"project {h.project_filter}")
    if h.since_s is not None:
        d = h.since_s / 86400
        parts.append(f"since {d:g} days ago" if d >= 1 else f"since {h.since_s / 3600:g} hours ago")
    return f" ({', '.join(parts)})" if parts else ""


def render_text(h: History) -> str:
    out: list[str] = []
    if not h.projects and not h.listed:
        from pathlib import Path

        from scalable_tui.sources.rundir.locate import no_runs_message

        out.append(printable_line(no_runs_message(Path(h.runs_dir))))  # with where runs are one level down
    elif not h.projects:
        out.append(f"No runs{_scope(h)} in {printable_line(h.runs_dir)}.")
    for p in h.projects:
        name = printable_line(p.project or "(no project name)")
        shown = p.runs[-SPARK_RUNS:]
        out.append(f"Project {name}: {len(p.runs)} run{'s' if len(p.runs) != 1 else ''}{_scope(h)}, "
                   f"{printable_line(_span(p))}; {len(p.groups)} failure group{'s' if len(p.groups) != 1 else ''}"
                   + (f": {_status_counts(p)}" if p.groups else ""))
        if not p.groups:
            out.append("  no failures in any run")
            out.append("")
            continue
        out.append(f"  counts per run, oldest → newest{f' (the last {len(shown)})' if len(shown) < len(p.runs) else ''};"
                   f" {ABSENT} = not seen; persistent = in each of the last {_runs(PERSISTENT_RUNS)},"
                   " flaky = comes and goes")
        ids = [r["run_id"] for r in shown]
        rows = [("STATUS", "RUNS", "TOTAL", "COUNTS", "FIRST", "LAST", "GROUP")]
        for g in p.groups:
            rows.append((g.status, f"{len(g.counts)}/{len(p.runs)}", str(sum(g.counts.values())),
                         sparkline([g.counts.get(r) for r in ids]), printable_line(short_run(g.first_run, p.project)),
                         printable_line(short_run(g.last_run, p.project)),
                         f"{printable_line(clip(g.title, 120))} ({printable_line(g.category)}, {g.severity})"))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
        for r in rows:
            out.append(("  " + "  ".join(v.ljust(w) for v, w in zip(r, widths)) + "  " + r[-1]).rstrip())
        out.append("")
    for path, err in h.unreadable:
        out.append(f"note: could not read {printable_line(path)}: {printable_line(clip(err, 300))}")
    for path, first in h.copies:
        out.append(f"note: {printable_line(path)} holds the same run as {printable_line(first)}: counted once")
    return "\n".join(out).rstrip() + "\n"


def to_data(h: History) -> dict[str, Any]:
    def run(r: dict[str, Any]) -> dict[str, Any]:
        return {k: printable(v) if isinstance(v, str) else v for k, v in r.items()
                if k in ("run_id", "run_dir", "started_at", "status", "failures_total", "incomplete")} | {
            "groups": len(r["groups"])}

    return {
        "runs_dir": printable(h.runs_dir),
        "project": h.project_filter,
        "since_s": h.since_s,
        "definitions": DEFINITIONS,
        "projects": [
            {
                "project": None if p.project is None else printable(p.project),
                "runs": [run(r) for r in p.runs],
                "groups": [
                    {"signature": g.signature, "title": printable(g.title), "category": printable(g.category),
                     "severity": g.severity, "status": g.status, "first_run": printable(g.first_run),
                     "last_run": printable(g.last_run), "runs_seen": len(g.counts), "total": sum(g.counts.values()),
                     "counts": {printable(k): v for k, v in g.counts.items()}}
                    for g in p.groups
                ],
            }
            for p in h.projects
        ],
        "unreadable": [{"run_dir": printable(a), "error": printable(clip(b, 300))} for a, b in h.unreadable],
        "copies": [{"run_dir": printable(a), "same_run_as": printable(b)} for a, b in h.copies],
    }


def render_json(h: History) -> str:
    return orjson.dumps(to_data(h), option=orjson.OPT_INDENT_2).decode() + "\n"


def render_markdown(h: History) -> str:
    from assistant.render import _code, _md_escape

    out = [f"# Failure history of {_md_escape(h.runs_dir)}", ""]
    if not h.projects:
        out += [f"No runs{_md_escape(_scope(h))}.", ""]
    for p in h.projects:
        shown = p.runs[-SPARK_RUNS:]
        ids = [r["run_id"] for r in shown]
        out += [f"## {_md_escape(p.project or '(no project name)')}", "",
                f"{_runs(len(p.runs))}, {_md_escape(_span(p))}; {len(p.groups)} failure groups"
                + (f": {_status_counts(p)}" if p.groups else ""), ""]
        if not p.groups:
            continue
        out += ["| Status | Runs | Total | Counts (oldest → newest) | First seen | Last seen | Group |",
                "|---|---|---|---|---|---|---|"]
        for g in p.groups:
            out.append(f"| {g.status} | {len(g.counts)}/{len(p.runs)} | {sum(g.counts.values())} | "
                       f"{_code(sparkline([g.counts.get(r) for r in ids]))} | {_code(g.first_run)} | {_code(g.last_run)} | "
                       f"{_md_escape(clip(g.title, 160))} ({_code(g.category)}, {g.severity}) |")
        out.append("")
    out.append("Persistent: " + _md_escape(DEFINITIONS["persistent"]) + ". Flaky: " + _md_escape(DEFINITIONS["flaky"]) + ".")
    for path, err in h.unreadable:
        out.append(f"- **Could not read** {_code(path)}: {_md_escape(clip(err, 300))}")
    for path, first in h.copies:
        out.append(f"- {_code(path)} holds the same run as {_code(first)}: counted once")
    return "\n".join(out).rstrip() + "\n"

"""``retry-plan`` and ``efficiency``: the morning-after commands, on the one diagnosis pipeline.

Kept apart from ``cli.py`` so that file only registers them.  Both read a run
directory (or a recording for ``retry-plan``) and never write into it; nothing
heavy is imported before a command runs (``--help`` stays fast).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any, Callable

from scalable_tui.cli.common import EXIT_OK, EXIT_USAGE, _err, open_and_diagnose


def add_plan_commands(sub: Any, add_run_selection: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register the two commands on the main parser's subparsers."""
    rp = sub.add_parser(
        "retry-plan",
        help="what to rerun and with what: every failed task in one group with an action",
        description="Put every failed task of a run in exactly one group with an action: retry (transient), "
        "retry_more_memory, retry_bigger_gpu (a GPU out of memory), retry_more_time, fix_first. RUN_DIR may also be a recording (.rec). "
        "--format python prints a script that resubmits only the retryable tasks with the changed resources "
        "through Scalable. Reads only; never writes into the run directory.",
    )
    add_run_selection(rp)
    rp.add_argument("--format", choices=("text", "json", "python"), default="text", help="output format (default: text)")
    rp.add_argument("--slurm", choices=("auto", "off", "force"), default="auto",
                    help="join Slurm accounting for Slurm runs, as in 'diagnose' (default: auto)")
    rp.set_defaults(func=cmd_retry_plan)

    ef = sub.add_parser(
        "efficiency",
        help="requested vs used resources per task name (like seff)",
        description="Requested vs used memory and CPU per task function, from resources.jsonl (observed_memory_gb, "
        "observed_cpu) and, for Slurm runs, sacct MaxRSS per job (under-read for OOM-killed jobs); for a recording "
        "(.rec), each worker group's memory limit and threads vs its sampled memory and CPU. "
        "Findings for large waste.",
    )
    add_run_selection(ef)
    ef.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    ef.add_argument("--slurm", choices=("auto", "off", "force"), default="auto",
                    help="add sacct's ReqMem/MaxRSS per job for runs made on Slurm (default: auto)")
    ef.set_defaults(func=cmd_efficiency)


def cmd_retry_plan(args: argparse.Namespace) -> int:
    loaded = open_and_diagnose(args, verb="plan", slurm=args.slurm)
    if isinstance(loaded, int):
        return loaded
    state, diag, path, is_rec = loaded
    from assistant.retry_plan import build_retry_plan
    from scalable_tui.sources.rundir.observed import read_observed

    observed = read_observed(path) if not is_rec else None
    if not is_rec:
        state.run_dir = str(Path(state.run_dir).resolve())
    plan = build_retry_plan(state, diag, observed_memory_gb=observed.memory_gb if observed else None)
    for n in diag.notices:
        _err(f"note: {n}")
    if args.format == "json":
        import orjson

        sys.stdout.write(orjson.dumps(plan.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
    elif args.format == "python":
        from assistant.retry_snippet import retry_snippet

        if is_rec:
            _err("note: a recording has no manifest.yaml: edit MANIFEST in the script to point at the run's manifest")
        elif not (Path(path) / "manifest.yaml").is_file():
            _err(f"note: {Path(path) / 'manifest.yaml'} does not exist: edit MANIFEST in the script to point at "
                 "the scalable.yaml the run used")
        if plan.target is None:
            _err("note: the run does not name its target (run.json): the script uses the manifest's first target; "
                 "edit TARGET to choose another")
        sys.stdout.write(retry_snippet(plan))
    else:
        sys.stdout.write(render_plan_text(plan))
    return EXIT_OK


def render_plan_text(plan: Any) -> str:
    from assistant.textsafe import one_line, printable_line as printable  # one line per field: no faked rows

    by = plan.by_action()
    lines = [f"Retry plan for {printable(plan.run_id)}: {plan.failed_tasks} failed task(s) in {len(plan.groups)} group(s)",
             "  " + " · ".join(f"{a} {n}" for a, n in by.items()), ""]
    for g in plan.groups:
        lines.append(f"{g.action:<18} {g.count:>5} task(s)  {one_line(g.title, 90)}  [{printable(g.id)}]")
        lines.append(f"{'':<18}        why: {one_line(g.reason, 110)}")
        if g.change.get("memory"):
            where = f" for component {printable(str(g.component))}" if g.component else " (component unknown)"
            lines.append(f"{'':<18}        memory {printable(str(g.current.get('memory') or '?'))} -> {g.change['memory']}"
                         f"{where}  ({g.rule})")
        if g.change.get("walltime"):
            lines.append(f"{'':<18}        walltime {printable(str(g.current.get('walltime') or '?'))} -> "
                         f"{g.change['walltime']}  ({g.rule})")
            lines.append(f"{'':<18}        dask-jobqueue: worker_extra_args={g.change['worker_extra_args']!r} with "
                         f"cluster.adapt(...)")
        if g.change.get("gpu"):
            lines.append(f"{'':<18}        change: {g.change['gpu']} ({g.rule})")
        names = ", ".join(f"{one_line(k, 60)} ×{v}" for k, v in list(g.task_names.items())[:5])
        more = f", … {len(g.task_names) - 5} more name(s)" if len(g.task_names) > 5 else ""
        lines.append(f"{'':<18}        tasks: {names}{more}")
        ids = ", ".join(printable(x) for x in g.task_ids[:3])
        lines.append(f"{'':<18}        ids: {ids}" + (f", … (+{g.count - 3}; --format json lists all)" if g.count > 3 else ""))
    for n in plan.notes:
        lines.append(f"note: {one_line(n, 200)}")
    if not plan.groups:
        lines.append("No failed tasks: nothing to retry.")
    return "\n".join(lines) + "\n"


def cmd_efficiency(args: argparse.Namespace) -> int:
    from scalable_tui.sources.rundir.locate import RunNotFound, resolve_run

    if args.run_dir and Path(args.run_dir).is_file():
        return _efficiency_of_recording(args)
    try:
        run_dir = resolve_run(args.run_dir, latest=args.latest, run_id=args.run_id, runs_dir=args.runs_dir)
    except RunNotFound as exc:
        _err(str(exc))
        return EXIT_USAGE
    from scalable_tui.session.efficiency import run_efficiency
    from scalable_tui.sources.rundir.reader import load_run

    return _print_report(run_efficiency(load_run(run_dir), run_dir, slurm=args.slurm), args.format)


def _efficiency_of_recording(args: argparse.Namespace) -> int:
    from scalable_tui.session.efficiency import recording_efficiency
    from scalable_tui.sources.recording.reader import Recording, RecordingError

    try:
        with Recording(args.run_dir) as rec:
            if rec.never_connected:
                _err(f"{args.run_dir}: {rec.never_connected_text()}; there is nothing to measure")
                return EXIT_USAGE
            report = recording_efficiency(rec)
    except RecordingError as exc:
        _err(f"{exc}; expected a run directory or a recording made by 'scalable-tui record'")
        return EXIT_USAGE
    return _print_report(report, args.format)


def _print_report(report: Any, fmt: str) -> int:
    if fmt == "json":
        import orjson

        sys.stdout.write(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(render_efficiency_text(report))
    return EXIT_OK


def render_efficiency_text(report: Any) -> str:
    from assistant.textsafe import one_line, printable_line as printable  # one line per field: no faked rows

    def gb(x: float | None) -> str:
        return "-" if x is None else f"{x:.2f}"

    def pct(x: float | None) -> str:
        # Cut, not rounded, to 0.1 %: 24.75 % printed "25%" beside a warning for "below 25 %".
        return "-" if x is None else f"{math.floor(x * 1000 + 1e-9) / 10:g}%"

    cols = ("TASK/JOB", "COMPONENT", "TASKS", "OBSERVED", "MEM REQ", "MEM PEAK", "MEM MEAN", "MEM EFF", "CPUS", "CPU MEAN", "CPU EFF")
    table = [[one_line(r.key, 40), printable(r.component or "-"), str(r.tasks), str(r.observed),
              printable(r.requested_memory or "-"), gb(r.peak_memory_gb), gb(r.mean_memory_gb), pct(r.memory_efficiency),
              "-" if r.requested_cpus is None else f"{r.requested_cpus:g}", "-" if r.mean_cpu is None else f"{r.mean_cpu:.2f}",
              pct(r.cpu_efficiency)] for r in report.rows]
    widths = [max(len(c), *(len(t[i]) for t in table)) if table else len(c) for i, c in enumerate(cols)]
    lines = [f"Efficiency of {printable(report.run_id)} (memory in GB; CPU in cores)",
             "  ".join(c.ljust(w) for c, w in zip(cols, widths)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(t, widths)).rstrip() for t in table]
    if report.findings:
        lines.append("")
        for f in report.findings:
            lines.append(f"[{f.severity}] {one_line(f.title, 160)}")
    for n in report.notes:
        lines.append(f"note: {one_line(n, 200)}")
    return "\n".join(lines) + "\n"

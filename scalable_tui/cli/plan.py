"""``retry-plan`` and ``efficiency``: the morning-after commands, on the one diagnosis pipeline.

Kept apart from ``cli.py`` so that file only registers them.  Both read a run
directory (or a recording for ``retry-plan``) and never write into it; nothing
heavy is imported before a command runs (``--help`` stays fast).
"""

from __future__ import annotations

import argparse
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
        "retry_more_memory, retry_more_time, fix_first. RUN_DIR may also be a recording (.rec). "
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
        sys.stdout.write(retry_snippet(plan))
    else:
        sys.stdout.write(render_plan_text(plan))
    return EXIT_OK


def render_plan_text(plan: Any) -> str:
    from assistant.textsafe import one_line, printable

    by = plan.by_action()
    lines = [f"Retry plan for {printable(plan.run_id)}: {plan.failed_tasks} failed task(s) in {len(plan.groups)} group(s)",
             "  " + " · ".join(f"{a} {n}" for a, n in by.items()), ""]
    for g in plan.groups:
        lines.append(f"{g.action:<18} {g.count:>5} task(s)  {one_line(g.title, 90)}  [{printable(g.id)}]")
        lines.append(f"{'':<18}        why: {one_line(g.reason, 110)}")
        if g.change.get("memory"):
            lines.append(f"{'':<18}        memory {printable(str(g.current.get('memory') or '?'))} -> {g.change['memory']}"
                         f" for component {printable(str(g.component))}  ({g.rule})")
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
    from assistant.efficiency import efficiency_from_run
    from scalable_tui.sources.rundir.observed import read_observed
    from scalable_tui.sources.rundir.reader import load_run

    state = load_run(run_dir)
    observed = read_observed(run_dir)
    from assistant.efficiency import oom_task_ids_of
    from scalable_tui.session import diagnose

    report = efficiency_from_run(state, observed.memory_gb, observed.cpu, oom_task_ids_of(state, diagnose(state)))
    jobs, note = slurm_jobs(state, args.slurm)
    if jobs:
        from assistant.efficiency import efficiency_from_jobs

        by_job = efficiency_from_jobs(jobs, state.meta.run_id)
        report.rows.extend(by_job.rows)
        report.findings.extend(by_job.findings)
        report.notes.extend(by_job.notes)
    if note:
        report.notes.append(note)
    if observed.skipped:
        report.notes.append(f"resources.jsonl: {observed.skipped} observation(s) unreadable or of the wrong type, skipped")
    if args.format == "json":
        import orjson

        sys.stdout.write(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
        return EXIT_OK
    sys.stdout.write(render_efficiency_text(report))
    return EXIT_OK


#: At most this many frames of a recording are read for worker metrics (evenly spread).
MAX_FRAMES = 2000


def recording_worker_samples(rec: Any, max_frames: int = MAX_FRAMES) -> tuple[list[tuple[Any, ...]], int, int]:
    """``(name, memory_limit, rss, cpu %, nthreads)`` per worker and frame, frames read, frames in all."""
    times = rec.times()
    step = max(1, -(-len(times) // max_frames))
    picked = times[::step]
    if times and picked[-1] != times[-1]:
        picked.append(times[-1])
    out: list[tuple[Any, ...]] = []
    for t in picked:
        snap = rec.state_at(t, max_events=0)
        for w in snap.workers.values():
            if w.alive:
                out.append((w.name, w.memory_limit, w.memory, w.cpu, w.nthreads))
    return out, len(picked), len(times)


def _efficiency_of_recording(args: argparse.Namespace) -> int:
    from assistant.efficiency import efficiency_from_workers
    from scalable_tui.sources.recording.reader import Recording, RecordingError

    try:
        with Recording(args.run_dir) as rec:
            if rec.never_connected:
                _err(f"{args.run_dir}: {rec.never_connected_text()}; there is nothing to measure")
                return EXIT_USAGE
            samples, used, total = recording_worker_samples(rec)
            report = efficiency_from_workers(samples, Path(args.run_dir).name)
    except RecordingError as exc:
        _err(f"{exc}; expected a run directory or a recording made by 'scalable-tui record'")
        return EXIT_USAGE
    if used < total:
        report.notes.append(f"read {used} of {total} frames (evenly spread): peaks between them are missed")
    if not samples:
        report.notes.append("the recording has no worker metrics")
    if args.format == "json":
        import orjson

        sys.stdout.write(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(render_efficiency_text(report))
    return EXIT_OK


def slurm_jobs(state: Any, mode: str, source: Any = None) -> tuple[list[Any], str | None]:
    """The run's Slurm jobs from sacct (attributed to the run as ``diagnose`` does), and a note."""
    from scalable_tui.session.slurm_join import ran_on_slurm

    if mode == "off" or (mode == "auto" and not ran_on_slurm(state)):
        return [], None
    from scalable_tui.sources.jobs.slurm import job_source
    from scalable_tui.sources.jobs.attribution import run_findings_input

    src = source or job_source("slurm" if mode == "force" else "auto")
    if src is None:
        return [], "the run used Slurm, but squeue/sacct are not on PATH here: no per-job figures"
    if state.first_event_ts is None:
        return [], "no event timestamps: cannot ask Slurm about the run's jobs"
    try:
        snap, why = run_findings_input(state, src)
    except Exception as exc:  # noqa: BLE001 - Slurm trouble is a note, never a crash
        return [], f"Slurm accounting could not be read: {type(exc).__name__}: {exc}"
    if snap.status != "ok":
        return [], f"Slurm: {snap.message or snap.status}"
    return list(snap.jobs), why


def render_efficiency_text(report: Any) -> str:
    from assistant.textsafe import one_line, printable

    def gb(x: float | None) -> str:
        return "-" if x is None else f"{x:.2f}"

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{x:.0%}"

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

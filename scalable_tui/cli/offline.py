"""The commands over finished data: ``diagnose`` (run directory or recording), ``runs``, ``history``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from scalable_tui.cli.common import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, SEVERITY_LEVELS, _err, _inside, open_and_diagnose


def cmd_diagnose(args: argparse.Namespace) -> int:
    def output_inside(run_dir: Path) -> str | None:
        if args.output and _inside(Path(args.output), run_dir):
            return f"refusing to write into the run directory {run_dir}; choose another --output"
        return None

    opened = open_and_diagnose(args, verb="diagnose", slurm=args.slurm, log_dir=args.slurm_log_dir, notes=True,
                               check_run_dir=output_inside)
    if isinstance(opened, int):
        return opened
    state, diag, run_dir, _is_recording = opened
    from assistant.render import render_markdown, render_text, to_json

    if args.compare:
        from scalable_tui.session.compare import CompareError, compare_with

        try:
            diag = compare_with(diag, args.compare, current_run_dir=run_dir if run_dir.is_dir() else None,
                                runs_dir=args.runs_dir, slurm=args.slurm, log_dir=args.slurm_log_dir,
                                stale_after_s=args.stale_after)
        except CompareError as exc:
            _err(str(exc))
            return EXIT_USAGE
    for n in diag.notices:
        _err(f"note: {n}")
    if args.show_prompt:
        from assistant.llm.cli import show_prompt

        return show_prompt(args, diag, state, _err)
    if not args.no_ai:
        # openai is imported only when a request is made; AI problems are one stderr line.
        from assistant.llm.cli import explain_for_cli

        diag = explain_for_cli(args, diag, state, Path(run_dir), _err)
    if args.format == "json":
        out = to_json(diag)
    elif args.format == "markdown":
        out = render_markdown(diag)
    else:
        to_tty = not args.output and sys.stdout.isatty()
        color = args.color == "always" or (args.color == "auto" and to_tty and not os.environ.get("NO_COLOR"))
        width = 100
        if to_tty:
            import shutil

            width = max(60, min(shutil.get_terminal_size().columns, 120))
        out = render_text(diag, color=color, width=width)
    if args.output:
        try:
            Path(args.output).write_text(out, encoding="utf-8")
        except OSError as exc:
            _err(f"cannot write {args.output}: {exc.strerror or exc}")
            return EXIT_USAGE
    else:
        sys.stdout.write(out)
        sys.stdout.flush()
    if args.fail_on:
        limit = SEVERITY_LEVELS.index(args.fail_on)
        if any(SEVERITY_LEVELS.index(f.severity) <= limit for f in diag.findings):
            return EXIT_FINDINGS
    return EXIT_OK


def cmd_runs(args: argparse.Namespace) -> int:
    from scalable_tui.session.runlist import run_rows
    from scalable_tui.sources.rundir.locate import RunNotFound, default_runs_dir, list_runs, no_runs_message

    try:
        runs = list_runs(args.runs_dir)
    except RunNotFound as exc:
        _err(str(exc))
        return EXIT_USAGE
    rows = run_rows(runs, stale_after_s=args.stale_after)
    if args.format == "json":
        import orjson

        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
        return EXIT_OK
    if not rows:
        print(no_runs_message(Path(args.runs_dir) if args.runs_dir else default_runs_dir()))
        return EXIT_OK
    from assistant.textsafe import printable_line as printable  # a cell cannot fake a row

    cols = ("run_id", "project", "status", "started", "succeeded", "failed", "cancelled", "unfinished")
    table = [[printable(str(r.get(c) if r.get(c) is not None else "-")) for c in cols] for r in rows]
    widths = [max(len(c), *(len(t[i]) for t in table)) for i, c in enumerate(cols)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(cols, widths)).rstrip())
    for t in table:
        print("  ".join(v.ljust(w) for v, w in zip(t, widths)).rstrip())
    return EXIT_OK


def cmd_history(args: argparse.Namespace) -> int:
    from scalable_tui.sources.rundir.locate import RunNotFound
    from scalable_tui.session import history_render
    from scalable_tui.session.history import collect

    try:
        hist = collect(args.runs_dir, project=args.project, since_s=args.since, use_cache=not args.no_cache)
    except RunNotFound as exc:
        _err(str(exc))
        return EXIT_USAGE
    render = {"json": history_render.render_json, "markdown": history_render.render_markdown}.get(
        args.format, history_render.render_text)
    sys.stdout.write(render(hist))
    return EXIT_OK

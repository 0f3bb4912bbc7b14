"""The ``scalable-tui`` command line.

Only argparse and the standard library at import time: ``--help`` must not
pay for Textual, distributed or openai.  Each command imports what it needs
when it runs.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Any, Sequence

from scalable_tui import __version__

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2

SEVERITY_LEVELS = ("critical", "error", "warning", "info")


def _duration(text: str) -> float:
    """``90``, ``90s``, ``15m``, ``3h``, ``1d`` -> seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (use e.g. 90s, 15m, 3h, 1d)")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def _call_timeout(text: str) -> float | None:
    """``--call-timeout``: ``auto`` (None) or seconds."""
    from scalable_tui.sources.live.timeout import parse_call_timeout

    try:
        return parse_call_timeout(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


_CALL_TIMEOUT_HELP = ("how long one scheduler call may take: auto (default: learned from recent replies, at least "
                      "3 s, so a busy scheduler is not reported lost) or SECONDS (fixed); one late reply marks the "
                      "link slow, two in a row disconnected")


def _add_run_selection(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", nargs="?", metavar="RUN_DIR", help="a run directory (.scalable/runs/run-…)")
    p.add_argument("--latest", action="store_true", help="the newest run under --runs-dir")
    p.add_argument("--run-id", metavar="ID", help="a run by its id, or a unique start of it, under --runs-dir")
    p.add_argument(
        "--runs-dir",
        metavar="DIR",
        help="where runs live (default: $SCALABLE_RUNS_DIR, else ./.scalable/runs)",
    )
    p.add_argument(
        "--stale-after",
        type=_duration,
        metavar="DURATION",
        help="call a 'running' run abandoned after this long without events "
        "(default: the longest requested walltime, at least 1h)",
    )


def _add_ai_options(p: argparse.ArgumentParser, what: str = "", *, show_prompt: bool = False) -> None:
    """The LLM options shared by diagnose, review and attach."""
    ai = p.add_argument_group(
        "AI explanations",
        what + "Used only when an endpoint or key is configured (options, then SCALABLE_AI_ENDPOINT/_MODEL/"
        "_API_KEY, then OPENAI_BASE_URL/OPENAI_API_KEY) and --no-ai is not given. Only redacted findings are sent.",
    )
    ai.add_argument("--ai-endpoint", metavar="URL", help="OpenAI-compatible base URL, e.g. http://localhost:8000/v1")
    ai.add_argument("--ai-model", metavar="NAME", help="model name (default: $SCALABLE_AI_MODEL, else gpt-4o-mini)")
    ai.add_argument("--ai-timeout", type=float, default=60.0, metavar="SECONDS",
                    help="total time for one AI request, retries included (default: 60)")
    ai.add_argument("--ai-budget", type=int, default=6000, metavar="TOKENS", help="prompt size limit (default: 6000)")
    ai.add_argument("--ai-keep-hosts", action="store_true", help="do not redact host names and IP addresses")
    ai.add_argument("--redact-rules", metavar="FILE", help="extra redaction rules, TOML or JSON (default: $SCALABLE_TUI_REDACT_RULES)")
    if show_prompt:
        ai.add_argument("--show-prompt", action="store_true", help="print the exact messages that would be sent, as JSON; send nothing")
    ai.add_argument("--no-cache", action="store_true", help="do not read or write the AI reply cache")


def _add_alert_options(p: argparse.ArgumentParser) -> None:
    """--notify / --on-finding of attach and record (scalable_tui.session.live_alerts)."""
    al = p.add_argument_group(
        "Alerts", "On a new error/critical finding group, a wave of worker deaths or a lost scheduler. At most one "
        "alert per --alert-every; what comes meanwhile goes out together in the next one.")
    al.add_argument("--notify", action="store_true", help="terminal bell plus a desktop notification (OSC 9 and "
                    "OSC 777: iTerm2, kitty, WezTerm, Windows Terminal…; inside tmux via passthrough)")
    al.add_argument("--on-finding", metavar="CMD", help="run CMD (split like a shell would, but no shell: write "
                    "sh -c '…' for one) with the alert as JSON on stdin; not redacted: it goes where CMD sends it")
    al.add_argument("--on-finding-timeout", type=_duration, default=30.0, metavar="DURATION",
                    help="kill CMD after this long (default: 30s)")
    al.add_argument("--alert-every", type=_duration, default=60.0, metavar="DURATION",
                    help="at most one alert per DURATION (default: 60s)")


def _alerts(args: argparse.Namespace, *, record: bool) -> Any:
    """The LiveAlerts of --notify / --on-finding (None: neither); False after a one-line error."""
    from scalable_tui.session.live_alerts import AlertSetupError, build_alerts

    try:
        return build_alerts(notify=args.notify, on_finding=args.on_finding, on_finding_timeout=args.on_finding_timeout,
                            every=args.alert_every, diagnose=record, terminal=None if record else False)
    except AlertSetupError as exc:
        _err(str(exc))
        return False


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scalable-tui",
        description="Monitor Dask / Scalable workflow runs and diagnose their failures.",
        epilog="Run 'scalable-tui COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"scalable-tui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    d = sub.add_parser(
        "diagnose",
        help="diagnose a run's failures (headless, for scripts and cron)",
        description="Group a run's failures, name their causes and suggest fixes. "
        "Reads the run directory only; never writes into it.",
    )
    _add_run_selection(d)
    d.add_argument("--format", choices=("text", "json", "markdown"), default="text", help="report format (default: text)")
    d.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of stdout")
    d.add_argument("--no-ai", action="store_true",
                   help="heuristics only: the AI endpoint is never contacted. Slurm's own commands (sacct, which asks slurmdbd) "
                   "still run for Slurm runs unless --slurm off")
    d.add_argument(
        "--fail-on",
        choices=SEVERITY_LEVELS,
        metavar="SEVERITY",
        help="exit 1 when a finding of this severity or worse exists (critical|error|warning|info)",
    )
    d.add_argument("--color", choices=("auto", "always", "never"), default="auto", help="colour in text output")
    d.add_argument(
        "--slurm",
        choices=("auto", "off", "force"),
        default="auto",
        help="join Slurm accounting (sacct) for runs made on Slurm: auto (when the run used Slurm and sacct "
        "is here), off, force (default: auto). A recording with stored jobs uses those, never today's sacct",
    )
    d.add_argument("--slurm-log-dir", metavar="DIR", help="dask-jobqueue log_directory to scan for job logs")
    d.add_argument("--compare", metavar="PREV",
                   help="mark each failure group new, recurring or regressed against PREV and list the resolved ones: "
                   "a run directory or id, a recording, a saved 'diagnose --format json', or 'previous' (the last "
                   "earlier run of the same project under the runs directory)")
    _add_ai_options(d, show_prompt=True)
    d.set_defaults(func=cmd_diagnose)

    from scalable_tui.cli_plan import add_plan_commands

    add_plan_commands(sub, _add_run_selection)

    r = sub.add_parser("runs", help="list runs, newest first", description="List the runs under a runs directory.")
    r.add_argument("--runs-dir", metavar="DIR", help="where runs live (default: $SCALABLE_RUNS_DIR, else ./.scalable/runs)")
    r.add_argument("--format", choices=("text", "json"), default="text")
    r.add_argument("--stale-after", type=_duration, metavar="DURATION", help="see 'diagnose --help'")
    r.set_defaults(func=cmd_runs)

    h = sub.add_parser("history", help="every failure group across runs: first/last seen, counts, flaky or persistent",
                       description="Every failure group seen across the runs of a runs directory, per project, with "
                       "the runs it was first and last seen in, its count per run and whether it is persistent (in "
                       "each of the last 3 runs), flaky (comes and goes), new, recurring or resolved. Each run is "
                       "summarised once into the user cache ($XDG_CACHE_HOME/scalable-tui/summaries), never the run "
                       "directory.")
    h.add_argument("--runs-dir", metavar="DIR", help="where runs live (default: $SCALABLE_RUNS_DIR, else ./.scalable/runs)")
    h.add_argument("--project", metavar="NAME", help="only runs of this project (run.json project_name)")
    h.add_argument("--since", type=_duration, metavar="DURATION", help="only runs started this recently, e.g. 14d, 36h")
    h.add_argument("--format", choices=("text", "json", "markdown"), default="text", help="report format (default: text)")
    h.add_argument("--no-cache", action="store_true", help="diagnose every run again; neither read nor write summaries")
    h.set_defaults(func=cmd_history)

    v = sub.add_parser(
        "review",
        help="open the interactive review app on a run (tails it while it runs)",
        description="Browse a run's tasks, failures, findings and worker events in the terminal. "
        "With no run named, pick one from the runs directory. Reads the run directory only.",
    )
    _add_run_selection(v)
    v.add_argument("--no-ai", action="store_true",
                   help="heuristics only: the AI endpoint is never contacted. Slurm's own commands (sacct, which asks slurmdbd) "
                   "still run for Slurm runs unless --slurm off")
    v.add_argument(
        "--slurm",
        choices=("auto", "off", "force"),
        default="auto",
        help="join Slurm accounting (sacct) for runs made on Slurm (default: auto)",
    )
    _add_ai_options(v, "x on a finding previews the request and, on Send, asks the model. ")
    v.set_defaults(func=cmd_review)

    a = sub.add_parser(
        "attach",
        help="the live app on a running Dask scheduler (read-only)",
        description="Watch a running Dask scheduler: workers, task progress, failures with tracebacks, worker "
        "deaths and findings, live. Read-only: it never submits work, never holds futures and never changes "
        "cluster state. It installs one small read-only monitoring plugin on the scheduler (it records failures "
        "and worker events as they happen and answers one cheap query per poll); if the scheduler refuses it, "
        "the app falls back to the scheduler's built-in queries and says which panels are limited. The plugin "
        "stays on the scheduler after the app exits (one method call per task transition; it keeps recording "
        "failures for the next attach); --remove-plugin takes it off.",
        epilog="Address: ADDRESS, else --scheduler-file, else $DASK_SCHEDULER_ADDRESS / dask config "
        "'scheduler-address'. TLS: --tls-* options or dask config distributed.comm.tls.*. "
        "Keys: 1-7 screens (7 / j: Slurm jobs), / filter, f faults, c copy, e export, ? keys, ctrl+p palette, q quit.",
    )
    a.add_argument("address", nargs="?", metavar="ADDRESS", help="scheduler address, tcp://host:8786 or tls://host:8786")
    a.add_argument("--scheduler-file", metavar="FILE", help="a scheduler file written by 'dask scheduler --scheduler-file'")
    a.add_argument("--tls-ca-file", metavar="FILE", help="CA certificate (PEM) for tls:// addresses")
    a.add_argument("--tls-cert", metavar="FILE", help="client certificate (PEM)")
    a.add_argument("--tls-key", metavar="FILE", help="client private key (PEM)")
    a.add_argument("--poll-interval", type=float, default=2.0, metavar="SECONDS", help="seconds between polls (default: 2)")
    a.add_argument("--call-timeout", type=_call_timeout, default=None, metavar="auto|SECONDS", help=_CALL_TIMEOUT_HELP)
    a.add_argument("--no-ai", action="store_true", help="heuristics only: the AI endpoint is never contacted "
                   "(the app still talks to the scheduler, and runs Slurm's squeue unless --slurm off)")
    _add_ai_options(a, "x on a finding previews the request and, on Send, asks the model. ")
    a.add_argument("--record", metavar="FILE", help="also record what is seen into FILE (see 'record'; review it later "
                   "with 'scalable-tui review FILE')")
    a.add_argument("--record-append", action="store_true", help="with --record: continue an existing recording")
    a.add_argument("--remove-plugin", action="store_true",
                   help="no app: take the monitoring plugin off the scheduler and exit (a monitor still attached "
                   "elsewhere installs a fresh one on its next poll)")
    asl = a.add_argument_group("Slurm (the jobs behind dask-jobqueue workers: Jobs screen, 7 / j)")
    asl.add_argument("--slurm", choices=("auto", "off", "force"), default="auto",
                     help="poll Slurm's squeue: auto (default: only when squeue is on PATH), off, force")
    asl.add_argument("--slurm-name", metavar="NAME", help="only jobs with this job name (dask-jobqueue: job_name, default dask-worker)")
    asl.add_argument("--slurm-log-dir", metavar="DIR", help="dask-jobqueue log_directory: job logs (time limit, oom-kill lines)")
    asl.add_argument("--slurm-interval", type=_duration, default=20.0, metavar="DURATION",
                     help="time between squeue calls, one for all jobs (default: 20s)")
    _add_alert_options(a)
    a.set_defaults(func=cmd_attach)

    dm = sub.add_parser(
        "demo",
        help="a local Dask cluster with a flaky workload, and the live app on it",
        description="Start an embedded Dask LocalCluster on 127.0.0.1 (3 worker processes, 350 MB each), run a "
        "realistic flaky workload on it (assorted exceptions, a task that exceeds its worker's memory, a task "
        "that kills its workers: KilledWorker) and open the attach app on it. Quitting shuts the cluster down.",
    )
    dm.add_argument("--no-ai", action="store_true", help="heuristics only: the AI endpoint is never contacted (the app still talks to its local cluster)")
    dm.add_argument("--headless", action="store_true", help="no UI: run the workload for --duration, print a summary")
    dm.add_argument("--duration", type=_duration, default=30.0, metavar="DURATION", help="with --headless (default: 30s)")
    dm.add_argument("--format", choices=("json", "text"), default="json", help="with --headless (default: json)")
    dm.add_argument("--poll-interval", type=float, default=1.0, metavar="SECONDS", help="seconds between polls (default: 1)")
    _add_ai_options(dm, "x on a finding previews the request and, on Send, asks the model. ")
    dm.set_defaults(func=cmd_demo)

    rc = sub.add_parser(
        "record",
        help="record a running Dask scheduler to a file, headless (for nohup/tmux/cron)",
        description="Poll a running Dask scheduler like 'attach' does (read-only, one cheap query per poll) and "
        "write a snapshot of workers, per-prefix task counts, new failures with tracebacks and events to one "
        "file every --interval. Stops with a one-line summary on stderr (exit 0) on SIGINT/SIGTERM, or when the "
        "scheduler has been unreachable for --give-up-after; exit 2 when it was never reached. "
        "Read it with 'scalable-tui diagnose FILE'.",
        epilog="Address: ADDRESS, else --scheduler-file, else $DASK_SCHEDULER_ADDRESS / dask config "
        "'scheduler-address'. File format: docs/recording-format.md.",
    )
    rc.add_argument("address", nargs="?", metavar="ADDRESS", help="scheduler address, tcp://host:8786 or tls://host:8786")
    rc.add_argument("-o", "--out", required=True, metavar="FILE", help="the recording to write (e.g. night.rec)")
    rc.add_argument("--scheduler-file", metavar="FILE", help="a scheduler file written by 'dask scheduler --scheduler-file'")
    rc.add_argument("--interval", type=_duration, default=5.0, metavar="DURATION", help="between snapshots (default: 5s)")
    rc.add_argument("--call-timeout", type=_call_timeout, default=None, metavar="auto|SECONDS", help=_CALL_TIMEOUT_HELP)
    rc.add_argument(
        "--give-up-after",
        type=_duration,
        default=600.0,
        metavar="DURATION",
        help="stop when the scheduler has been unreachable this long; 0: at once (default: 10m, which rides out "
        "a scheduler restart on the same address)",
    )
    mode = rc.add_mutually_exclusive_group()
    mode.add_argument("--append", action="store_true", help="continue an existing recording (a new session in the same file)")
    mode.add_argument("--force", action="store_true", help="replace an existing file")
    rc.add_argument("--tls-ca-file", metavar="FILE", help="CA certificate (PEM) for tls:// addresses")
    rc.add_argument("--tls-cert", metavar="FILE", help="client certificate (PEM)")
    rc.add_argument("--tls-key", metavar="FILE", help="client private key (PEM)")
    rsl = rc.add_argument_group("Slurm (also record the jobs behind dask-jobqueue workers; replayed on the Jobs screen)")
    rsl.add_argument("--slurm", choices=("auto", "off", "force"), default="auto",
                     help="poll Slurm's squeue: auto (default: only when squeue is on PATH), off, force")
    rsl.add_argument("--slurm-name", metavar="NAME", help="only jobs with this job name (dask-jobqueue: job_name, default dask-worker)")
    rsl.add_argument("--slurm-interval", type=_duration, default=20.0, metavar="DURATION",
                     help="time between squeue calls, one for all jobs (default: 20s); a poll that changed nothing is not stored")
    _add_alert_options(rc)
    rc.set_defaults(func=cmd_record)
    return parser


def _err(msg: str) -> None:
    print(f"scalable-tui: {msg}", file=sys.stderr)


def _inside(child: Path, parent: Path) -> bool:
    try:
        child.resolve().relative_to(parent.resolve())
    except ValueError:
        return False
    return True


def cmd_diagnose(args: argparse.Namespace) -> int:
    from scalable_tui.sources.rundir.locate import RunNotFound, resolve_run

    recording = None
    if args.run_dir and Path(args.run_dir).is_file():
        # A recording (scalable-tui record): diagnose its whole history, with the jobs it stored.
        from scalable_tui.session import diagnose_recording
        from scalable_tui.sources.recording.reader import Recording, RecordingError

        try:
            with Recording(args.run_dir) as rec:
                if rec.never_connected:  # nothing was seen: not "no failures"
                    _err(f"{args.run_dir}: {rec.never_connected_text()}; there is nothing to diagnose")
                    return EXIT_USAGE
                for n in rec.notices:
                    _err(f"note: {n}")
                recording, diag = diagnose_recording(rec, slurm=args.slurm, log_dir=args.slurm_log_dir,
                                                     stale_after_s=args.stale_after)
        except RecordingError as exc:
            _err(f"{exc}; expected a run directory or a recording made by 'scalable-tui record'")
            return EXIT_USAGE
        run_dir = Path(args.run_dir)
    else:
        try:
            run_dir = resolve_run(args.run_dir, latest=args.latest, run_id=args.run_id, runs_dir=args.runs_dir)
        except RunNotFound as exc:
            _err(str(exc))
            return EXIT_USAGE
    if recording is None and args.output and _inside(Path(args.output), run_dir):
        _err(f"refusing to write into the run directory {run_dir}; choose another --output")
        return EXIT_USAGE

    from assistant.render import render_markdown, render_text, to_json
    from scalable_tui.session import diagnose
    from scalable_tui.sources.rundir.reader import load_run

    if recording is not None:
        state = recording
    else:
        state = load_run(run_dir)
        if not state.tasks.n_tasks() and not state.failures and "run.json" not in os.listdir(run_dir):
            _err(f"{run_dir}: no readable run.json, tasks or failures")
            return EXIT_USAGE
        diag = diagnose(state, stale_after_s=args.stale_after, slurm=args.slurm, log_dir=args.slurm_log_dir)
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
    from assistant.textsafe import printable

    cols = ("run_id", "project", "status", "started", "succeeded", "failed", "unfinished")
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


def _ai_config(args: argparse.Namespace) -> Any:
    """The AI settings of the TUI commands: None with --no-ai (nothing is ever sent)."""
    if args.no_ai:
        return None
    from assistant.llm.cli import config_from_args  # no openai import, no socket

    try:
        return config_from_args(args)
    except Exception:  # noqa: BLE001 - AI is optional: the app runs without it
        return None


def _run_app(app: Any) -> int:
    """Run a Textual app to its end; its return code becomes the exit status."""
    app.run()
    return EXIT_OK if app.return_code in (None, 0) else int(app.return_code or 1)


def cmd_review(args: argparse.Namespace) -> int:
    """The Textual app; every Textual import stays inside this function."""
    from scalable_tui.sources.rundir.locate import RunNotFound, default_runs_dir, list_runs, no_runs_message, resolve_run

    if args.run_dir is not None and Path(args.run_dir).is_file():
        from scalable_tui.sources.recording.reader import Recording, RecordingError, is_recording

        if is_recording(args.run_dir):  # a recording (scalable-tui record): replay it with a timeline
            try:
                recording = Recording(args.run_dir)
            except RecordingError as exc:
                _err(str(exc))
                return EXIT_USAGE
            from scalable_tui.tui.replay import ReplayApp

            return _run_app(ReplayApp(recording, no_ai=args.no_ai, ai_config=_ai_config(args)))

    runs: list[Path] = []
    run_dir: Path | None = None
    try:
        if args.run_dir is None and not args.latest and args.run_id is None:
            runs = list_runs(args.runs_dir)
            if not runs:
                root = Path(args.runs_dir) if args.runs_dir else default_runs_dir()
                raise RunNotFound(f"{no_runs_message(root)}; or name a RUN_DIR")
        else:
            run_dir = resolve_run(args.run_dir, latest=args.latest, run_id=args.run_id, runs_dir=args.runs_dir)
    except RunNotFound as exc:
        _err(str(exc))
        return EXIT_USAGE

    from scalable_tui.tui.app import ReviewApp
    from scalable_tui.sources.rundir.reader import RunDirReader

    source = RunDirReader(run_dir) if run_dir is not None else None
    return _run_app(ReviewApp(source, runs=runs, stale_after_s=args.stale_after, no_ai=args.no_ai,
                              ai_config=_ai_config(args), slurm=args.slurm))


def _security(args: argparse.Namespace):
    """TLS the Dask way: the --tls-* files, else dask config distributed.comm.tls.* (None)."""
    if not (args.tls_ca_file or args.tls_cert or args.tls_key):
        return None
    from scalable_tui.sources.live.tls import check_tls_files

    check_tls_files(args.tls_ca_file, args.tls_cert, args.tls_key)  # before anything starts: one line, exit 2
    from distributed.security import Security

    return Security(tls_ca_file=args.tls_ca_file, tls_client_cert=args.tls_cert, tls_client_key=args.tls_key,
                    require_encryption=True)


def _address(args: argparse.Namespace) -> str | None:
    """ADDRESS, else --scheduler-file, else the environment / dask config; None after a one-line error."""
    from scalable_tui.sources.live.address import LiveAddressError, resolve_address

    try:
        return resolve_address(args.address, args.scheduler_file)
    except LiveAddressError as exc:
        _err(str(exc))
        return None


def _tls(args: argparse.Namespace) -> tuple[bool, Any]:
    """(ok, the --tls-* security or None); not ok after a one-line error (unreadable files etc.)."""
    try:
        return True, _security(args)
    except Exception as exc:  # noqa: BLE001 - unreadable certificate files etc.
        _err(f"TLS: {exc}")
        return False, None


def _jobs(args: argparse.Namespace, log_dir: str | None = None, cluster: str | None = None) -> Any:
    """The Slurm job source of --slurm / --slurm-name (None when off or squeue is missing); only the jobs
    with evidence that they run this scheduler's (``cluster``) workers count (sources.slurm_attribution)."""
    from scalable_tui.sources.jobs.slurm import job_source

    mode = getattr(args, "slurm", "auto")
    return job_source("off" if mode == "off" else "auto", force=mode == "force", name=getattr(args, "slurm_name", None),
                      log_dir=log_dir, cluster=cluster)


def cmd_attach(args: argparse.Namespace) -> int:
    """The live app; textual and distributed are imported here only."""
    address = _address(args)
    if address is None:
        return EXIT_USAGE
    ok, security = _tls(args)
    if not ok:
        return EXIT_USAGE
    if getattr(args, "remove_plugin", False):
        return _remove_plugin(address, security, getattr(args, "call_timeout", None) or 10.0)
    from scalable_tui.tui.attach import AttachApp

    ai_config = _ai_config(args)
    slurm_mode = getattr(args, "slurm", "auto")
    jobs = _jobs(args, log_dir=getattr(args, "slurm_log_dir", None), cluster=address)
    off_reason = "--slurm off" if slurm_mode == "off" else "squeue not on PATH (--slurm force to try anyway)"
    alerts = _alerts(args, record=False)
    if alerts is False:
        return EXIT_USAGE
    recorder = None
    if getattr(args, "record", None):
        from scalable_tui.sources.recording.writer import RecordingWriter
        from scalable_tui.sources.recording.format import RecordingError

        try:
            recorder = RecordingWriter.create(args.record, mode="append" if args.record_append else "create",
                                              address=address, interval=args.poll_interval)
        except RecordingError as exc:
            _err(str(exc))
            return EXIT_USAGE
    app = AttachApp(address, security=security, poll_interval=args.poll_interval, no_ai=args.no_ai, ai_config=ai_config,
                    call_timeout=getattr(args, "call_timeout", None),
                    recorder=recorder, alerts=alerts,
                    job_source=jobs, jobs_interval=getattr(args, "slurm_interval", 20.0),
                    slurm_log_dir=getattr(args, "slurm_log_dir", None), jobs_off_reason=off_reason)
    if alerts is not None:
        alerts.use_app(app, notify=args.notify)
    return _run_app(app)


def _remove_plugin(address: str, security: Any, timeout: float = 10.0) -> int:
    import asyncio

    from scalable_tui.sources.live.source import LiveSource
    from scalable_tui.sources.live.transport import classify_error

    async def go() -> str:
        return await LiveSource(address, security=security, call_timeout=timeout).remove_plugin()

    try:
        print(asyncio.run(go()))
    except Exception as exc:  # noqa: BLE001 - a dead or unreachable scheduler: one clear line
        kind, reason = classify_error(exc, timeout)  # the words attach uses for a lost link
        _err(f"cannot reach the scheduler at {address}: {kind}: {reason}")
        return 2
    return 0


#: The demo's Jobs screen: its cluster is a LocalCluster, whatever is on PATH.
DEMO_JOBS_OFF = "this cluster is not a Slurm cluster (LocalCluster): no batch jobs behind its workers"


def demo_app(address: str, args: argparse.Namespace) -> Any:
    """The attach app as the demo opens it (its own title, AI options, no Slurm)."""
    from scalable_tui.tui.attach import AttachApp

    return AttachApp(address, poll_interval=args.poll_interval, no_ai=args.no_ai, ai_config=_ai_config(args),
                     title="scalable-tui demo (local cluster)", jobs_off_reason=DEMO_JOBS_OFF)


def cmd_demo(args: argparse.Namespace) -> int:
    """``demo``: a LocalCluster + workload, then the attach app (or a headless summary)."""
    from scalable_tui.demo import Demo, run_headless

    if args.headless:
        return run_headless(args.duration, args.format)

    demo = Demo()
    try:
        address = demo.start()
        demo.start_workload()
        app = demo_app(address, args)
        app.run()
    finally:
        demo.close()
    return EXIT_OK


def cmd_record(args: argparse.Namespace) -> int:
    """``record``: headless; distributed is imported here only."""
    address = _address(args)
    if address is None:
        return EXIT_USAGE
    if args.interval <= 0:
        _err("--interval must be positive")
        return EXIT_USAGE
    ok, security = _tls(args)
    if not ok:
        return EXIT_USAGE
    import asyncio

    from scalable_tui.session.record import record
    from scalable_tui.sources.recording.format import RecordingError

    alerts = _alerts(args, record=True)
    if alerts is False:
        return EXIT_USAGE
    jobs = _jobs(args, cluster=address)
    if jobs is None:
        _err("note: Slurm jobs not recorded: " + ("--slurm off" if getattr(args, "slurm", "auto") == "off"
                                                  else "squeue not on PATH (--slurm force to try anyway)"))
    mode = "append" if args.append else "force" if args.force else "create"
    try:
        result = asyncio.run(record(address, args.out, interval=args.interval, give_up_after=args.give_up_after,
                                    security=security, mode=mode, job_source=jobs,
                                    call_timeout=getattr(args, "call_timeout", None),
                                    jobs_interval=getattr(args, "slurm_interval", 20.0),
                                    on_frame=alerts.frame if alerts else None))
    except RecordingError as exc:
        _err(str(exc))
        return EXIT_USAGE
    finally:
        if alerts:
            alerts.close()
    _err(result.line())
    return result.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `scalable-tui diagnose … | head`: not an error.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        except OSError:
            pass
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The argument parser of every ``scalable-tui`` command (one table of options; commands import their work lazily).

Over 200 lines of ``add_argument`` calls, kept together so that every command's options
read alike; no logic lives here.
"""

from __future__ import annotations

import argparse

from scalable_tui import __version__
from scalable_tui.cli.common import SEVERITY_LEVELS, _CALL_TIMEOUT_HELP, _call_timeout, _duration
from scalable_tui.cli.offline import cmd_diagnose, cmd_history, cmd_runs
from scalable_tui.cli.apps import cmd_attach, cmd_demo, cmd_record, cmd_review


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

    from scalable_tui.cli.plan import add_plan_commands

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
    rsl.add_argument("--slurm-log-dir", metavar="DIR", help="dask-jobqueue log_directory: job logs (time limit, "
                     "oom-kill lines) for the --notify/--on-finding alerts, as attach reads them")
    rsl.add_argument("--slurm-interval", type=_duration, default=20.0, metavar="DURATION",
                     help="time between squeue calls, one for all jobs (default: 20s); a poll that changed nothing is not stored")
    _add_alert_options(rc)
    rc.set_defaults(func=cmd_record)
    return parser

"""What every command shares: exit codes, argument types, stderr messages and the address / TLS / Slurm / AI / alert set-up.

Standard library only at import time (``--help`` stays cheap).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, NamedTuple


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


def _err(msg: str) -> None:
    print(f"scalable-tui: {msg}", file=sys.stderr)


def _inside(child: Path, parent: Path) -> bool:
    try:
        child.resolve().relative_to(parent.resolve())
    except ValueError:
        return False
    return True


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


def _alerts(args: argparse.Namespace, *, record: bool) -> Any:
    """The LiveAlerts of --notify / --on-finding (None: neither); False after a one-line error."""
    from scalable_tui.session.live_alerts import AlertSetupError, build_alerts

    try:
        # record diagnoses for its alerts itself (attach's come from the app's diagnosis): it reads the job logs
        return build_alerts(notify=args.notify, on_finding=args.on_finding, on_finding_timeout=args.on_finding_timeout,
                            every=args.alert_every, diagnose=record, terminal=None if record else False,
                            log_dir=getattr(args, "slurm_log_dir", None) if record else None)
    except AlertSetupError as exc:
        _err(str(exc))
        return False


class Opened(NamedTuple):
    """A run directory or a recording, read and diagnosed through the session pipeline."""

    state: Any
    diagnosis: Any
    path: Path
    is_recording: bool


def open_and_diagnose(
    args: argparse.Namespace,
    *,
    verb: str,
    slurm: str,
    log_dir: str | None = None,
    notes: bool = False,
    check_run_dir: Callable[[Path], str | None] | None = None,
) -> Opened | int:
    """RUN_DIR | FILE.rec | --latest | --run-id as the commands take it, or an exit code after one message.

    ``verb`` words the never-connected message ("there is nothing to {verb}");
    ``notes`` prints a recording's notices; ``check_run_dir`` may refuse a
    resolved run directory before it is read (its message, exit 2).
    """
    from scalable_tui.sources.rundir.locate import RunNotFound, resolve_run

    if args.run_dir and Path(args.run_dir).is_file():
        from scalable_tui.session.pipeline import NothingRecorded, diagnose_recording_file
        from scalable_tui.sources.recording.reader import RecordingError

        try:
            state, diag, notices = diagnose_recording_file(args.run_dir, slurm=slurm, log_dir=log_dir,
                                                           stale_after_s=args.stale_after)
        except NothingRecorded as exc:  # nothing was seen: not "no failures"
            _err(f"{args.run_dir}: {exc}; there is nothing to {verb}")
            return EXIT_USAGE
        except RecordingError as exc:
            _err(f"{exc}; expected a run directory or a recording made by 'scalable-tui record'")
            return EXIT_USAGE
        if notes:
            for n in notices:
                _err(f"note: {n}")
        return Opened(state, diag, Path(args.run_dir), True)
    try:
        run_dir = resolve_run(args.run_dir, latest=args.latest, run_id=args.run_id, runs_dir=args.runs_dir)
    except RunNotFound as exc:
        _err(str(exc))
        return EXIT_USAGE
    refusal = check_run_dir(Path(run_dir)) if check_run_dir is not None else None
    if refusal:
        _err(refusal)
        return EXIT_USAGE
    from scalable_tui.session import diagnose
    from scalable_tui.sources.rundir.reader import load_run

    state = load_run(run_dir)
    if not state.tasks.n_tasks() and not state.failures and "run.json" not in os.listdir(run_dir):
        _err(f"{run_dir}: no readable run.json, tasks or failures")
        return EXIT_USAGE
    return Opened(state, diagnose(state, stale_after_s=args.stale_after, slurm=slurm, log_dir=log_dir),
                  Path(run_dir), False)

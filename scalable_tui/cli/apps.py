"""The commands that open the terminal app or watch a scheduler: ``review``, ``attach``, ``demo``, ``record``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from scalable_tui.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    _address,
    _ai_config,
    _alerts,
    _err,
    _jobs,
    _run_app,
    _tls,
)


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
    from scalable_tui.sources.recording.writer import check_target

    mode = "append" if args.append else "force" if args.force else "create"
    try:
        check_target(Path(args.out), mode)  # before anything else: a refusal is the only line printed
    except (RecordingError, OSError) as exc:
        _err(str(exc))
        return EXIT_USAGE
    alerts = _alerts(args, record=True)
    if alerts is False:
        return EXIT_USAGE
    jobs = _jobs(args, log_dir=getattr(args, "slurm_log_dir", None), cluster=address)
    if jobs is None:
        _err("note: Slurm jobs not recorded: " + ("--slurm off" if getattr(args, "slurm", "auto") == "off"
                                                  else "squeue not on PATH (--slurm force to try anyway)"))
    try:
        result = asyncio.run(record(address, args.out, interval=args.interval, give_up_after=args.give_up_after,
                                    security=security, mode=mode, job_source=jobs,
                                    call_timeout=getattr(args, "call_timeout", None),
                                    jobs_interval=getattr(args, "slurm_interval", 20.0),
                                    on_frame=alerts.frame if alerts else None,
                                    on_jobs=alerts.jobs if alerts else None))
    except RecordingError as exc:
        _err(str(exc))
        return EXIT_USAGE
    finally:
        if alerts:
            alerts.close()
    _err(result.line())
    return result.exit_code

"""The AI step of ``scalable-tui diagnose`` (kept here so ``cli.py`` stays small).

``cmd_diagnose`` calls :func:`show_prompt` for ``--show-prompt`` and
:func:`explain_for_cli` unless ``--no-ai`` is given.  Both write notes through
the ``err`` callable (one line each, on stderr) and never raise for AI
problems: the heuristic report always prints in full.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable

import orjson

from assistant.llm.config import AI_OFF_HINT, AIConfig, resolve_config
from scalable_tui.model.diagnosis import Diagnosis
from assistant.textsafe import one_line

Err = Callable[[str], None]


def config_from_args(args: argparse.Namespace) -> AIConfig:
    return resolve_config(
        endpoint=getattr(args, "ai_endpoint", None),
        model=getattr(args, "ai_model", None),
        timeout_s=getattr(args, "ai_timeout", None),
        budget_tokens=getattr(args, "ai_budget", None),
        keep_hosts=bool(getattr(args, "ai_keep_hosts", False)),
        use_cache=not getattr(args, "no_cache", False),
        redact_rules_file=getattr(args, "redact_rules", None),
    )


def _context(state: Any) -> dict[str, Any] | None:
    from assistant.llm.context import run_context

    return run_context(state) if state is not None else None


def check_rules_file(cfg: AIConfig, err: Err) -> None:
    """A bad --redact-rules file is a usage error (exit 2), told in one line before anything is sent."""
    if cfg.redact_rules_file is None:
        return
    from assistant.llm.redact_compile import RedactionRulesError, load_rules_file

    try:
        load_rules_file(cfg.redact_rules_file)
    except RedactionRulesError as exc:
        err(one_line(str(exc), 400))
        raise SystemExit(2) from None


def show_prompt(args: argparse.Namespace, diag: Diagnosis, state: Any, err: Err) -> int:
    """Print the exact messages as JSON (stdout or ``-o``) and send nothing."""
    from assistant.llm.payload import build_prompt
    from assistant.llm.redact_compile import RedactionRulesError

    cfg = config_from_args(args)
    try:
        prompt = build_prompt(diag, None, cfg, context=_context(state))
    except RedactionRulesError as exc:
        err(one_line(str(exc), 400))
        return 2
    out = orjson.dumps(prompt.preview(), option=orjson.OPT_INDENT_2).decode() + "\n"
    if getattr(args, "output", None):
        try:
            Path(args.output).write_text(out, encoding="utf-8")
        except OSError as exc:
            err(f"cannot write {args.output}: {exc.strerror or exc}")
            return 2
    else:
        sys.stdout.write(out)
        sys.stdout.flush()
    err(f"note: --show-prompt: nothing was sent; {prompt.summary_line()}")
    return 0


def explain_for_cli(args: argparse.Namespace, diag: Diagnosis, state: Any, run_dir: Path, err: Err) -> Diagnosis:
    """The diagnosis with AI explanations when AI is configured; otherwise as it was."""
    cfg = config_from_args(args)
    check_rules_file(cfg, err)
    if not cfg.enabled:
        # Only for a person at a terminal: in cron and scripts the note is
        # noise on every run (and mail from cron).
        if sys.stderr.isatty():
            err(AI_OFF_HINT)
        return diag
    from assistant.llm import cache
    from assistant.llm.client import attach_explanations, explain_findings

    if cfg.use_cache and cfg.cache_dir is not None and cache.usable_cache_dir(cfg.cache_dir, [run_dir]) is None:
        err("note: the AI cache directory is inside the run directory; not caching")
        cfg.use_cache = False
    if not diag.findings:
        return diag
    try:
        result = explain_findings(diag, None, cfg, context=_context(state))
    except KeyboardInterrupt:
        err("AI request interrupted; showing the heuristic findings only")
        return diag
    if result.error:
        err(result.error + "; showing the heuristic findings only")
        return diag
    if result.problems:
        err("note: " + "; ".join(result.problems))
    if result.prompt is not None and result.prompt.over_budget:
        err(f"note: the AI request was over the token budget ({result.prompt.summary_line()})")
    return attach_explanations(diag, result)

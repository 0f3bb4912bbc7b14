"""The ``scalable-tui`` command line: parsing and dispatch.

Only argparse and the standard library at import time: ``--help`` must not
pay for Textual, distributed or openai.  Each command imports what it needs
when it runs.  ``parser`` holds the options of every command, ``offline`` the
commands over finished data, ``apps`` the ones that open the app or watch a
scheduler, ``plan`` retry-plan and efficiency, ``common`` what they share.
"""

from __future__ import annotations

import os
import sys
from typing import Sequence

from scalable_tui.cli.apps import demo_app
from scalable_tui.cli.common import EXIT_OK, EXIT_USAGE
from scalable_tui.cli.parser import build_parser

__all__ = ["build_parser", "demo_app", "main"]


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

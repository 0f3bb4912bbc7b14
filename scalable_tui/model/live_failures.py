"""A failed task as the scheduler reports it, and reading what its exception text says.

Plain data (no ``distributed``); part of the live snapshot (``live.py``).
Exception texts arrive as reprs (``"ValueError('bad 3')"``): split them into
type and message, rebuild an ``OSError``'s ``str()``, and word the memory
kills the nanny and the scheduler report.
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

__all__ = ["LiveFailure", "split_exception_text", "os_error_message", "memory_kill_text", "near_limit_text",
           "OS_ERROR_TYPES", "FILENAME_LOST", "TIME_BEFORE_ATTACH"]


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def _mb(n: int | float | None) -> str:
    if n is None:
        return "?"
    return f"{n / 2**20:.0f} MiB"



_REPR = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)\((?P<args>.*)\)$", re.S)


def split_exception_text(text: str | None, exc_type: str | None = None) -> tuple[str, str]:
    """``"ValueError('bad 3')"`` -> ``("ValueError", "bad 3")``; ``"KilledWorker: …"`` -> its parts."""
    if not text:
        return exc_type or "Exception", ""
    text = text.strip()
    m = _REPR.match(text)
    if m and (exc_type is None or m.group("type").rsplit(".", 1)[-1] == exc_type):
        args = m.group("args")
        try:
            value = ast.literal_eval(f"({args},)") if args else ()
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return m.group("type"), args
        if len(value) == 1:
            return m.group("type"), str(value[0])
        return m.group("type"), ", ".join(repr(v) for v in value) if value else ""
    if exc_type and text.startswith(exc_type + ":"):
        return exc_type, text[len(exc_type) + 1 :].strip()
    head, sep, rest = text.partition(":")
    if sep and re.fullmatch(r"[A-Za-z_][\w.]*", head.strip()):
        return head.strip(), rest.strip()
    return exc_type or "Exception", text


#: Builtin exception types that are file errors (OSError and its subclasses).
OS_ERROR_TYPES = frozenset(n for n, o in vars(builtins).items() if isinstance(o, type) and issubclass(o, OSError))
#: Said in place of a file name that did not survive the trip to the scheduler.
FILENAME_LOST = "the scheduler kept only the errno: the file name was lost"
#: Printed wherever a failure's time is unknown because it happened before the monitor attached.
TIME_BEFORE_ATTACH = "before attach"


def os_error_message(exception: str | None, exc_type: str, filename: str | None = None,
                     filename2: str | None = None) -> str | None:
    """``"FileNotFoundError(2, 'No such file or directory')"`` + path -> Python's ``str(e)``.

    None when the text is not an ``OSError`` repr with ``(errno, strerror)``.
    """
    m = _REPR.match((exception or "").strip())
    if not m:
        return None
    try:
        args = ast.literal_eval(f"({m.group('args')},)") if m.group("args") else ()
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    if len(args) < 2 or not isinstance(args[0], int) or not isinstance(args[1], str):
        return None
    filename = filename or (args[2] if len(args) > 2 and isinstance(args[2], str) else None)
    text = f"[Errno {args[0]}] {args[1]}"
    if filename is not None:
        text += f": {filename!r}"
        if filename2 is not None:
            text += f" -> {filename2!r}"
    return text


@dataclass(slots=True)
class LiveFailure:
    """One erred task (the one that raised: its erred dependents are only counted)."""

    key: str
    prefix: str
    exception_type: str
    #: The exception as the scheduler has it (``repr`` from the worker, or text made scheduler-side).
    exception: str
    #: Python traceback text (head and tail kept when very long), or None (KilledWorker).
    traceback: str | None
    #: Worker identities (names) it erred on; addresses in ``erred_on_addresses``.
    erred_on: list[str]
    #: When it erred, on this machine's clock; None when unknown (it erred before the
    #: monitor attached and the scheduler no longer remembers when: see ``before_attach``).
    first_seen: float | None
    #: Worker deaths while it was running (Dask's ``TaskState.suspicious``).
    suspicious: int = 0
    erred_on_addresses: list[str] = field(default_factory=list)
    #: For KilledWorker: the workers it killed (identities) and their addresses, oldest first.
    killed_workers: list[str] = field(default_factory=list)
    killed_addresses: list[str] = field(default_factory=list)
    scheduler_id: str | None = None
    group: str | None = None
    dependents: int = 0
    #: Times the same key erred again (after a retry); the text is the latest.
    occurrences: int = 1
    #: Erred before the monitor plugin was installed.  Its ``first_seen`` is then the
    #: scheduler's own time (``time_from`` says which record) or None: never the attach time.
    before_attach: bool = False
    #: "plugin" (full detail) or "logs" (limited mode: from a scheduler log line).
    origin: str = "plugin"
    #: Where ``first_seen`` comes from: "plugin" (seen as it erred), "transition_log" /
    #: "task-stream" (the scheduler's record of an earlier failure), "log", or None (unknown).
    time_from: str | None = None
    #: File errors: the path(s) Dask's ``repr(e)`` dropped, recovered on the scheduler.
    filename: str | None = None
    filename2: str | None = None
    #: "exception" (the exception object's attributes) or "traceback" (a literal in its source line).
    filename_from: str | None = None
    #: A file error whose file name nobody kept (only the errno reached the scheduler).
    filename_lost: bool = False

    @property
    def time_known(self) -> bool:
        return self.first_seen is not None

    @property
    def time_text(self) -> str:
        """How to print when it erred: a clock time is the caller's job; this is the unknown case."""
        return TIME_BEFORE_ATTACH if self.first_seen is None else _iso(self.first_seen) or ""

    @property
    def message(self) -> str:
        """The message as Python prints it (``str(e)``), with a file error's path put back."""
        if self.exception_type in OS_ERROR_TYPES:
            text = os_error_message(self.exception, self.exception_type, self.filename, self.filename2)
            if text is not None:
                if self.filename_lost:
                    return f"{text} ({FILENAME_LOST})"
                if self.filename_from == "traceback":
                    return f"{text} (file name from the traceback's source line)"
                return text
        return split_exception_text(self.exception, self.exception_type)[1]

    @property
    def traceback_text(self) -> str | None:
        """A complete Python traceback (header, frames, final line) for display and grouping."""
        if not self.traceback:
            return None
        tb = self.traceback
        if not tb.endswith("\n"):
            tb += "\n"
        return f"Traceback (most recent call last):\n{tb}{self.exception_type}: {self.message}"


def memory_kill_text(address: str, pid: Any, rss: int | None, limit: int | None, terminate: float | None) -> str:
    """The nanny's own words (its log line is not reachable without a broadcast) plus the numbers."""
    frac = f"{terminate * 100:.0f}%" if terminate else "its"
    tail = f" (worker-restart-memory: rss {_mb(rss)}"
    if limit:
        tail += f" = {rss / limit:.0%} of memory_limit {_mb(limit)}" if rss else f", memory_limit {_mb(limit)}"
    tail += ")"
    return f"Worker {address} (pid={pid}) exceeded {frac} memory budget. Restarting...{tail}"


def near_limit_text(address: str, rss: int | None, limit: int | None, paused: bool) -> str:
    parts = []
    if rss is not None and limit:
        parts.append(f"{rss / limit:.0%} of its memory budget ({_mb(rss)} of {_mb(limit)})")
    if paused:
        parts.append("paused for memory")
    return f"Worker {address} died after its memory sat near the limit: " + ", ".join(parts)

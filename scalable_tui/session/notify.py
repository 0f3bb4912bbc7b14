"""Delivering alerts: a terminal bell + desktop notification, and ``--on-finding CMD``.

Headless (no Textual import): the attach app is used duck-typed.

Terminal notifications are escape sequences the terminal turns into a desktop
notification: OSC 9 (iTerm2, kitty, WezTerm, Windows Terminal, ConEmu) and
OSC 777 (``notify;title;body``: WezTerm, foot, Ghostty, rxvt-unicode, VTE with
the patch).  Both are sent after a bell: a terminal that knows neither still
rings.  Inside tmux ($TMUX set) each OSC is wrapped in tmux's passthrough
(``ESC P tmux; … ESC \\``, inner ESCs doubled), which tmux forwards to the outer
terminal when ``allow-passthrough`` is on (tmux >= 3.3: ``set -g allow-passthrough on``).

The text comes from findings, i.e. from task exceptions: untrusted.  ``clean``
makes it one printable line (every control, bidi and C1 character shown as
``\\xNN``, so a title cannot end the OSC early or inject its own escape), and
cuts it; ``;`` in the OSC 777 title becomes ``,`` (it would shift the body).

``--on-finding CMD``: the command (shlex-split, no shell unless the user
writes ``sh -c``) runs once per delivery with a JSON document on stdin.  That
document is NOT redacted: it is local data (titles of local failures, the
scheduler address) handed to a command the user chose; where it goes from
there is the user's decision.  The tool itself opens no network connection.
Commands run one at a time on a daemon thread (never in the poll loop), each
bounded by a timeout after which its whole process group is killed; the
outcome is logged as one line.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

import orjson

from assistant.textsafe import printable_line
from scalable_tui.session.alerts import Alert, summary

__all__ = ["AppTerminal", "CommandRunner", "Delivery", "TtyTerminal", "clean", "osc_notification",
           "payload", "stderr_log"]

ESC = "\x1b"
BEL = "\x07"
ST = ESC + "\\"
#: Longest notification body (desktop notifications show about two lines anyway).
BODY_LIMIT = 240
TITLE_LIMIT = 80


def clean(text: str, limit: int = BODY_LIMIT) -> str:
    """Untrusted text -> one printable line of at most ``limit`` characters."""
    line = printable_line(str(text)).strip()
    return line if len(line) <= limit else line[: limit - 1] + "…"


def tmux_wrap(seq: str) -> str:
    """``seq`` through tmux's passthrough (ESCs inside doubled)."""
    return f"{ESC}Ptmux;{seq.replace(ESC, ESC + ESC)}{ST}"


def osc_notification(title: str, body: str, *, tmux: bool = False, bell: bool = True) -> str:
    """The bytes (as str) of a bell, an OSC 9 and an OSC 777 notification for ``title`` / ``body``."""
    t = clean(title, TITLE_LIMIT).replace(";", ",")
    b = clean(body)
    # OSC 9 has no title field; starting with the title also keeps "4;…" (a Windows Terminal /
    # ConEmu progress report) from being read out of a body that starts with digits.
    seqs = [f"{ESC}]9;{t}: {b}{BEL}", f"{ESC}]777;notify;{t};{b}{BEL}"]
    if tmux:
        seqs = [tmux_wrap(s) for s in seqs]
    return (BEL if bell else "") + "".join(seqs)


class Delivery:
    """One batch of alerts as every sink needs it: title, body, and the JSON for ``--on-finding``."""

    __slots__ = ("alerts", "title", "body", "address", "scheduler_id", "time")

    def __init__(self, alerts: list[Alert], *, address: str = "", scheduler_id: str | None = None,
                 now: float | None = None) -> None:
        self.alerts = alerts
        self.title, self.body = summary(alerts)
        self.address = address
        self.scheduler_id = scheduler_id
        self.time = time.time() if now is None else now


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def payload(d: Delivery) -> bytes:
    """The ``--on-finding`` document (format ``scalable-tui.alert/1``; see the README).  Not redacted."""
    doc = {
        "format": "scalable-tui.alert/1",
        "time": _iso(d.time),
        "address": d.address,
        "scheduler_id": d.scheduler_id,
        "title": d.title,
        "summary": d.body,
        "alerts": [{**a.as_dict(), "time": _iso(a.time), "address": d.address, "scheduler_id": d.scheduler_id}
                   for a in d.alerts],
    }
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"


def stderr_log(line: str) -> None:
    """A log line for the headless recorder (stderr is its log)."""
    try:
        print(f"scalable-tui: {clean(line, 500)}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


class TtyTerminal:
    """``record --notify``: the escapes go to the controlling terminal, and one line to stderr (the log).

    /dev/tty first (stdout/stderr are often redirected to a log under nohup
    while the terminal is still there); else stderr when it is a terminal;
    else no escapes at all (they would only litter a log file).
    """

    def __init__(self, *, tty: str = "/dev/tty", tmux: bool | None = None,
                 log: Callable[[str], None] = stderr_log) -> None:
        self.tmux = bool(os.environ.get("TMUX")) if tmux is None else tmux
        self.log = log
        self.fd: int | None = None
        self._own = False
        try:
            self.fd = os.open(tty, os.O_WRONLY | os.O_NOCTTY)
            self._own = True
        except OSError:
            try:
                if sys.stderr.isatty():
                    self.fd = sys.stderr.fileno()
            except (AttributeError, OSError, ValueError):
                self.fd = None

    def __call__(self, d: Delivery) -> None:
        self.log(f"alert: {d.body}")
        if self.fd is None:
            return
        data = osc_notification(d.title, d.body, tmux=self.tmux).encode("utf-8")
        try:
            while data:
                data = data[os.write(self.fd, data):]
        except OSError:
            self.fd = None  # the terminal went away: the log line is still written

    def close(self) -> None:
        if self._own and self.fd is not None:
            try:
                os.close(self.fd)
            except OSError:
                pass
        self.fd = None


class AppTerminal:
    """``attach --notify``: the Textual app owns the terminal, so everything goes through it.

    The bell is ``App.bell()``; the OSC sequences are written with the app's
    driver (``app._driver.write``), the same way Textual's own
    ``App.copy_to_clipboard`` sends OSC 52: the driver's writer thread keeps
    the order, so the sequence lands between two frames, never inside one.
    Headless apps (tests, ``run_test``) get only the toast.  Called on the
    app's thread.
    """

    def __init__(self, app: Any, *, tmux: bool | None = None) -> None:
        self.app = app
        self.tmux = bool(os.environ.get("TMUX")) if tmux is None else tmux
        #: What was written (tests look at it: a headless driver writes nothing anywhere).
        self.sent: list[str] = []

    def __call__(self, d: Delivery) -> None:
        app = self.app
        app.notify(clean(d.body, 500), title=clean(d.title, TITLE_LIMIT), severity="error", timeout=20,
                   markup=False)
        seq = osc_notification(d.title, d.body, tmux=self.tmux, bell=False)
        self.sent.append(seq)
        driver = getattr(app, "_driver", None)
        if driver is None or getattr(app, "is_headless", True):
            return
        app.bell()
        driver.write(seq)

    def log(self, line: str) -> None:
        """A log line from another thread (the --on-finding runner): a toast."""
        try:
            self.app.call_from_thread(self.app.notify, clean(line, 500), title="--on-finding", timeout=10,
                                      markup=False)
        except Exception:  # noqa: BLE001 - the app is closing
            pass


class CommandRunner:
    """``--on-finding CMD``: run ``argv`` once per delivery, one at a time, off the poll loop."""

    def __init__(self, argv: Sequence[str], *, timeout: float = 30.0, log: Callable[[str], None] = stderr_log,
                 max_queued: int = 20) -> None:
        if not argv:
            raise ValueError("--on-finding needs a command")
        self.argv = list(argv)
        self.timeout = float(timeout)
        self.log = log
        self.runs = 0
        self._q: queue.Queue[bytes | None] = queue.Queue(maxsize=max_queued)
        self._thread = threading.Thread(target=self._loop, name="on-finding", daemon=True)
        self._thread.start()

    def __call__(self, d: Delivery) -> None:
        try:
            self._q.put_nowait(payload(d))
        except queue.Full:
            self.log(f"on-finding: {self.argv[0]} is behind ({self._q.qsize()} waiting); this alert not passed on")

    def _loop(self) -> None:
        while True:
            doc = self._q.get()
            try:
                if doc is None:
                    return
                self._run(doc)
            finally:
                self._q.task_done()

    def _run(self, doc: bytes) -> None:
        name = os.path.basename(self.argv[0])
        self.runs += 1
        try:
            proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            self.log(f"on-finding: cannot run {name}: {exc.strerror or exc}")
            return
        try:
            out, _ = proc.communicate(doc, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # its own session: the command and its children
            except OSError:
                pass
            proc.communicate()
            self.log(f"on-finding: {name} killed after {self.timeout:g} s")
            return
        text = out.decode("utf-8", "replace").strip().splitlines()
        tail = f": {text[-1]}" if text else ""
        self.log(f"on-finding: {name} exit {proc.returncode}{tail}")

    def close(self, wait: float | None = None) -> bool:
        """Let queued commands finish (at most ``wait`` s, default one timeout each); True when all did."""
        wait = self.timeout * (self._q.qsize() + 1) if wait is None else wait
        deadline = time.monotonic() + wait
        try:
            self._q.put(None, timeout=max(0.1, wait))
        except queue.Full:
            return False
        self._thread.join(max(0.0, deadline - time.monotonic()))
        return not self._thread.is_alive()

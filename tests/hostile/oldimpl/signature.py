"""Deterministic failure signatures: the same bug gives the same signature.

Grouping is what turns 5,000 failure records into one finding, so the
signature ignores what differs between occurrences of one bug (numbers, ids,
paths of other users, hosts, addresses, line numbers) and keeps what tells
bugs apart (exception types, the in-app frames where it happened).  Bump
``SIGNATURE_VERSION`` whenever the normalisation changes, so stored
signatures (caches, recordings) are never compared across versions.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

SIGNATURE_VERSION = 1

# Order matters: the specific masks run before the generic number mask.
_MASKS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"-----BEGIN [A-Z ]+-----.*?-----END [A-Z ]+-----", re.S), "<pem>"),
    (re.compile(r"\b(?:tcp|tls|ucx|inproc|ws|wss)://[^\s'\",)>\]]+"), "<address>"),
    (re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\",)>\]]+"), "<url>"),
    (re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"), "<email>"),
    (re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"), "<uuid>"),
    # Dask keys: name-<32 hex> (futures) and ('name-<hex>', 3) tuples.
    (re.compile(r"(?<=-)[0-9a-f]{32}\b"), "<hash>"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "<hex>"),
    (re.compile(r"\b[0-9a-f]{12,}\b"), "<hex>"),
    (re.compile(r"(/(?:home|Users|scratch|work|gpfs|lustre)/)[^/\s'\"]+"), r"\1<user>"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"), "<ip>"),
    (re.compile(r"\b[a-zA-Z][\w-]*(?:\.[a-zA-Z][\w-]*){2,}\.(?:org|com|net|edu|gov|local|internal|cluster|lan)\b"), "<host>"),
    (re.compile(r"\b\d+(?:\.\d+)?\s?(?:[KMGTP]i?B|[kKMGTP]|bytes)\b"), "<size>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?Z?"), "<time>"),
    # Numbers, except those that name the error: errno values and signals.
    (re.compile(r"(?<![A-Za-z0-9.])(?<!Errno )(?<!signal )(?<!code )\d+(?:\.\d+)?"), "<n>"),
)
_SPACES = re.compile(r"\s+")
MAX_PATTERN = 300
_DIGIT = re.compile(r"\d")
#: Per mask: a substring every match contains (None: none known) and whether
#: every match contains a digit.  A mask whose condition fails on the current
#: text cannot match, so skipping it changes nothing; it halves the cost of
#: diagnosing thousands of failures.  Replacements never add digits or these
#: substrings, so a condition checked on the current text stays exact.
_NEEDS: tuple[tuple[str | None, bool], ...] = (
    ("-----BEGIN ", False),  # pem
    ("://", False),  # address
    ("://", False),  # url
    ("@", False),  # email
    ("-", False),  # uuid
    ("-", False),  # dask key hash
    ("0x", False),  # 0x hex
    (None, False),  # long hex words (may be all letters a-f)
    ("/", False),  # user paths
    (".", True),  # ip
    (".", False),  # host
    (None, True),  # size
    ("-", True),  # time
    (None, True),  # numbers
)
assert len(_NEEDS) == len(_MASKS)


def normalize_message(message: str) -> str:
    """Mask the parts of a message that vary between occurrences of one bug."""
    text = message.strip()
    has_digit = _DIGIT.search(text) is not None
    for (rx, repl), (sub, digit) in zip(_MASKS, _NEEDS):
        if (digit and not has_digit) or (sub is not None and sub not in text):
            continue
        text = rx.sub(repl, text)
    text = _SPACES.sub(" ", text)
    if len(text) > MAX_PATTERN:
        text = text[: MAX_PATTERN - 1] + "…"
    return text


_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line \d+, in (?P<func>\S+)', re.M)
_EXC_LINE = re.compile(r"^(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Warning|Interrupt|Exit|Worker|Timeout|Fault|Failure)|[A-Za-z_][\w.]*\.[A-Z]\w*)(?::\s?(?P<msg>.*))?$")
_CHAIN = re.compile(
    r"^(?:The above exception was the direct cause of the following exception:|"
    r"During handling of the above exception, another exception occurred:)\s*$",
    re.M,
)
_LIBRARY_PARTS = (
    "site-packages/",
    "dist-packages/",
    "/lib/python3",
    "<frozen ",
    "/distributed/",
    "/dask/",
    "/concurrent/futures/",
    "/asyncio/",
    "/tornado/",
)


@dataclass(frozen=True, slots=True)
class ParsedTraceback:
    """What a Python traceback text says, enough to group and to display."""

    exception_types: tuple[str, ...]
    frames: tuple[tuple[str, str], ...]
    app_frames: tuple[tuple[str, str], ...]
    final_message: str | None


def parse_traceback(text: str) -> ParsedTraceback:
    """Best-effort parse of ``traceback.format_exception`` output (chained too)."""
    sections = _CHAIN.split(text)
    types: list[str] = []
    final_message: str | None = None
    for section in sections:
        for line in reversed(section.strip().splitlines()):
            if not line or line.startswith((" ", "\t")):
                continue
            m = _EXC_LINE.match(line.strip())
            if m:
                types.append(m.group("type").rsplit(".", 1)[-1])
                final_message = m.group("msg")
                break
    frames = tuple((m.group("file"), m.group("func")) for m in _FRAME.finditer(text))
    app = tuple(
        (f.replace("\\", "/").rsplit("/", 1)[-1], fn)
        for f, fn in frames
        if not any(p in f.replace("\\", "/") for p in _LIBRARY_PARTS)
    )
    return ParsedTraceback(tuple(types), frames, app, final_message)


def signature(category: str, exception_type: str, message: str, traceback: str | None) -> tuple[str, str, tuple[str, ...]]:
    """Return ``(signature id, normalised pattern, exception types of the chain)``.

    With a traceback: the chain's exception types plus the innermost three
    in-app frames (file base name and function, no line numbers, so an edit
    elsewhere in the file does not split a group).  Without one: the
    exception type plus the normalised message.
    """
    pattern = normalize_message(message)
    types: tuple[str, ...] = (exception_type,)
    if traceback:
        tb = parse_traceback(traceback)
        if tb.exception_types:
            types = tb.exception_types
            if exception_type not in types:
                types = types + (exception_type,)
        if tb.app_frames:
            key = ("tb", category, types, tb.app_frames[-3:])
        else:
            key = ("msg", category, types, pattern)
    else:
        key = ("msg", category, types, pattern)
    digest = hashlib.sha1(repr((SIGNATURE_VERSION,) + key).encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"s{SIGNATURE_VERSION}-{digest}", pattern, types

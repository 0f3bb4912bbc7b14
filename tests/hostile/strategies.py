"""Hypothesis strategies for hostile run content: long words, escapes, bidi, NUL, huge lines.

Shared by the hostile-input tests (linear time, no raw control characters in
any output, equivalence of the rewritten regexes with the old ones).
"""

from __future__ import annotations

import re

from hypothesis import strategies as st

#: Escape sequences and characters a terminal or a reader could act on.
ESCAPES = (
    "\x1b[2J", "\x1b[31m", "\x1b]52;c;ZXZpbA==\x07", "\x1b]8;;http://evil.example\x1b\\", "\x9b1;31m", "\x9d0;t\x9c",
    "\x00", "\x07", "\x08", "\r", "\x7f", "\x85", "\u202e", "\u2066", "\u2069", "\u200f", "\u2028", "\x1b\x1b[[",
    "\\x1b", "[bold red]x[/]", "`", "|", "<script>",
)
#: The characters no output may contain raw (tab and newline are allowed).
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")

#: Short pieces whose repetition made some regex quadratic (or could have).
HOSTILE_UNITS = (
    "a", "a.", "1", "1.", "a-", "/a", "0", "f", "-1", "a@", "'/", 'File "', "File \"x\n", "Errno ", " ", "\n", "\n ",
    "-----BEGIN A-----", "a://", "a@b", "@a.", ".a@", "a.b.c.d", "0x", "a+", "é.", "a:", ":1", "a=", "Worker ",
    "file ", "KilledWorker", "Timed out trying to connect to  after 1 s", "spot instance ", "Restarting worker",
    "Worker exceeded ", "1 ", "1G", "\t", "\x1b[", "\u202e",
)

_ALPHABET = st.sampled_from(list("aZ0159.-_+@:/'\"= \n\tfx") + ["\x1b", "\x00", "\u202e", "\x9b", "é"])


def hostile_unit() -> st.SearchStrategy[str]:
    """A short piece of text meant to be repeated many times."""
    return st.one_of(st.sampled_from(HOSTILE_UNITS), st.text(_ALPHABET, min_size=1, max_size=6))


def escaped_text(max_size: int = 40) -> st.SearchStrategy[str]:
    """Ordinary text with escapes, bidi overrides and NUL mixed in (never empty)."""
    piece = st.one_of(st.sampled_from(ESCAPES), st.text(_ALPHABET, min_size=1, max_size=8))
    return st.lists(piece, min_size=1, max_size=max_size // 4 or 1).map("".join)


TOKENS = (
    "a", "b", "Z", "1", "0", "9", ".", "-", "+", "@", "://", "http", "tcp", "/home/", "x", "_", " ", "\n", "'", '"', "f",
    "0x", "abcdef0123456789", "-----BEGIN RSA KEY-----", "-----END RSA KEY-----", "org", "com", ".local", "Errno ",
    "signal ", "code ", "GiB", "K", "2026-11-23T08:11:31Z", "192.168.1.1", "e7a0b9c2-1111-2222-3333-444455556666",
    "a.b.c.org", "user@host.com", ":", ",", "(", ")", "]", "run_gcam-0123456789abcdef0123456789abcdef",
)
RULE_TOKENS = (
    "a", " ", "\n", "Worker ", "exceeded ", "memory", "Restarting worker", "KilledWorker", "spot instance ",
    "interrupt", " was killed", " was lost", "file ", "path ", "directory ", " does not exist",
    "Timed out trying to connect to ", " after 5 s", " after 12 s", "scheduler", "x", "1", "9", "5%", "[Errno 2]",
    "WORKER ", "Memory", "95% memory budget", "timed out", "Connection refused",
)


def token_text(tokens: tuple[str, ...] = TOKENS, max_tokens: int = 30) -> st.SearchStrategy[str]:
    """Messages assembled from the pieces the masks and rules look for."""
    return st.lists(st.sampled_from(tokens), min_size=1, max_size=max_tokens).map("".join)

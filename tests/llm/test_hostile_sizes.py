"""Building the payload stays linear on hostile input (long words, long lines, 10 MB fields).

Every regex of the redactor sees untrusted text; each field is bounded at a
token boundary before matching, and the patterns use bounded repeats.  The
bounds here are generous (a loaded 2-core machine): they catch quadratic
behaviour, not a slow run.
"""

from __future__ import annotations

import time
from typing import Callable

import pytest

from assistant.llm.config import AIConfig
from assistant.llm.payload import build_prompt
from assistant.llm.redact import Redactor
from tests.llm.test_secret_corpus import diagnosis_of, finding_like_diagnose

SHAPES: dict[str, Callable[[int], str]] = {
    "long-word": lambda n: "a" * n,
    "dotted": lambda n: "a." * (n // 2),
    "dashed-host": lambda n: "a-1." * (n // 4),
    "key-prefixes": lambda n: "sk-" * (n // 3),
    "schemes": lambda n: "http://" * (n // 7),
    "assignments": lambda n: "password=" * (n // 9),
    "spaces-after-key": lambda n: "password" + " " * n + "x",
    "at-signs": lambda n: "a@" * (n // 2),
    "entropy": lambda n: "Zx8Kq2LmN4pR7sT1vW3yB6dF9gH0jJ5k" * (n // 32),
    "colons": lambda n: "a:" * (n // 2),
    "newlines": lambda n: "a\n" * (n // 2),
    "open-quotes": lambda n: "password='" * (n // 10),
    "escapes": lambda n: "\x1b[" * (n // 2),
    "home-paths": lambda n: "/home/" * (n // 6),
    "carets": lambda n: " " * n + "x",
}


def _timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_redaction_time_grows_linearly(shape: str) -> None:
    make = SHAPES[shape]
    small, big = make(20_000), make(80_000)
    r = Redactor()
    t_small = min(_timed(lambda: r.redact(small)) for _ in range(2))
    t_big = _timed(lambda: r.redact(big))
    assert t_big < 10 * t_small + 0.3, (shape, t_small, t_big)


@pytest.mark.parametrize("shape", ["long-word", "dotted", "spaces-after-key", "newlines", "carets", "entropy"])
def test_a_10_mb_message_and_traceback_build_in_bounded_time(shape: str) -> None:
    text = SHAPES[shape](10_000_000)
    # the fields diagnose() fills (its own pattern work is not what is measured here)
    f = finding_like_diagnose("x", "Traceback (most recent call last):\n" + text).model_copy(
        update={"example_message": text[:2000], "pattern": text[:300], "title": text[:500], "suggestion": text[:1000]}
    )
    t = _timed(lambda: build_prompt(diagnosis_of(f), None, AIConfig(endpoint="http://127.0.0.1:9/v1")))
    assert t < 10.0, (shape, t)

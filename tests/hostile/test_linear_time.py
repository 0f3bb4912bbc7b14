"""Every regex that sees untrusted text runs in linear time on any input.

A hostile piece (a long word, ``a.`` repeated, unclosed quotes, many
``Worker `` without ``was killed``…) is repeated to a given size; the work on
8× the input must take well under 20× the time (plus a constant for noise).
Quadratic code fails by a wide margin: the host regex took 0.75 s at 10k
characters and 46 s at 80k.  Generous bounds, best of three, so load on the
machine does not make it flaky.
"""

from __future__ import annotations

import time
from typing import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.grouping import _classify_key, exception_types_of, failure_text
from assistant.suggest_context import _HOST, _MEM, _MODULE, _PATH
from assistant.render import _md_escape, _rstrip_lines
from assistant.rules import classify
from assistant.signature import normalize_message, parse_traceback, signature
from assistant.task_names import shown_names, title_place
from assistant.textsafe import clip, one_line, printable
from scalable_tui.model.run import FailureRecord
from tests.hostile.strategies import hostile_unit

BASE = 10_000
SLACK_S = 0.05


def _best(f: Callable[[str], object], text: str) -> float:
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        f(text)
        best = min(best, time.perf_counter() - t0)
    return best


def _assert_linear(f: Callable[[str], object], unit: str) -> None:
    small = unit * (BASE // len(unit) + 1)
    big = unit * (8 * BASE // len(unit) + 1)
    t1 = _best(f, small)
    t8 = _best(f, big)
    assert t8 < 20 * t1 + SLACK_S, f"{unit!r}: {t1 * 1e3:.1f} ms at {len(small)} chars, {t8 * 1e3:.1f} ms at {len(big)}"


def _failure(text: str) -> FailureRecord:
    return FailureRecord(index=0, failure_class="ValueError", message=text, timestamp=None, ts=None, task_id=None, traceback=f"Traceback:\n{text}\nValueError: {text}")


def _all_rules(text: str) -> None:
    f = _failure(text)
    classify(exception_types_of(f), failure_text(f), "task_execution")
    _classify_key(f)


def _context_regexes(text: str) -> None:
    for rx in (_HOST, _PATH, _MODULE):
        for _ in rx.finditer(text):
            pass
    _MEM.match(text)


UNDER_TEST: dict[str, Callable[[str], object]] = {
    "normalize_message": normalize_message,
    "parse_traceback": parse_traceback,
    "signature": lambda t: signature("user_code", "ValueError", t, t),
    "rules": _all_rules,
    "raw rule regexes": lambda t: [r.compiled.search(t) for r in __import__("assistant.rules").rules.RULES if r.compiled],
    "printable": printable,
    "one_line": one_line,
    "markdown escape": _md_escape,
    "rstrip": _rstrip_lines,
    "clip": lambda t: clip(t, 100),
    # a finding's task names said briefly (untrusted: any producer names its tasks)
    "task name fold": lambda t: (title_place({t: 1, t + "[0]": 1, "x[1]": 1}, str), shown_names({t: 1, "a[1]": 1}, 1)),
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(unit=hostile_unit(), which=st.sampled_from(sorted(UNDER_TEST)))
def test_linear_on_repeated_hostile_pieces(unit: str, which: str) -> None:
    _assert_linear(UNDER_TEST[which], unit)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(unit=hostile_unit())
def test_context_regexes_linear_on_raw_text(unit: str) -> None:
    """The context regexes are linear even without the per-field bound (``clip``) in front of them."""
    _assert_linear(_context_regexes, unit)


def test_known_quadratic_inputs_are_fast() -> None:
    """The inputs of the report: host detection on a long word, at 80k characters."""
    for unit in ("a", "a.", "1.", "a-", "--1--"):
        text = unit * (80_000 // len(unit))
        t0 = time.perf_counter()
        _context_regexes(text)
        normalize_message(text)
        _all_rules(text)
        assert time.perf_counter() - t0 < 2.0, unit


def test_task_name_fold_is_linear_on_brackets() -> None:
    """The trailing-bracket fold on names made of brackets (each "[" may start a match)."""
    for unit in ("[", "[a", "a]", "[]", "[a]x", "]["):
        _assert_linear(UNDER_TEST["task name fold"], unit)

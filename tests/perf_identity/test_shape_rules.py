"""A shape is classified once only when every text of it would be classified alike (``assistant.shape_rules``).

The analysis is checked against the regex engine itself: a pattern called
blind must match at the same places on every pair of shape-equal texts, and
a literal piece called anchored must be present in both or in neither.  The
texts put digits and ids right next to hex-letter words (``bad``, ``dead``,
``cafe``), where an unsound anchor would show.
"""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant import grouping
from assistant.rules import RULES, classify
from assistant.shape_rules import anchored_pieces, classification_shared, pattern_blind
from assistant.shapes import shape_of

WORDS = ("bad", "dead", "cafe", "face", "be", "add", "deadline", "failed", "killed", "worker", "memory", "errno",
         "signal", "exit", "code", "out of memory", "oom", "KilledWorker", "MemoryError", "Errno", "x", "_", "ab_")
SEPS = (" ", "-", ".", ":", "/", "'", "[", "]", "\n", "=", "", "", "")
SLOTS = ("{digits}", "{id}", "{hex8}")
PIECE = st.one_of(st.sampled_from(WORDS), st.sampled_from(SEPS), st.sampled_from(SLOTS))


def _fill(template: list[str], r: random.Random) -> str:
    out = []
    for piece in template:
        if piece == "{digits}":
            out.append(str(r.randrange(10 ** r.randrange(1, 4))))
        elif piece == "{id}":
            out.append("".join(r.choice("0123456789abcdef") for _ in range(r.choice((12, 16, 32)))))
        elif piece == "{hex8}":
            out.append("".join(r.choice("0123456789abcdef") for _ in range(8)))
        else:
            out.append(piece)
    return "".join(out)


def _pairs(template: list[str], seed: int, n: int = 12) -> list[tuple[str, str]]:
    """Pairs of different texts of one shape, filled from ``template``."""
    r = random.Random(seed)
    by_shape: dict[tuple, str] = {}
    pairs = []
    for _ in range(n * 4):
        t = _fill(template, r)
        sh = shape_of(t, {})
        if sh is None:
            continue
        first = by_shape.setdefault((len(t), sh), t)
        if first != t:
            pairs.append((first, t))
    return pairs[:n]


PATTERN_PIECES = st.sampled_from((
    "bad", "dead", "cafe", "be", "deadline", "failed", "x", "worker", "memory", r"\w+", r"\d+", "[a-z]", "[^\n]*",
    ".", r"\b", " ", "[0-9a-f]+", "(?:ed|s)", "t(?:ed|s)?", "(?-i:Dead)", "[ -]", "9", r"\s", "(?=bad)", "(?<=x)e",
    "[g-z]+", "e{2}", "(?>ad)", "[^a]", "e", "ad", "e ",
))


@settings(max_examples=1500, deadline=None)
@given(st.lists(PATTERN_PIECES, min_size=1, max_size=5).map("".join), st.lists(PIECE, min_size=1, max_size=12),
       st.integers(0, 2**32))
def test_a_blind_pattern_matches_alike_on_every_text_of_a_shape(pattern: str, template: list[str], seed: int) -> None:
    if not pattern_blind(pattern):
        return
    rx = re.compile(pattern, re.I)
    for a, b in _pairs(template, seed):
        assert [m.span() for m in rx.finditer(a)] == [m.span() for m in rx.finditer(b)], (pattern, a, b)


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(WORDS + SEPS + ("0", "12", "a", "e", "d")), min_size=1, max_size=4).map("".join),
       st.lists(PIECE, min_size=1, max_size=12), st.integers(0, 2**32))
def test_an_anchored_piece_is_in_every_text_of_a_shape_or_in_none(literal: str, template: list[str], seed: int) -> None:
    for piece in anchored_pieces(literal.lower()):
        for a, b in _pairs(template, seed):
            assert (piece in a.lower()) == (piece in b.lower()), (piece, a, b)


@pytest.mark.parametrize(("pattern", "blind"), [
    ("dead", False),  # all hex letters: could be inside an id
    ("deadline", True),  # 'l' anchors every letter
    (" be ", True),  # a piece between non-word literals, shorter than any id
    ("-bedabedabeda-", False),  # ... but not one as long as an id
    (r"\w+e ", False),  # a piece with nothing known before it
    ("(?:ed|s)", False),  # nothing before it in the pattern
    ("t(?:ed|s)", True),  # 't' before the group anchors it
    (r"\w+", True),
    (r"\d+", False),
    ("[a-z]", False),
    ("[g-z]+", True),
    ("9", False),
    (r"(a)\1", False),
    ("[^a]", False),
    ("[^\n]*", True),
])
def test_which_patterns_are_blind(pattern: str, blind: bool) -> None:
    assert pattern_blind(pattern) is blind


TRIGGERS = ("KilledWorker", "out of memory", "[Errno 12]", "[Errno 13]", "Permission denied", "exceeded 95% memory budget",
            "killed by signal 9", "signal 11", "exit code -9", "Worker exceeded memory", "GLIBC_2.3 not found",
            "deadline", "failed", "bad", "502 Bad Gateway", "No space left on device")
#: Rule words around a number: texts of one shape that rules tell apart ([Errno 12] is oom, [Errno 13] permission).
TRIGGER_SLOTS = (["[Errno ", "{digits}", "]"], ["killed by signal ", "{digits}"], ["exit code -", "{digits}"],
                 ["exceeded 9", "{digits}", "% memory budget"], ["50", "{digits}", " Bad Gateway"])


@settings(max_examples=600, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(TRIGGERS).map(lambda t: [t]), st.sampled_from(TRIGGER_SLOTS),
                         PIECE.map(lambda p: [p])), min_size=1, max_size=8).map(lambda ps: [x for p in ps for x in p]),
       st.sampled_from([(), ("KeyError",), ("KilledWorker",), ("OSError",), ("MemoryError",)]),
       st.sampled_from([None, "task_execution", "session.start"]), st.integers(0, 2**32))
def test_a_shared_classification_is_each_texts_own(template: list[str], types: tuple[str, ...], phase: str | None,
                                                    seed: int) -> None:
    for a, b in _pairs(template, seed, n=6):
        rule, _ = classify(types, a, phase, a.lower())
        if classification_shared(rule, types, phase, a.lower()):
            assert classify(types, b, phase)[0] is rule, (a, b)


def test_the_benchmark_families_are_classified_once_per_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    """The point: four bugs whose texts carry short numbers (ports, octets, ranks) cost a rule run per shape."""
    import tempfile
    from pathlib import Path

    from scalable_tui.sources.rundir.reader import load_run
    from tests.conftest import diagnose_bench_run

    calls = []
    real = grouping.classify
    monkeypatch.setattr(grouping, "classify", lambda *a: calls.append(a) or real(*a))
    with tempfile.TemporaryDirectory() as tmp:
        state = load_run(str(diagnose_bench_run(Path(tmp), 3000)))
        grouping.join_failures(state)
        groups = grouping.group_failures(state)
        keys = {grouping._classify_key(f) for f in state.failures}
    assert len(groups) == 4
    assert len(calls) * 3 < len(keys), (len(calls), len(keys))  # 560 of 12,622 at 100,000 failures
    assert any(r.category == "worker_lost" for r in RULES)

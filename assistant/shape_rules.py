"""Which rule outcomes are the same for every text of one shape, so a shape is classified once.

Why: 100,000 failures of four bugs with short numbers in them (ports, ranks,
octets) have thousands of classify keys, and each cost a rule run (~45 us):
a third of a diagnosis.  Texts of one shape (``assistant.shapes``) differ
only at digits and inside ids (lowercase hex runs of 12+ with a digit,
between non-word characters).  A rule's outcome is the same on all of them
when each of its patterns is

- *blind*: no test in it can tell those places apart.  A class or ``.``
  matches all of ``[0-9a-f]`` or none; a literal is not a digit; a literal
  hex letter is *anchored*: a non-hex word character is reached from it
  through literal hex letters (before it in the match, or after it in the
  same run of literals), so it can never sit in an id, whose neighbours are
  non-word characters; or it lies in a literal piece shorter than an id
  between non-word literals.  A regex engine then takes the same steps on
  every text of the shape (a failed literal fails its run at the same
  backtracking point either way); or
- *absent*: every literal the pattern requires (``rules.required_literals``)
  contains a digit-free, anchored piece that the text lacks; by the same
  argument no text of the shape has it.

The phase and the exception types are part of the memo key.  When every
rule up to the one that matched has one of those outcomes, the shape's
classification holds for each of its texts; the evidence (``why``) is then
taken from the text that is the reference's for its classify key.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from assistant.rules import RULES, Rule, required_literals

try:  # Python 3.11+ names them re._parser / re._compiler
    from re import _compiler as _comp, _constants as _c, _parser as _p  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_compile as _comp  # type: ignore[no-redef]
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _p  # type: ignore[no-redef]

#: What differs between texts of one shape: digits, and ids' lowercase hex.
_VARYING = "0123456789abcdef"
_HEX_LETTERS = frozenset("abcdefABCDEF")
#: The shortest id (``shapes._ID``).
ID_MIN = 12
_REPEATS = (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT)


def _word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _hits(node: tuple[Any, Any], flags: int) -> int:
    """How many of the varying characters a one-character test matches (compiled from the node itself)."""
    sub = _p.SubPattern(_p.State(), [node])
    sub.state.flags = flags
    rx = _comp.compile(sub, flags)
    return sum(1 for ch in _VARYING if rx.fullmatch(ch))


#: The walk state before an item: "word" (a non-hex word literal reached through hex letters),
#: an int k (a non-word literal, then k hex letters), or None (not known).
_State = Any


def _blind(items: Any, flags: int, before: _State) -> bool:
    items = list(items)
    state = before
    for i, (op, av) in enumerate(items):
        if op is _c.LITERAL:
            ch = chr(av)
            if ch.isdigit():
                return False
            if ch in _HEX_LETTERS:
                if state != "word" and not _anchored_ahead(items, i, state):
                    return False
                state = state if state == "word" or state is None else state + 1
            else:
                state = "word" if _word(ch) else 0
            continue
        if op in (_c.NOT_LITERAL, _c.IN, _c.ANY):
            if _hits((op, av), flags) not in (0, len(_VARYING)):
                return False
            state = None
        elif op is _c.AT:
            continue  # zero width: the neighbours stay neighbours; \b and anchors see all varying chars alike
        elif op is _c.SUBPATTERN:
            _, add, drop, sub = av
            if not _blind(sub, (flags | add) & ~drop, state):
                return False
            state = None
        elif op is _c.ATOMIC_GROUP:
            if not _blind(av, flags, state):
                return False
            state = None
        elif op in _REPEATS:
            lo, hi, sub = av
            if not _blind(sub, flags, state if hi == 1 else None):
                return False
            state = None
        elif op is _c.BRANCH:
            if not all(_blind(b, flags, state) for b in av[1]):
                return False
            state = None
        elif op in (_c.ASSERT, _c.ASSERT_NOT):
            direction, sub = av
            if not _blind(sub, flags, state if direction == 1 else None):
                return False
        else:  # back-references, conditionals, anything not reasoned about
            return False
    return True


def _anchored_ahead(items: list, i: int, before: _State) -> bool:
    """Does the literal hex letter at ``i`` reach a non-hex word literal after it, or an id-proof piece end?"""
    n = 0 if before is None else before
    j = i
    while j < len(items) and items[j][0] is _c.LITERAL:
        ch = chr(items[j][1])
        if ch.isdigit():
            return False
        if ch not in _HEX_LETTERS:
            if _word(ch):
                return True
            return before is not None and before != "word" and n + (j - i) < ID_MIN
        j += 1
    return False


@functools.lru_cache(maxsize=None)
def pattern_blind(pattern: str) -> bool:
    """Does ``pattern`` (matched with ``re.I``) take the same steps on every text of one shape?"""
    try:
        return _blind(_p.parse(pattern, re.I), re.I, None)
    except Exception:  # pragma: no cover - a pattern the analysis cannot parse is not blind
        return False


def anchored_pieces(literal: str) -> tuple[str, ...]:
    """The digit-free pieces of ``literal`` whose presence is the same in every text of a shape."""
    out = []
    for piece in re.split(r"[0-9]+", literal):
        if piece and _piece_anchored(piece):
            out.append(piece)
    return tuple(out)


def _piece_anchored(piece: str) -> bool:
    """Every hex letter reaches a non-hex word character through hex letters, on one side or the other."""
    for i, ch in enumerate(piece):
        if ch not in _HEX_LETTERS:
            continue
        ok = False
        for step in (-1, 1):
            j = i + step
            while 0 <= j < len(piece) and piece[j] in _HEX_LETTERS:
                j += step
            if 0 <= j < len(piece) and _word(piece[j]):
                ok = True
                break
        if not ok:
            return False
    return True


@functools.lru_cache(maxsize=None)
def _absence_proofs(pattern: str) -> tuple[tuple[str, ...], ...] | None:
    """Per required literal, its anchored pieces (None: a literal has none, or the pattern has no literals)."""
    lits = required_literals((pattern,))
    if not lits:
        return None
    proofs = tuple(anchored_pieces(x) for x in lits)
    return None if not all(proofs) else proofs


def _absent(pattern: str, lowered: str) -> bool:
    proofs = _absence_proofs(pattern)
    return proofs is not None and all(any(p not in lowered for p in pieces) for pieces in proofs)


def outcome_shared(rule: Rule, types: tuple[str, ...], phase: str | None, lowered: str) -> bool:
    """Is ``rule``'s outcome on this ASCII text (``lowered``) its outcome on every text of the shape?"""
    if rule.phases and phase not in rule.phases:
        return True
    if any(t in rule.types for t in types):
        return True
    return all(pattern_blind(p) or _absent(p, lowered) for p in rule.patterns)


def classification_shared(rule: Rule, types: tuple[str, ...], phase: str | None, lowered: str) -> bool:
    """Is ``classify``'s answer ``rule`` (found on this text) the answer for every text of its shape?"""
    for r in RULES:
        if not outcome_shared(r, types, phase, lowered):
            return False
        if r is rule:
            return True
    return False  # pragma: no cover - the rule comes from RULES

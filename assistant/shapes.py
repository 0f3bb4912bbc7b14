"""Shape keys: share per-failure text work between failures that differ only in digits and ids.

Why: a run with 100,000 failures of four bugs has 100,000 different messages
(task ids, numbers, paths, addresses), so memoising by exact text computes the
classify key, the normalised message and the parsed traceback once per
failure.  Failures of one bug differ in digits and ids only; this module gives
a cheap key (bytes ``translate``, C speed) under which that work is done once,
and a proof that the shared result equals the one computed per failure.

The argument.  Two ASCII texts are *shape-equal* (equal :func:`shape_of`)
when they have the same length and differ only

1. at ASCII digits, each replaced by another ASCII digit, and
2. inside *ids*: maximal runs of ``[0-9a-f]`` at least 12 long that contain a
   digit, lie between characters that are not word characters (or the text's
   ends) and are not followed by URL-scheme characters and ``://``.

Every pattern of the classify key (``grouping._CLASSIFY_KEY``) and of
``signature.normalize_message`` treats all ASCII digits alike: no literal digit
except the ``0x`` of the hex mask (messages containing ``0x`` are never shared)
and only classes holding all ten digits or none.  Both mask an id whole and
whatever its content: the classify key turns it into ``#``; the normaliser
into ``<hash>``/``<hex>`` (its length and the character before it decide which),
or into part of a ``<uuid>``, address, URL or e-mail span whose ends lie
outside the id (the masks before the long-hex mask see an id only through
classes holding all of ``[0-9a-f]``, except the URL scheme's ``[a-zA-Z]``,
which is why an id before ``://`` is not an id here).  So on shape-equal texts
both match the same spans, and their outputs differ only where an input digit
outside every masked span is copied to the output (a *kept* digit: the
``13`` of ``[Errno 13]``); replacements add no digits, and texts longer than
the clip limits are not shared (``clip`` writes a count).  Hence: equal shape
and equal kept digits give equal outputs.  The kept positions are found once
per shape (:func:`classify_kept`, :func:`normalize_kept`).

Tracebacks are shared on digits only (:func:`traceback_key`): the parser's
patterns treat all digits alike except the library marker ``/lib/python3``,
whose next character is part of the key, and a parse is shared only when what
grouping uses of it (exception types, in-app frames) holds no digit.
"""

from __future__ import annotations

import re
from operator import itemgetter
from typing import Callable

from assistant.signature import MAX_MESSAGE_CHARS, ParsedTraceback, normalize_message

DIGITS = frozenset("0123456789")
_D = bytes.maketrans(b"123456789", b"000000000")
_X = bytes.maketrans(b"abcdef", b"000000")
#: An id in ``x`` (digits and a-f all written ``0``): see the module docstring.
_ID = re.compile(rb"(?<![0-9A-Za-z_\x80-\xff])0{12,}(?![0-9A-Za-z_\x80-\xff])(?![0-9A-Za-z+.\-]*+://)")
_HAS_DIGIT = re.compile(r"[0-9]")
#: Distinct digit-and-hex layouts whose id spans are remembered, and the longest (bounded memory on hostile runs).
MAX_LAYOUTS = 50_000
MAX_LAYOUT_BYTES = 4096
#: What the shapes of one grouping may hold (their keys and first texts), in characters; failures
#: beyond it take the exact path (same answer, no sharing): memory stays bounded on hostile runs.
SHAPES_BUDGET = 64_000_000


def shape_of(text: str, layouts: dict[bytes, tuple[tuple[int, int], ...]]) -> bytes | None:
    """The shape of an ASCII text (None for other texts: they are not shared)."""
    if not text.isascii():
        return None
    d = text.encode("ascii").translate(_D)
    x = d.translate(_X)
    spans = layouts.get(x)
    if spans is None:
        spans = tuple(m.span() for m in _ID.finditer(x))
        if len(layouts) < MAX_LAYOUTS and len(x) <= MAX_LAYOUT_BYTES:
            layouts[x] = spans
    if not spans:
        return d
    out: list[bytes] = []
    pos = 0
    for s, e in spans:
        if d.find(b"0", s, e) >= 0:  # an id (it holds a digit): its content does not count
            out.append(d[pos:s])
            out.append(b"0" * (e - s))
            pos = e
    out.append(d[pos:])
    return b"".join(out)


def getter(positions: tuple[int, ...]) -> Callable[[str], tuple[str, ...]]:
    """The characters of a text at ``positions``, as a tuple."""
    if not positions:
        return lambda _t: ()
    if len(positions) == 1:
        (p,) = positions
        return lambda t: (t[p],)
    return itemgetter(*positions)  # type: ignore[return-value]


def classify_kept(text: str, key_pattern: re.Pattern[str]) -> tuple[int, ...]:
    """Positions of the digits that ``key_pattern.sub`` copies to its output."""
    masked = bytearray(len(text))
    for m in key_pattern.finditer(text):
        masked[m.start() : m.end()] = b"\x01" * (m.end() - m.start())
    return tuple(i for i, c in enumerate(text) if c in DIGITS and not masked[i])


def key_segments(text: str, masked: str, kept: tuple[int, ...], key_pattern: re.Pattern[str]) -> list[str] | None:
    """``masked`` (``key_pattern.sub("#", text)``) cut around the output places of the ``kept`` digits.

    By the module's argument a text of the same shape masks the same spans, so
    its classify key is these segments with its own kept digits between them:
    no regex run per distinct key (20 us each on a 300-character text).  None
    when the places do not line up (then each key is computed with the regex).
    """
    spans = [m.span() for m in key_pattern.finditer(text)]
    out: list[int] = []
    shift = i = 0
    for p in kept:
        while i < len(spans) and spans[i][1] <= p:
            shift += spans[i][1] - spans[i][0] - 1
            i += 1
        if i < len(spans) and spans[i][0] <= p:
            return None  # a kept digit inside a masked span: cannot be
        out.append(p - shift)
    if any(masked[o] != text[p] for o, p in zip(out, kept)):
        return None
    segs: list[str] = []
    prev = 0
    for o in out:
        segs.append(masked[prev:o])
        prev = o + 1
    segs.append(masked[prev:])
    return segs


def normalize_kept(message: str) -> tuple[int, ...] | None:
    """Positions of the message's digits that ``normalize_message`` copies to its output.

    Found by labelling: the digits are rewritten with 1-9 (no ``0``: no ``0x``)
    so that, over a few runs, each digit's base-9 index is spelt out wherever
    it lands in the output.  None when the runs do not line up (then the
    caller does not share); by the module's argument they always do.
    """
    if len(message) > MAX_MESSAGE_CHARS or "0x" in message or not message.isascii():
        return None
    pos = [i for i, c in enumerate(message) if c in DIGITS]
    if not pos:
        return ()
    runs = 1
    while 9**runs < len(pos):
        runs += 1
    chars = list(message)
    outs: list[str] = []
    for j in range(runs):
        w = 9**j
        for k, p in enumerate(pos):
            chars[p] = "123456789"[(k // w) % 9]
        outs.append(normalize_message("".join(chars)))
    at = [i for i, c in enumerate(outs[0]) if c in DIGITS]
    for o in outs[1:]:
        if len(o) != len(outs[0]) or [i for i, c in enumerate(o) if c in DIGITS] != at:
            return None
    kept = []
    for i in at:
        k = sum((int(o[i]) - 1) * 9**j for j, o in enumerate(outs))
        if k >= len(pos):
            return None
        kept.append(pos[k])
    if kept != sorted(set(kept)):
        return None
    return tuple(kept)


def traceback_key(tb: str, limit: int) -> tuple[bytes, tuple[str, ...]] | None:
    """Key under which parsed tracebacks are shared (None: not shared)."""
    if len(tb) > limit or not tb.isascii():
        return None
    after = tuple(s[:1] for s in tb.split("/lib/python")[1:]) if "/lib/python" in tb else ()
    return tb.encode("ascii").translate(_D), after


def parse_is_digit_free(tb: ParsedTraceback) -> bool:
    """Does what grouping uses of a parse (types, in-app frames) hold no digit?"""
    text = "".join(tb.exception_types) + "".join(a + b for a, b in tb.app_frames)
    return _HAS_DIGIT.search(text) is None


class Shape:
    """What failures of one shape share: their classify keys and normalised messages by kept digits."""

    __slots__ = ("text", "cls", "phase", "first_key", "ck_get", "ck_by", "ck_segs", "nref", "nfirst", "n_get", "n_by",
                 "rules")

    def __init__(self, text: str, cls: str = "", phase: str | None = None) -> None:
        self.text = text
        #: The failure class and phase of every failure of this shape (part of its key).
        self.cls, self.phase = cls, phase
        self.first_key: tuple | None = None
        self.ck_get: Callable[[str], tuple[str, ...]] | None = None
        self.ck_by: dict[tuple[str, ...], tuple] = {}
        #: The first text's classify key cut at its kept digits (None: compute each key with the regex).
        self.ck_segs: list[str] | None = None
        self.nref: str | None = None
        self.nfirst = ""
        self.n_get: Callable[[str], tuple[str, ...]] | None | bool = None
        self.n_by: dict[tuple[str, ...], str] = {}
        #: By exception types: the rule every text of this shape gets (``assistant.shape_rules``), or
        #: False when that cannot be shown (then each classify key is classified).
        self.rules: dict[tuple[str, ...], object] = {}

    def classify_key(self, text: str, key_pattern: re.Pattern[str]) -> tuple[str, str, str | None]:
        """``(cls, key_pattern.sub("#", text), phase)``, computed once per kept digits."""
        if self.first_key is None:
            self.first_key = (self.cls, key_pattern.sub("#", text), self.phase)
            return self.first_key
        if self.ck_get is None:
            kept = classify_kept(self.text, key_pattern)
            self.ck_get = getter(kept)
            self.ck_by[self.ck_get(self.text)] = self.first_key
            self.ck_segs = key_segments(self.text, self.first_key[1], kept, key_pattern)
        d = self.ck_get(text)
        k = self.ck_by.get(d)
        if k is None:
            if self.ck_segs is None:
                masked = key_pattern.sub("#", text)
            else:  # the module's argument: the same spans masked, the kept digits copied
                parts: list[str] = [""] * (2 * len(d) + 1)
                parts[0::2] = self.ck_segs
                parts[1::2] = d
                masked = "".join(parts)
            k = self.ck_by[d] = (self.cls, masked, self.phase)
        return k

    def normalized(self, message: str) -> str:
        """``normalize_message(message)`` for a message of this shape (no ``0x``, not clipped)."""
        if self.nref is None:
            self.nref = message
            self.nfirst = normalize_message(message)
            return self.nfirst
        if self.n_get is None:
            kept = normalize_kept(self.nref)
            self.n_get = False if kept is None else getter(kept)
            if self.n_get:
                self.n_by[self.n_get(self.nref)] = self.nfirst
        if self.n_get is False:
            return normalize_message(message)
        d = self.n_get(message)  # type: ignore[operator]
        n = self.n_by.get(d)
        if n is None:
            n = self.n_by[d] = normalize_message(message)
        return n


def shareable_message(message: str) -> bool:
    """May a message's normalisation be shared by shape (see the module docstring)?"""
    return len(message) <= MAX_MESSAGE_CHARS and "0x" not in message

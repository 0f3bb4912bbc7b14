"""Failure records -> groups: one group per signature, each with the rule that classifies it.

What a rule sees of a failure (:func:`failure_text`) is bounded to head and
tail, and classifications are shared between texts that differ only in ids
and long numbers, so 15,000 unique messages cost a few dozen rule runs; and
between texts of one shape whose digits no rule reads (``shape_rules``), so
100,000 messages with ports and octets in them cost a few hundred.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.rules import Rule, classify
from assistant.shape_rules import classification_shared
from assistant.signature import ParsedTraceback, normalize_message, parse_traceback, signature_id, signature_key
from assistant.shapes import SHAPES_BUDGET, Shape, parse_is_digit_free, shape_of, shareable_message, traceback_key
from assistant.textsafe import clip
from scalable_tui.model.run import FailureRecord, RunState, looks_like_dask_key

#: What the rules and context regexes see of one failure, at most (head and
#: tail, ``clip``): hostile sizes (a 10 MB message) cost linear time, and the
#: words that decide a category sit at a message's start or a traceback's end.
MAX_MATCH_CHARS = 16_384
#: Names shown in titles (task names, exception classes) are cut to this.
MAX_NAME_CHARS = 200


def clip_name(name: str) -> str:
    """A name as a title shows it (``clip`` to ``MAX_NAME_CHARS``): the diagnosis's titles and the retry
    plan's retitled parts (``task_names.said_of``) must cut names alike."""
    return clip(name, MAX_NAME_CHARS)


@dataclass
class _Group:
    rule: Rule
    matched: str
    sig: str
    pattern: str
    types: tuple[str, ...]
    records: list[FailureRecord] = field(default_factory=list)


def _bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else clip(text, limit)


def failure_text(f: FailureRecord) -> str:
    """Everything the rules may match on, in one string (each part bounded by ``clip``)."""
    cls, msg = f.failure_class, f.message
    if len(cls) > MAX_NAME_CHARS:
        cls = clip(cls, MAX_NAME_CHARS)
    if len(msg) > MAX_MATCH_CHARS:
        msg = clip(msg, MAX_MATCH_CHARS)
    head = f"{cls}: {msg}"
    tb, details = f.traceback, f.details
    if not tb and not details:
        return head
    parts = [head]
    if tb:
        parts.append(tb if len(tb) <= MAX_MATCH_CHARS else clip(tb, MAX_MATCH_CHARS))
    if details:
        for k, v in details.items():
            if isinstance(v, (str, int, float)):
                kv = f"{k}={v}"
                parts.append(kv if len(kv) <= MAX_NAME_CHARS else clip(kv, MAX_NAME_CHARS))
    return "\n".join(parts)


def _parsed_traceback(f: FailureRecord) -> ParsedTraceback | None:
    return parse_traceback(_bounded(f.traceback, MAX_MATCH_CHARS)) if f.traceback else None


def exception_types_of(f: FailureRecord, tb: ParsedTraceback | None | bool = False) -> tuple[str, ...]:
    types = [_bounded(f.failure_class, MAX_NAME_CHARS).rsplit(".", 1)[-1]]
    parsed = _parsed_traceback(f) if tb is False else tb
    if parsed is not None:
        for t in parsed.exception_types:  # type: ignore[union-attr]
            if t not in types:
                types.append(t)
    return tuple(types)


def join_failures(state: RunState) -> None:
    """Fill task name, component, duration and resources on each failure.

    Written out rather than through ``TaskTable``'s accessors, and with
    ``looks_like_dask_key`` asked once per distinct worker value (a few
    hundred workers; the unique keys are not remembered): it runs over every
    failure of every diagnosis.
    """
    t = state.tasks
    row_get, worker_get, resource_get = (t.sparse_getter(k) for k in ("row", "worker", "resource"))
    values, names, components, durations = t.strings.values, t.name, t.component, t.duration
    profiles = state.profiles
    not_keys: set[str] = set()  # worker addresses repeat; Dask keys are unique per task, so not remembered

    def is_key(value: str) -> bool:
        if value in not_keys:
            return False
        if looks_like_dask_key(value):
            return True
        if len(not_keys) < _KEY_MEMO:
            not_keys.add(value)
        return False

    for f in state.failures:
        if f.worker is not None and is_key(f.worker):
            f.dask_key, f.worker = f.worker, None
        if f.task_id is None:
            continue
        r = row_get(f.task_id)
        if r is None:
            continue
        f.task_name = values[names[r]]
        f.component = values[components[r]]
        d = durations[r]
        f.duration_s = None if d != d else d
        w = worker_get(r)
        if w is not None:
            if is_key(w):
                f.dask_key = w
            elif f.worker is None:
                f.worker = w
        p = resource_get(r)
        f.resources = None if p is None else profiles[p]
    state.joined_mark = state.join_key()


#: Distinct worker values whose "is it a Dask key" answer a join remembers (keys are unique per task).
_KEY_MEMO = 4096


# Ids, hashes and long numbers never decide a category (the rules look at
# words, errno values, signals, exit codes and percentages: all short), so
# texts that differ only in those classify alike.  Masking them lets 15,000
# unique messages share a few dozen classifications.
_CLASSIFY_KEY = re.compile(r"\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b|\d{4,}")


def _classify_key(f: FailureRecord) -> tuple[str, str, str | None]:
    return (f.failure_class, _CLASSIFY_KEY.sub("#", failure_text(f)), f.phase)


def group_failures(state: RunState, failures: list[FailureRecord] | None = None) -> list[_Group]:
    """Failures -> groups, in first-seen order; equal to :func:`group_failures_exact`.

    The classify key, normalised message and parsed traceback are computed
    once per shape (``assistant.shapes``: texts equal up to digits and ids)
    and kept digits, not once per failure: 100,000 unique messages of four
    bugs cost a few hundred of each.  A shape is classified once when every
    text of it would be classified alike (``assistant.shape_rules``); the
    evidence is then the rule's match in the classify key's first failure, as
    the reference has it.  Which failure's text a group shows stays
    the first one's, as each shared value is the exact value of every failure
    that gets it.
    """
    groups: dict[str, _Group] = {}
    # classify key -> (rule, evidence, types, the key's first failure: its text gives the evidence when that is None)
    rule_memo: dict[tuple[str, str, str | None], tuple[Rule, str | None, tuple[str, ...], FailureRecord]] = {}
    sig_memo: dict[tuple[str, str, str, str | None, str | None], tuple[str, str | None, tuple[str, ...]]] = {}
    tb_memo: dict[str, ParsedTraceback] = {}
    tb_shared: dict[tuple[bytes, tuple[str, ...]], ParsedTraceback] = {}
    id_memo: dict[tuple, str] = {}
    layouts: dict[bytes, tuple[tuple[int, int], ...]] = {}
    shapes: dict[tuple, Shape] = {}
    norm_memo: dict[str, str] = {}
    budget = SHAPES_BUDGET
    for f in state.failures if failures is None else failures:
        text = failure_text(f)
        tb: ParsedTraceback | None = None
        if f.traceback:
            tb = tb_memo.get(f.traceback)
            if tb is None:
                tk = traceback_key(f.traceback, MAX_MATCH_CHARS)
                if tk is not None:
                    tb = tb_shared.get(tk)
                if tb is None:
                    tb = _parsed_traceback(f)
                    assert tb is not None
                    if tk is not None and budget > 0 and parse_is_digit_free(tb):
                        tb_shared[tk] = tb
                        budget -= len(tk[0])
                tb_memo[f.traceback] = tb
        sh = shape_of(text, layouts)
        shape: Shape | None = None
        if sh is None:
            ck = _text_classify_key(f, text)
        else:
            skey = (f.failure_class, f.phase, len(f.message), len(f.traceback) if f.traceback is not None else -1, sh)
            shape = shapes.get(skey)
            if shape is None and budget > 0:
                shape = shapes[skey] = Shape(text, f.failure_class, f.phase)
                budget -= 2 * len(text)
            if shape is None:
                ck = _text_classify_key(f, text)
            else:
                ck = shape.classify_key(text, _CLASSIFY_KEY)
        hit = rule_memo.get(ck)
        if hit is None:
            types = exception_types_of(f, tb)
            shared = None if shape is None else shape.rules.get(types)
            if shared:
                hit = rule_memo[ck] = (shared, None, types, f)  # type: ignore[assignment]
            else:
                lowered = text.lower() if text.isascii() else None
                rule, why = classify(types, text, f.phase, lowered)
                hit = rule_memo[ck] = (rule, why, types, f)
                if shape is not None and lowered is not None and shared is None:
                    shape.rules[types] = classification_shared(rule, types, f.phase, lowered) and rule
        rule, why, types, first = hit
        sk = (rule.category, f.failure_class, f.message, f.traceback, f.phase)
        sh_ = sig_memo.get(sk)
        if sh_ is None:
            key, chain = signature_key(rule.category, types[0], tb)
            pattern: str | None = None
            if key is None:
                pattern = _normalized(f.message, shape, norm_memo)
                key = ("msg", rule.category, chain, pattern)
            sig = id_memo.get(key)
            if sig is None:
                sig = id_memo[key] = signature_id(key)
            if f.phase:
                sig = f"{sig}@{f.phase}"
            sh_ = sig_memo[sk] = (sig, pattern, chain)
        sig, pattern, chain = sh_
        g = groups.get(sig)
        if g is None:
            if pattern is None:
                pattern = _normalized(f.message, shape, norm_memo)
            if why is None:  # classified by shape: the evidence is the rule's match in the key's first text
                why = rule.match(types, failure_text(first), f.phase)
                assert why is not None, "a shape's classification holds for each of its texts"
            g = groups[sig] = _Group(rule, why, sig, pattern, chain)
        g.records.append(f)
    return list(groups.values())


def _text_classify_key(f: FailureRecord, text: str) -> tuple[str, str, str | None]:
    """``_classify_key(f)`` when ``text`` is ``failure_text(f)``."""
    return (f.failure_class, _CLASSIFY_KEY.sub("#", text), f.phase)


def _normalized(message: str, shape: Shape | None, memo: dict[str, str]) -> str:
    """``normalize_message(message)``, shared by shape where the proof allows."""
    if shape is not None and shareable_message(message):
        return shape.normalized(message)
    n = memo.get(message)
    if n is None:
        n = memo[message] = normalize_message(message)
    return n


def group_failures_exact(state: RunState, failures: list[FailureRecord] | None = None) -> list[_Group]:
    """The reference: every key computed from the failure's own text (memoised by exact text only).

    :func:`group_failures` must give the same groups; tests compare the two.
    """
    groups: dict[str, _Group] = {}
    rule_memo: dict[tuple[str, str, str | None], tuple[Rule, str, tuple[str, ...]]] = {}
    sig_memo: dict[tuple[str, str, str, str | None, str | None], tuple[str, str, tuple[str, ...]]] = {}
    # Work is shared by exact text: a traceback is parsed once, a message is
    # normalised once, and not at all when in-app frames decide the signature
    # (its pattern is needed only for a new group's first record).
    tb_memo: dict[str, ParsedTraceback] = {}
    id_memo: dict[tuple, str] = {}
    for f in state.failures if failures is None else failures:
        tb: ParsedTraceback | None = None
        if f.traceback:
            tb = tb_memo.get(f.traceback)
            if tb is None:
                tb = tb_memo[f.traceback] = _parsed_traceback(f)  # type: ignore[assignment]
        ck = _classify_key(f)
        hit = rule_memo.get(ck)
        if hit is None:
            types = exception_types_of(f, tb)
            rule, why = classify(types, failure_text(f), f.phase)
            hit = rule_memo[ck] = (rule, why, types)
        rule, why, types = hit
        sk = (rule.category, f.failure_class, f.message, f.traceback, f.phase)
        sh = sig_memo.get(sk)
        if sh is None:
            key, chain = signature_key(rule.category, types[0], tb)
            pattern: str | None = None
            if key is None:
                pattern = normalize_message(f.message)
                key = ("msg", rule.category, chain, pattern)
            sig = id_memo.get(key)
            if sig is None:
                sig = id_memo[key] = signature_id(key)
            if f.phase:
                sig = f"{sig}@{f.phase}"
            sh = sig_memo[sk] = (sig, pattern, chain)
        sig, pattern, chain = sh
        g = groups.get(sig)
        if g is None:
            if pattern is None:
                pattern = normalize_message(f.message)
            g = groups[sig] = _Group(rule, why, sig, pattern, chain)
        g.records.append(f)
    return list(groups.values())

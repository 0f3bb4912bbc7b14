"""Grouping shared by shape (``assistant.shapes``) gives exactly the per-failure answer.

The reference is ``group_failures_exact`` (every key from the failure's own
text).  Compared: the groups themselves (rule, evidence, signature, pattern,
types, records in order) and the whole ``Diagnosis`` on every fixture run, the
sample run, hypothesis-generated families of messages that differ in digits,
hex ids, paths, uuids, addresses (the case sharing is for), and the
benchmark's generated run.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant import diagnose as diagnose_mod
from assistant import grouping
from assistant.rules import classify
from assistant.shapes import Shape, normalize_kept, shape_of
from assistant.signature import normalize_message
from scalable_tui.model.run import FailureRecord
from scalable_tui.sources.rundir.reader import load_run
from tests.conftest import FIXTURES, diagnose_bench_run, fixture_run

FIXTURE_NAMES = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())
SAMPLE = Path("/work/shared/samples/run-20261123T081131Z-gcam-stitches-a92143d5")


def _groups(gs: list) -> list[tuple]:
    return [(g.rule.category, g.rule.title, g.matched, g.sig, g.pattern, g.types, [r.index for r in g.records])
            for g in gs]


def _both_diagnoses(run: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[dict, dict]:
    new = diagnose_mod.diagnose_state(load_run(str(run)), now=2_000_000_000.0).model_dump()
    with monkeypatch.context() as m:
        m.setattr(diagnose_mod, "group_failures", grouping.group_failures_exact)
        old = diagnose_mod.diagnose_state(load_run(str(run)), now=2_000_000_000.0).model_dump()
    return new, old


def _assert_same(run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = load_run(str(run))
    grouping.join_failures(state)
    assert _groups(grouping.group_failures(state)) == _groups(grouping.group_failures_exact(state))
    new, old = _both_diagnoses(run, monkeypatch)
    assert new == old


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_runs_group_as_the_reference(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _assert_same(fixture_run(name), monkeypatch)


@pytest.mark.skipif(not SAMPLE.is_dir(), reason="sample run not on this machine")
def test_sample_run_groups_as_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    _assert_same(SAMPLE, monkeypatch)


def test_bench_generated_run_groups_as_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run = diagnose_bench_run(Path(tmp), 4000)
        state = load_run(str(run))
        grouping.join_failures(state)
        new = grouping.group_failures(state)
        assert len(new) == 4 and sum(len(g.records) for g in new) == 4000
        assert _groups(new) == _groups(grouping.group_failures_exact(state))
        a, b = _both_diagnoses(run, monkeypatch)
        assert a == b


# -- generated families: one template, its slots filled many ways ----------------------
def _hex(r: random.Random, n: int) -> str:
    return "".join(r.choice("0123456789abcdef") for _ in range(n))


SLOTS = {
    "int": lambda r: str(r.randrange(10 ** r.randint(1, 6))),
    "small": lambda r: str(r.randrange(1, 40)),
    "zero": lambda r: r.choice([" 0", " 00", " 10", " 100", " 0x1f", " 1x1f", " 0x7f3a", " 9x7f3a"]),
    "hex12": lambda r: _hex(r, r.choice([11, 12, 13])),
    "hex32": lambda r: _hex(r, 32),
    "hexletters": lambda r: r.choice(["abcdefabcdef", "deadbeefcafe", "0123456789ab", "aaaaaaaaaaaa1"]),
    "uuid": lambda r: f"{_hex(r, 8)}-{_hex(r, 4)}-{_hex(r, 4)}-{_hex(r, 4)}-{_hex(r, 12)}",
    "ip": lambda r: ".".join(str(r.randrange(256)) for _ in range(4)),
    "port": lambda r: str(r.randrange(1, 65536)),
    "user": lambda r: f"user{r.randrange(100)}",
    "size": lambda r: f"{r.randrange(1, 64)}.{r.randrange(10)} GiB",
    "time": lambda r: f"2026-11-{r.randrange(10, 29)}T{r.randrange(10, 24)}:{r.randrange(10, 60)}:00Z",
    "errno": lambda r: r.choice(["[Errno 2]", "[Errno 13]", "[Errno 28]", "[Errno 12]", "[Errno 104]", "[Errno 1] "]),
    "signal": lambda r: f"signal {r.choice([9, 11, 15])}",
    "code": lambda r: f"exit code -{r.choice([9, 11, 1])}",
    "pct": lambda r: f"exceeded {r.randrange(80, 100)}% memory budget",
    "http": lambda r: f"{r.choice(['502 Bad Gateway', '503 Service Unavailable', '500 Server Error', '404 x'])}",
    "email": lambda r: f"u{r.randrange(99)}@host{r.randrange(9)}.example.com",
    "host": lambda r: f"node{r.randrange(500)}.rack{r.randrange(9)}.cluster.local",
    "url": lambda r: r.choice(["http", "h2", "s3", "x"]) + f"://files{r.randrange(9)}/run-{_hex(r, 32)}/o{r.randrange(99)}",
    "hexscheme": lambda r: _hex(r, 12) + r.choice(["://x", ".y://z", " ://q", "/"]),
    "path": lambda r: f"/{r.choice(['home', 'scratch', 'gpfs', 'data'])}/u{r.randrange(50)}/run_{r.randrange(999)}/f.nc",
    "daskkey": lambda r: f"('run_gcam-{_hex(r, 32)}', {r.randrange(9)})",
    "version": lambda r: f"GLIBC_2.{r.randrange(20, 40)} not found",
    "pem": lambda r: f"-----BEGIN KEY-----{_hex(r, 16)}-----END KEY-----",
}
WORDS = ("Task", " failed", " on", " worker", " at", " ", " ", ": ", "'", ",", "(", ")", "-", "_", ".", "/", "\n",
         "Timed out", " memory", " killed", " Worker ", "KilledWorker", " was lost", "Permission denied",
         "No such file or directory", "Unable to allocate", " invalid", " connect to ", " after ", " s ", "scheduler",
         "x", "abc", "run_", "0x", "python3", "/lib/python")
PIECE = st.one_of(st.sampled_from(WORDS), st.sampled_from(sorted(SLOTS)).map(lambda s: "{" + s + "}"))
CLASSES = ("KeyError", "OSError", "KilledWorker", "MemoryError", "RuntimeError", "TimeoutError")


def _fill(template: list[str], r: random.Random) -> str:
    return "".join(SLOTS[p[1:-1]](r) if p.startswith("{") and p[1:-1] in SLOTS else p for p in template)


TB_TEMPLATE = (
    "Traceback (most recent call last):\n"
    '  File "/home/{user}/models/m{small}/driver.py", line {int}, in run_{small}\n'
    '  File "/opt/conda/lib/python{pyver}/site-packages/dask/x.py", line {int}, in f\n'
    '  File "/srv/lib/python{pyver}/mod.py", line {int}, in g{small}\n'
    "{exc}: {msg}\n"
)


def _traceback(r: random.Random, exc: str, msg: str) -> str:
    return (TB_TEMPLATE.replace("{pyver}", r.choice(["3.11", "3.9", "2.7"]))
            .replace("{exc}", exc).replace("{msg}", msg.split("\n")[0])
            .replace("{user}", SLOTS["user"](r)).replace("{small}", SLOTS["small"](r), 1)
            .replace("{small}", r.choice(["1", "2"]), 1).replace("{small}", SLOTS["small"](r))
            .replace("{int}", SLOTS["int"](r), 1).replace("{int}", SLOTS["int"](r), 1).replace("{int}", SLOTS["int"](r)))


def _records(templates: list[tuple[str, list[str], int, str | None]], n: int, seed: int) -> list[FailureRecord]:
    r = random.Random(seed)
    out = []
    for i in range(n):
        fc, template, tb_kind, phase = templates[r.randrange(len(templates))]
        msg = _fill(template, r)
        tb = _traceback(r, fc, msg) if tb_kind else None
        details: dict = {"task_id": _hex(r, 32), "worker_id": f"tcp://{SLOTS['ip'](r)}:{SLOTS['port'](r)}"}
        if phase:
            details["phase"] = phase
        if tb_kind == 2:
            details["attempt"] = r.randrange(4)
        out.append(FailureRecord(index=i, failure_class=fc, message=msg, timestamp=None, ts=None, task_id=None,
                                 phase=phase, traceback=tb, details=details))
    return out


TEMPLATE = st.tuples(st.sampled_from(CLASSES), st.lists(PIECE, min_size=1, max_size=14), st.sampled_from([0, 0, 1, 2]),
                     st.sampled_from([None, "task_execution", "task_execution", "session.start"]))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TEMPLATE, min_size=1, max_size=5), st.integers(0, 2**32))
def test_generated_families_group_as_the_reference(templates: list, seed: int) -> None:
    recs = _records(templates, 150, seed)
    state = SimpleNamespace(failures=recs)
    want = _groups(grouping.group_failures_exact(state))  # type: ignore[arg-type]
    assert _groups(grouping.group_failures(state)) == want  # type: ignore[arg-type]
    budget = grouping.SHAPES_BUDGET
    try:  # a budget that runs out part way: the rest take the exact path
        grouping.SHAPES_BUDGET = 3000
        assert _groups(grouping.group_failures(state)) == want  # type: ignore[arg-type]
    finally:
        grouping.SHAPES_BUDGET = budget


def _shape_family(template: list[str], seed: int, make: Callable[[str], Shape],
                  skip: Callable[[str], bool] = lambda _t: False) -> Iterator[tuple[str, Shape]]:
    """40 fillings of one template, each with the shape it falls in (texts without one, or ``skip``ped, left out)."""
    r = random.Random(seed)
    layouts: dict = {}
    shapes: dict = {}
    for _ in range(40):
        text = _fill(template, r)
        sh = shape_of(text, layouts)
        if sh is None or skip(text):
            continue
        yield text, shapes.setdefault((len(text), sh), make(text))


@settings(max_examples=300, deadline=None)
@given(st.lists(PIECE, min_size=1, max_size=14), st.integers(0, 2**32))
def test_shared_normalisation_is_the_exact_one(template: list[str], seed: int) -> None:
    """Many fillings of one template: each shared result is the message's own normalisation."""
    for msg, shape in _shape_family(template, seed, Shape, skip=lambda m: "0x" in m):
        assert shape.normalized(msg) == normalize_message(msg), msg


@settings(max_examples=300, deadline=None)
@given(st.lists(PIECE, min_size=1, max_size=14), st.integers(0, 2**32))
def test_shared_classify_key_is_the_exact_one(template: list[str], seed: int) -> None:
    """Many fillings of one template: each key built from the shape's segments is the text's own classify key."""
    for text, shape in _shape_family(template, seed, lambda t: Shape(t, "KeyError", "task_execution")):
        exact = ("KeyError", grouping._CLASSIFY_KEY.sub("#", text), "task_execution")
        assert shape.classify_key(text, grouping._CLASSIFY_KEY) == exact, text


def test_classify_keys_are_built_from_segments_not_the_regex(monkeypatch: pytest.MonkeyPatch) -> None:
    """The point of ``key_segments``: a new kept digit costs no regex run once the shape has its segments."""
    texts = [f"ValueError: bad value {i} in 'region_{i}' for task 0123456789abcdef{i % 10}00 at 10.1.{i}.2" for i in
             range(100, 140)]
    shape = Shape(texts[0], "ValueError", None)
    keys = [shape.classify_key(t, grouping._CLASSIFY_KEY) for t in texts[:2]]
    assert shape.ck_segs is not None

    class Counting:
        def __init__(self) -> None:
            self.subs = 0

        def sub(self, repl: str, text: str) -> str:
            self.subs += 1
            return grouping._CLASSIFY_KEY.sub(repl, text)

    counting = Counting()
    keys += [shape.classify_key(t, counting) for t in texts[2:]]  # type: ignore[arg-type]
    assert counting.subs == 0
    assert keys == [("ValueError", grouping._CLASSIFY_KEY.sub("#", t), None) for t in texts]
    assert len(set(keys)) == len(texts)


def _rec(i: int, fc: str, msg: str, tb: str | None = None) -> FailureRecord:
    return FailureRecord(index=i, failure_class=fc, message=msg, timestamp=None, ts=None, task_id=None,
                         phase="task_execution", traceback=tb, details={"phase": "task_execution"})


def test_hex_literal_messages_are_not_shared() -> None:
    """``0x`` is the normaliser's one literal digit: '0x7f3a' is a hex value, '1x7f3a' is not."""
    recs = [_rec(0, "ValueError", "bad object at 0x7f3a12 here"), _rec(1, "ValueError", "bad object at 1x7f3a12 here"),
            _rec(2, "ValueError", "bad object at 2x7f3a12 here"), _rec(3, "ValueError", "bad object at 0x7f3a99 here")]
    for order in (recs, recs[::-1]):
        state = SimpleNamespace(failures=list(order))
        got = _groups(grouping.group_failures(state))  # type: ignore[arg-type]
        assert got == _groups(grouping.group_failures_exact(state))  # type: ignore[arg-type]
        assert sorted(g[4] for g in got) == ["bad object at <hex> here", "bad object at <n>x7f3a12 here"]


def test_library_marker_digit_is_part_of_the_traceback_key() -> None:
    """``/lib/python3`` marks a library frame, ``/lib/python2`` does not: the digit after it is not shared."""
    def tb(v: str) -> str:
        return ('Traceback (most recent call last):\n  File "/app/main.py", line 1, in main\n'
                f'  File "/usr/lib/python{v}/helper.py", line 2, in helper\nRuntimeError: boom\n')
    recs = [_rec(0, "RuntimeError", "boom", tb("3.11")), _rec(1, "RuntimeError", "boom", tb("2.11"))]
    for order in (recs, recs[::-1]):
        state = SimpleNamespace(failures=list(order))
        got = _groups(grouping.group_failures(state))  # type: ignore[arg-type]
        assert got == _groups(grouping.group_failures_exact(state)) and len(got) == 2  # type: ignore[arg-type]


def test_kept_digits_are_found() -> None:
    msg = "[Errno 13] Permission denied: '/project/run_17/out_4.db' on node7 at 10.1.2.3"
    kept = normalize_kept(msg)
    assert kept is not None and [msg[i] for i in kept] == ["1", "3", "7"]  # Errno 13 and node7; the rest is masked
    assert normalize_message(msg) == "[Errno 13] Permission denied: '/project/run_<n>/out_<n>.db' on node7 at <ip>"


def test_an_id_before_a_scheme_is_not_shared() -> None:
    """A hex run that starts a URL scheme is a URL when it starts with a letter, not when it starts with a digit."""
    a, b = "see abcdef012345://x now", "see 1bcdef012345://x now"
    assert normalize_message(a) != normalize_message(b)
    assert shape_of(a, {}) != shape_of(b, {})


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(WORDS + ("[Errno 12]", "[Errno 104]", "signal 11", "-9", "95%", "GLIBC_2.3 not found",
                                         "CUDA", "out of memory", "OOM", "oom", "preempted", "TIMEOUT", "Pickle")),
                min_size=1, max_size=20).map("".join),
       st.sampled_from([(), ("KeyError",), ("KilledWorker",), ("TimeoutError",), ("OSError",)]),
       st.sampled_from([None, "task_execution", "session.start"]))
def test_literal_prefilter_changes_no_classification(text: str, types: tuple[str, ...], phase: str | None) -> None:
    plain = classify(types, text, phase)
    fast = classify(types, text, phase, text.lower())
    assert (fast[0].category, fast[0].title, fast[1]) == (plain[0].category, plain[0].title, plain[1])

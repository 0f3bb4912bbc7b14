"""Out of memory said in words is an ``oom`` failure whatever its exception type."""

from __future__ import annotations

import time

import pytest

from assistant.grouping import exception_types_of, failure_text
from assistant.rules import RULES, classify
from scalable_tui.model.run import FailureRecord


def _category(cls: str, msg: str) -> str:
    f = FailureRecord(index=0, failure_class=cls, message=msg, timestamp=None, ts=None, task_id="t")
    return classify(exception_types_of(f), failure_text(f), None)[0].category


OOM_IN_WORDS = [
    ("RuntimeError", "process 4412 OOM"),
    ("ValueError", "OOMKilled: container exceeded its limit"),
    ("KeyError", "'OOM-killer was invoked on node n12'"),
    ("CalledProcessError", "slurmstepd: error: Job 88 exceeded memory limit (17179869184 > 16000000000), being killed"),
    ("OSError", "Exceeded step memory limit at some point."),
    ("SubprocessError", "gcam exited: Killed: memory cgroup"),
    ("RuntimeError", "Killed (memory)"),
    ("TimeoutError", "[Errno 12] Cannot allocate memory"),
    ("ZeroDivisionError", "terminate called after throwing an instance of 'std::bad_alloc'"),
    ("AttributeError", "Some of your processes may have been killed by the cgroup out-of-memory handler."),
    ("IndexError", "task memory limit exceeded"),
    ("TypeError", "the oom killer ended pid 12"),
]


@pytest.mark.parametrize("cls,msg", OOM_IN_WORDS, ids=[m[:30] for _, m in OOM_IN_WORDS])
def test_out_of_memory_in_words_is_oom_whatever_the_type(cls: str, msg: str) -> None:
    assert _category(cls, msg) == "oom"


NOT_OOM = [
    ("KeyError", "'room_12'"),
    ("ValueError", "bloom filter too small"),
    ("ValueError", "ZOOM level invalid"),
    ("ValueError", "memory limit must be positive"),
    ("RuntimeError", "OOMPH solver failed"),
    ("RuntimeError", "Killed: signal 15"),
]


@pytest.mark.parametrize("cls,msg", NOT_OOM, ids=[m[:30] for _, m in NOT_OOM])
def test_words_that_only_look_like_oom_are_not(cls: str, msg: str) -> None:
    assert _category(cls, msg) != "oom"


def test_the_oom_rule_stays_linear_on_long_hostile_lines() -> None:
    """Each new pattern is a fixed word sequence; 8x the input costs about 8x the time."""
    rule = next(r for r in RULES if r.category == "oom")
    assert rule.compiled is not None
    for unit in ("exceeded ", "exceed the ", "memory limit ", "Killed ", "OOM", "oom ", "out-of-", "Out of "):
        small = unit * (10_000 // len(unit) + 1)
        big = unit * (80_000 // len(unit) + 1)
        times = []
        for text in (small, big):
            best = float("inf")
            for _ in range(3):
                t0 = time.perf_counter()
                rule.compiled.search(text + "\n" + text)
                best = min(best, time.perf_counter() - t0)
            times.append(best)
        assert times[1] < 20 * times[0] + 0.05, (unit, times)

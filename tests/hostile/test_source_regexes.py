"""Regexes outside the assistant that read text a user or a task controls: same answers, linear time."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from scalable_tui.sources.jobs import slurm_parse as _slurm_parse
from scalable_tui.sources.live import ingest as live
from tests.hostile.strategies import hostile_unit
from tests.hostile.test_linear_time import _assert_linear

OLD_KV = re.compile(r"(\w[\w/:]*)=(\S*)")
OLD_KILLED = re.compile(r"Task (?P<key>.+?) marked as failed because (?P<n>\d+) workers died")
KV_PIECES = st.sampled_from(["a", "B", "1", "_", "/", ":", "=", " ", "\n", "x=y", "JobState=FAILED", "::", "é"])
LOG_PIECES = st.sampled_from(["Task ", "x", " ", "\n", "('f-1', 0)", " marked as failed because ", "3", " workers died"])


@settings(max_examples=800, deadline=None)
@given(st.lists(KV_PIECES, max_size=30).map("".join))
def test_scontrol_keys_equal_the_old_regex(text: str) -> None:
    assert [m.groups() for m in _slurm_parse._KV.finditer(text)] == [m.groups() for m in OLD_KV.finditer(text)]


@settings(max_examples=800, deadline=None)
@given(st.lists(LOG_PIECES, max_size=20).map("".join))
def test_killed_worker_log_equals_the_old_regex(line: str) -> None:
    new, old = live._KILLED_LOG.search(line), OLD_KILLED.search(line)
    assert (new and new.groupdict()) == (old and old.groupdict())


@settings(max_examples=30, deadline=None)
@given(hostile_unit())
def test_linear(unit: str) -> None:
    _assert_linear(lambda t: list(_slurm_parse._KV.finditer(t)), unit)
    _assert_linear(lambda t: live._KILLED_LOG.search(t), unit)
    _assert_linear(lambda t: live._KILLED_LOG.search(t), "Task " + unit)

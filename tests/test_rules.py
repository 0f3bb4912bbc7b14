"""Every category is reachable from the signals users actually see."""

from __future__ import annotations

import pytest

from assistant.grouping import exception_types_of, failure_text
from assistant.rules import CATEGORIES, RULES, SUGGESTIONS, classify
from scalable_tui.model.run import FailureRecord


def _rec(cls: str, msg: str, tb: str | None = None, phase: str | None = None) -> FailureRecord:
    return FailureRecord(index=0, failure_class=cls, message=msg, timestamp=None, ts=None, task_id="t", traceback=tb, phase=phase)


CASES = [
    # (exception class, message, expected category)
    ("MemoryError", "", "oom"),
    ("_ArrayMemoryError", "Unable to allocate 3.2 GiB for an array with shape (20000, 20000) and data type float64", "oom"),
    ("RuntimeError", "slurmstepd: error: Detected 1 oom-kill event(s) in StepId=12.batch", "oom"),
    ("JobFailed", "job 41 ended with state OUT_OF_MEMORY", "oom"),
    ("KilledWorker", "Attempted to run task 'hog-1' on 4 different workers ... Worker exceeded 95% memory budget. Restarting...", "worker_memory"),
    ("RuntimeError", "distributed.nanny.memory - WARNING - Worker tcp://127.0.0.1:4000 (pid=12) exceeded 95% memory budget. Restarting...", "worker_memory"),
    ("RuntimeError", "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 15.77 GiB total capacity)", "gpu_oom"),
    ("OutOfMemoryError", "CUDA error: out of memory", "gpu_oom"),
    ("KilledWorker", "Attempted to run task 'run_gcam-1f2e' on 4 different workers, but all those workers died while running it.", "worker_lost"),
    ("RuntimeError", "Worker process 4242 was killed by signal 9", "worker_lost"),
    ("JobFailed", "job 7 state NODE_FAIL", "worker_lost"),
    ("RuntimeError", "slurmstepd: error: *** JOB 1234 ON node01 CANCELLED AT 2026-11-23T03:00:00 DUE TO TIME LIMIT ***", "walltime"),
    ("JobFailed", "sacct: 1234 TIMEOUT 0:0", "walltime"),
    ("RuntimeError", "*** JOB 99 ON n1 CANCELLED AT 2026-11-23T03:00:00 DUE TO PREEMPTION ***", "preemption"),
    ("JobFailed", "state PREEMPTED", "preemption"),
    ("CommClosedError", "in <TCP (closed) ConnectionPool.gather local=tcp://127.0.0.1:5 remote=tcp://127.0.0.1:6>: Stream is closed", "network"),
    ("ReadTimeout", "HTTPSConnectionPool(host='data.example.org', port=443): Read timed out. (read timeout=30)", "network"),
    ("ConnectionError", "HTTPSConnectionPool(host='esgf.llnl.gov', port=443): Max retries exceeded with url: /x", "network"),
    ("OSError", "Timed out trying to connect to tcp://10.0.0.5:8786 after 30 s", "network"),
    ("TimeoutError", "operation did not complete within 600 seconds", "timeout"),
    ("ModuleNotFoundError", "No module named 'gcamreader'", "import_error"),
    ("ImportError", "libnetcdf.so.19: cannot open shared object file: No such file or directory", "import_error"),
    ("FileNotFoundError", "[Errno 2] No such file or directory: '/home/alice/inputs/scenario_12.csv'", "missing_file"),
    ("PermissionError", "[Errno 13] Permission denied: '/project/shared/out/run_19.db'", "permission"),
    ("OSError", "[Errno 30] Read-only file system: '/data/out.nc'", "permission"),
    ("OSError", "[Errno 28] No space left on device", "disk_full"),
    ("OSError", "[Errno 122] Disk quota exceeded", "disk_full"),
    ("PicklingError", "Can't pickle <function <lambda> at 0x7f>: attribute lookup <lambda> failed", "serialization"),
    ("TypeError", "cannot pickle '_thread.lock' object", "serialization"),
    ("TypeError", "Could not serialize object of type HighLevelGraph", "serialization"),
    ("RuntimeError", "model exited with code -11 (Segmentation fault, core dumped)", "segfault"),
    ("RuntimeError", "Error during deserialization of the task graph (cause: ModuleNotFoundError: No module named 'gcamlib')",
     "graph_deserialization"),
    ("ValueError", "could not convert string to float: 'N/A'", "invalid_input"),
    ("KeyError", "'region_27'", "invalid_input"),
    ("ZeroDivisionError", "division by zero", "user_code"),
    ("AttributeError", "'NoneType' object has no attribute 'shape'", "user_code"),
]


@pytest.mark.parametrize("cls,msg,category", CASES, ids=[f"{c[2]}:{c[0]}" for c in CASES])
def test_signal_maps_to_category(cls: str, msg: str, category: str) -> None:
    f = _rec(cls, msg)
    rule, why = classify(exception_types_of(f), failure_text(f), f.phase)
    assert rule.category == category, why


def test_session_start_phase_is_cluster_startup_whatever_the_message() -> None:
    f = _rec("ValueError", "unknown provider option 'partitoin'", phase="session.start")
    rule, _ = classify(exception_types_of(f), failure_text(f), f.phase)
    assert rule.category == "cluster_startup" and rule.severity == "critical"


def test_read_timeout_to_a_remote_service_is_network_not_walltime() -> None:
    f = _rec("ReadTimeoutError", "HTTPConnectionPool(host='api.example.com', port=80): Read timed out.")
    rule, _ = classify(exception_types_of(f), failure_text(f), None)
    assert rule.category == "network" and rule.transient is True


def test_lowercase_timeout_is_not_a_slurm_timeout() -> None:
    f = _rec("RuntimeError", "solver timeout after 100 iterations")
    rule, _ = classify(exception_types_of(f), failure_text(f), None)
    assert rule.category == "timeout"


def test_traceback_chain_types_are_used() -> None:
    tb = (
        "Traceback (most recent call last):\n"
        '  File "/home/bob/model/io.py", line 10, in load\n'
        "    import netCDF4\n"
        "ModuleNotFoundError: No module named 'netCDF4'\n\n"
        "The above exception was the direct cause of the following exception:\n\n"
        "Traceback (most recent call last):\n"
        '  File "/home/bob/model/run.py", line 3, in run\n'
        "    load()\n"
        "RuntimeError: could not load inputs\n"
    )
    f = _rec("RuntimeError", "could not load inputs", tb)
    assert exception_types_of(f) == ("RuntimeError", "ModuleNotFoundError")
    rule, _ = classify(exception_types_of(f), failure_text(f), None)
    assert rule.category == "import_error"


def test_table_covers_every_category_and_has_a_suggestion_for_each() -> None:
    assert set(CATEGORIES) == set(SUGGESTIONS)
    assert {r.category for r in RULES} | {"run_abandoned"} == set(CATEGORIES)
    assert RULES[-1].category == "user_code", "the catch-all must be last"
    reached = {c[2] for c in CASES} | {"cluster_startup"}
    assert reached | {"run_abandoned"} == set(CATEGORIES)


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from assistant.grouping import _CLASSIFY_KEY  # noqa: E402


@settings(max_examples=150, deadline=None)
@given(case=st.sampled_from(CASES), noise=st.integers(1000, 10**12), hexid=st.uuids())
def test_masking_ids_for_the_classification_memo_never_changes_a_category(case, noise, hexid) -> None:
    cls, msg, category = case
    f = _rec(cls, f"{msg} (task {hexid.hex}, step {noise})")
    masked = _CLASSIFY_KEY.sub("#", failure_text(f))
    assert classify(exception_types_of(f), masked, None)[0].category == category
    assert classify(exception_types_of(f), failure_text(f), None)[0].category == category


def test_each_rules_literals_are_looked_for_before_it_runs() -> None:
    """``classify`` looks for literals in blocks as rules are reached: a rule must never see a bit not yet looked for."""
    from assistant.rules import _BLOCKS, _LITERAL_BIT

    looked: set[int] = set()
    for rule, (lits, shift) in zip(RULES, _BLOCKS):
        looked |= {shift // 8 + i for i in range(len(lits))}
        needed = {_LITERAL_BIT[x] for lits_ in rule.literals if lits_ for x in lits_}
        assert needed <= looked, rule.category
    assert len(looked) == len({b for r in RULES for lits_ in r.literals if lits_ for b in (_LITERAL_BIT[x] for x in lits_)})


def test_a_killed_worker_is_classified_without_the_later_rules_literals() -> None:
    """The point of the blocks: a type that an early rule claims stops the literal search there."""
    from assistant import rules

    calls: list[str] = []

    class Probe(str):
        def __contains__(self, lit: object) -> bool:
            calls.append(str(lit))
            return str.__contains__(self, lit)  # type: ignore[operator]

    text = "KilledWorker: Attempted to run task 'x' on 4 different workers, but all those workers died"
    rule, why = rules.classify(("KilledWorker",), text, None, Probe(text.lower()))
    assert (rule, why) == rules.classify(("KilledWorker",), text, None) and rule.category == "worker_lost"
    upto = RULES.index(rule) + 1
    earlier = {x for r in RULES[:upto] for lits in r.literals if lits for x in lits}
    later = {x for r in RULES[upto:] for lits in r.literals if lits for x in lits} - earlier
    assert calls and set(calls) <= earlier and later

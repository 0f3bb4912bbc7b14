"""Counts said in words, the one way every door says them ("1 run", "2 runs")."""

from __future__ import annotations


def plural(n: int, word: str) -> str:
    """``n`` and ``word``, with an "s" unless ``n`` is 1 (regular plurals only: every caller's word is)."""
    return f"{n} {word}{'' if n == 1 else 's'}"


#: Scalable's task states that are not an end: "running" is written at submission, right after
#: "submitted" (it does not mean a worker started the task), so neither is said as it is written.
UNFINISHED_STATES = ("running", "submitted")


def unfinished_word(ended: bool) -> str:
    """What a run's unfinished tasks are called: "not finished" while it runs, "never finished" once it ended.

    An audit saw "108 running" beside 3 worker threads, and "45 running" in a
    run whose driver was dead: the state's name claimed work that was not going on.
    """
    return "never finished" if ended else "not finished"


def run_states_said(tasks: dict[str, int], ended: bool) -> list[tuple[str, int, str]]:
    """(state, count, words) in report order: the end states as they are, the unfinished ones as one part."""
    out = [(s, tasks[s], s) for s in ("succeeded", "failed", "cancelled") if tasks.get(s)]
    waiting = sum(tasks.get(s, 0) for s in UNFINISHED_STATES)
    if waiting:
        out.append(("running", waiting, unfinished_word(ended)))
    known = {"succeeded", "failed", "cancelled", *UNFINISHED_STATES}
    out += [(s, tasks[s], s) for s in sorted(set(tasks) - known) if tasks[s]]
    return out

"""A finding's task names, said briefly: a map's one-name-per-task folded to ``name[…]``.

Scalable names a map's tasks one per item (``postprocess[3]``) and users name
tasks per scenario (``xanthos_basin[scenario=000063]``).  A finding over 2500
such tasks has 2500 names of one failure each: its title named the first of
them, as if it were that task's bug, and its "Tasks" line listed four of the
names as "×1".  Here the names are folded for saying, never for counting
(``Finding.task_names`` keeps them all).
"""

from __future__ import annotations

import re
from collections import Counter
from operator import itemgetter
from typing import Callable, Mapping

#: How many of a finding's task names the text report, the Markdown report and the Findings
#: screen show (one number, so the three list the same names; a table cell and the LLM's
#: budgeted rows show fewer).
NAMES_SHOWN = 5

#: A task name's trailing bracket: ``postprocess[3]``, ``run_gcam[scenario=000063]``.
PER_TASK = re.compile(r"\[[^\[\]]*\]$")


def fold_name(name: str) -> str:
    """``run_gcam[12]`` / ``run_gcam[scenario=000063]`` -> ``run_gcam[…]``: the one name's fold that the
    Overview's bars (``session.snapshot.task_group``) and the efficiency rows use."""
    return PER_TASK.sub("[…]", name) if name.endswith("]") else name


def folded(names: Mapping[str, int]) -> Counter[str]:
    """The counts per name with each trailing bracket as ``[…]``."""
    out: Counter[str] = Counter()
    for k, v in names.items():
        out[PER_TASK.sub("[…]", k)] += v
    return out


def _title_pick(names: Mapping[str, int]) -> tuple[str, int]:
    """The commonest name, or its ``name[…]`` form when that covers more failures, with its count."""
    top, n = max(names.items(), key=itemgetter(1))  # the first of the commonest, as Counter.most_common
    if n == sum(names.values()):  # one name: nothing to fold (and no pass over 100k names)
        return top, n
    ftop, fn = max(folded(names).items(), key=itemgetter(1))
    return (ftop, fn) if fn > n else (top, n)


def said_of(title: str, names: Mapping[str, int], part: Mapping[str, int], show: Callable[[str], str]) -> str:
    """A finding's ``title`` (ending in ``title_place(names)``) said of ``part`` of its failures.

    The retry plan splits a finding per component; each part is titled with
    its own tasks, not with the whole finding's (which named tasks it does not hold).
    """
    old = " in " + title_place(names, show) if names else ""
    if not old or not part or not title.endswith(old):
        return title
    return title[: -len(old)] + " in " + title_place(part, show)


def title_place(names: Mapping[str, int], show: Callable[[str], str]) -> str:
    """Where a title says the failures are: one name when it (or its ``name[…]`` form) has most of them,
    else the two commonest and how many more.

    Four tasks with 6250 failures each were titled "KeyError in run_gcam", as
    if the other three tasks' 18,750 failures were run_gcam's.
    """
    pick, n = _title_pick(names)
    if 2 * n > sum(names.values()):
        return show(pick)
    shown, more = shown_names(names, 2)
    first = [show(k) for k, _ in shown]
    return f"{first[0]}, {first[1]} and {more} more" if more else " and ".join(first)


def shown_names(names: Mapping[str, int], limit: int) -> tuple[list[tuple[str, int]], int]:
    """Up to ``limit`` (name, count), commonest first, and how many names are left out.

    As they are when there are at most ``limit``; else folded (when that
    leaves fewer names), so ``xanthos_basin[…] ×2500`` rather than four of
    2500 names "×1" each.
    """
    counts: Counter[str] = Counter(names)
    if len(counts) > limit:
        f = folded(counts)
        if len(f) < len(counts):
            counts = f
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ordered[:limit], max(0, len(ordered) - limit)

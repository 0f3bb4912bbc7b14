"""Counts said in words, the one way every door says them ("1 run", "2 runs")."""

from __future__ import annotations


def plural(n: int, word: str) -> str:
    """``n`` and ``word``, with an "s" unless ``n`` is 1 (regular plurals only: every caller's word is)."""
    return f"{n} {word}{'' if n == 1 else 's'}"

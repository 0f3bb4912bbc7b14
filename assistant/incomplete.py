"""Notes on incomplete input: files whose unreadable lines were skipped, so totals may be low.

A wrong number is worse than a missing one: each note names the file and the
share skipped, and ``diagnose_state`` puts them in the report itself.
"""

from __future__ import annotations

from scalable_tui.model.run import RunState


def incomplete_inputs(state: RunState, abandoned: bool = False) -> list[str]:
    """One line per file that could not be read in full: unreadable, or lines skipped.

    Said in the report itself (not only on stderr): a report of "no failures"
    over a file that was 98% garbage would be a wrong answer, not a partial one.
    """
    out: list[str] = []
    for name, iss in sorted(state.issues.items()):
        if iss.unreadable:
            out.append(f"{name}: unreadable ({iss.unreadable}): results are incomplete")
            continue
        # While the run is written, a line without its newline may still be finished: not lost (yet).
        cut = (f"its last line was cut off mid-line ({iss.held_back} bytes, not read)"
               if iss.held_back and (state.finished() or abandoned) else "")
        skipped = iss.total_skipped()
        if not skipped:
            if cut:
                out.append(f"{name}: {cut}: results may be incomplete")
            continue
        also = f", and {cut}" if cut else ""
        total = state.lines_read.get(name)  # counted by the reader: no file is read here
        if total and total >= skipped:
            pct = 100.0 * skipped / total
            share = "<1" if pct < 1 else (">99" if 99 < pct < 100 else f"{pct:.0f}")
            out.append(f"{name}: {share}% unreadable ({skipped} of {total} lines skipped){also}: "
                       "results are incomplete")
        else:
            out.append(f"{name}: {skipped} unreadable line(s) skipped{also}: results are incomplete")
    return out

"""The Tasks list over a whole ``TaskTable``: query compiling, task columns, filter and sort.

Sized for 300k rows (``bench/bench_load.py --only lists``): each column's whole
order is computed once and cached while the column is equal (rows are then
picked out of it), substring filters (and a regex's required literal) run one
C-level search over joined texts instead of a Python test per row, and per-row
flags are numpy masks (numpy is imported on first use, never by ``--help``); the
per-row code these replace is the reference in ``tests/perf_identity``.
``session.lists`` re-exports these names.

A little over ~400 lines on purpose: filter and sort share one per-table cache
(``_TableCache``) and its rules for when a column changed; split, those rules
would live in two places.
"""

from __future__ import annotations

import math
import operator
import re
import weakref
from array import array
from functools import lru_cache
from itertools import accumulate, compress, islice, repeat
from typing import Any, Callable

from assistant.textsafe import printable
from scalable_tui.model.run import (
    TaskTable,
    looks_like_dask_key,
)
from scalable_tui.session.snapshot import FAULT_STATES


# -- tasks: filter and sort ------------------------------------------------------
#: ``worker`` never shows a Dask future key (Scalable 2.0.0b6 writes ``run_gcam-<32 hex>``
#: into the task event's ``worker`` field): such values go to the ``dask key`` column.
TASK_COLUMNS = ("name", "task id", "component", "state", "duration", "worker", "error type", "dask key")


def compile_query(query: str) -> Callable[[str], bool] | None:
    """Substring (case-insensitive), or a regex when wrapped in ``/.../``.

    Raises ``re.error`` for a bad regex; returns None for an empty query.
    """
    q = query.strip()
    if not q:
        return None
    pat = query_pattern(q)
    return lambda s: pat.search(s) is not None


def query_pattern(query: str) -> re.Pattern[str]:
    q = query.strip()
    if len(q) >= 2 and q.startswith("/") and q.endswith("/"):
        return re.compile(q[1:-1], re.IGNORECASE)
    return re.compile(re.escape(q), re.IGNORECASE)


def split_worker(value: str | None) -> tuple[str | None, str | None]:
    """A task event's ``worker`` field -> (worker, dask key): a future's key is never a worker."""
    if value and looks_like_dask_key(value):
        return None, value
    return value, None


def task_cells(t: TaskTable, r: int) -> tuple[str, str, str, str, str, str, str, str]:
    values = t.strings.values
    err = t.error.get(r)
    worker, key = split_worker(t.worker.get(r))
    return (
        printable(values[t.name[r]] or "-"),
        printable(t.ids[r]),
        printable(values[t.component[r]] or "-"),
        values[t.state[r]] or "unknown",
        _dur(t.duration[r]),
        printable(worker or "-"),
        printable((err[0] if err else None) or "-"),
        printable(key or "-"),
    )


def _dur(d: float) -> str:
    if d != d:
        return "-"
    return f"{d:.2f}s" if d < 100 else f"{d:.0f}s"


def is_fault(t: TaskTable, r: int, fault_ids: frozenset[int]) -> bool:
    return t.state[r] in fault_ids or r in t.error


# Per task table: what sorting and filtering 300k rows reuse between queries (the distinct
# strings' order, every row's order per column, the ids as one text).  Each entry keeps a
# copy of the columns it was made from and is used only while they are equal, so a table
# that grows or changes (a tail, a live table) is never answered from a stale entry.
_CACHES: "weakref.WeakKeyDictionary[TaskTable, _TableCache]" = weakref.WeakKeyDictionary()


class _TableCache:
    __slots__ = ("base", "orders", "ids_text", "values_text", "texts", "unique_ids", "frozen", "__weakref__")

    def __init__(self) -> None:
        #: copies of the ids and the interned strings every entry below was made from
        self.base: tuple[list[str], list[Any]] = ([], [])
        #: (column, reverse) -> (a copy of the column it was made from, every row in sorted order)
        self.orders: dict[tuple[int, bool], tuple[Any, Any]] = {}
        #: ("\n".join(ids), start offsets)
        self.ids_text: tuple[str, int, Any] | None = None
        #: (copies of the name, component and state columns, the ids of the strings they use, those
        #: strings joined): strings of other columns are never searched
        self.values_text: tuple[tuple[Any, ...], list[int], tuple[str, int, Any] | None] | None = None
        #: "worker" / "error" -> (a copy of that dict, per part: the rows' texts joined, and their rows)
        self.texts: dict[str, tuple[dict[int, Any], list[tuple[tuple[str, int, Any], list[int] | None]]]] = {}
        #: no two rows share a task id (then no two rows tie in an order by (text, id))
        self.unique_ids: bool | None = None
        #: filled only while the table was ``frozen``: the entries above hold no copies to check
        self.frozen = False


def _cache(t: TaskTable) -> _TableCache:
    """The table's cache, emptied first if its ids or interned strings changed since it was filled."""
    c = _CACHES.get(t)
    if c is None:
        c = _CACHES[t] = _TableCache()
        c.frozen = t.frozen
    if t.frozen:  # never changes again: nothing to compare with
        if not c.frozen:  # filled before the table was frozen, maybe from other columns: start again
            c = _CACHES[t] = _TableCache()
            c.frozen = True
        return c
    if c.base[0] != t.ids or c.base[1] != t.strings.values:
        c.base = (list(t.ids), list(t.strings.values))
        c.orders.clear()
        c.ids_text = c.values_text = c.unique_ids = None
        c.texts.clear()
    return c


#: Padding every string to the longest may cost this many characters more than twice the plain join.
PAD_SLACK = 4096


def _joined(strings: list[str]) -> tuple[str, int, Any]:
    """The strings in one text, each followed by newlines: ``(text, width, offsets)``.

    When padding every string to the longest (``width`` characters with at
    least one newline) costs at most twice the plain join, string ``k`` starts
    at ``k * width`` (``offsets`` None): rows found by a division.  Otherwise
    they are joined by one newline and ``offsets`` says where each starts (one
    more entry: the end, plus one).  Lower-cased when all ASCII (see
    ``_literal_hits``).  Built with C-level loops only.
    """
    n = len(strings)
    lengths = list(map(len, strings))
    width = max(lengths, default=0) + 1
    total = sum(lengths) + n
    if width * n <= 2 * total + PAD_SLACK:
        text = "".join(map(str.ljust, strings, repeat(width, n), repeat("\n", n)))
        offsets = None
    else:
        text = "\n".join(strings) + "\n"
        width = 0
        offsets = array("q", map(operator.add, accumulate(lengths, initial=0), range(n + 1)))
    if text.isascii():
        text = text.lower()
    return text, width, offsets


def _literal_hits(pat: re.Pattern[str], text: str, width: int, offsets: Any) -> list[int]:
    """Indices of the strings (``_joined`` into ``text``) in which ``pat`` matches, ascending.

    Only for a literal pattern without a newline: its matches cannot cross a
    separator and do not depend on what is around them, so it matches in the
    joined text inside string ``k`` exactly when it matches string ``k``; and
    the leftmost match in each such string is among ``finditer``'s.  On an
    ASCII text (stored lower-cased) an ASCII literal is searched lower-cased
    and case-sensitively, which the engine does much faster: with ``re.I`` an
    ASCII character matches exactly its two ASCII cases (``K`` also matches
    the Kelvin sign, which an ASCII text does not contain).
    """
    if text.isascii() and pat.pattern.isascii():
        pat = _lowered(pat.pattern)
    import numpy as np

    starts = np.fromiter(map(_START, pat.finditer(text)), dtype=np.int64)
    if width:
        ks = starts // width
    else:  # the string whose start is the last one at or before the match
        ks = np.searchsorted(np.frombuffer(offsets, dtype=np.int64), starts, side="right") - 1
    if len(ks) > 1:  # ascending: keep the first of each run of equal indices
        ks = ks[np.concatenate(([True], ks[1:] != ks[:-1]))]
    return ks.tolist()  # type: ignore[no-any-return]


_START = re.Match.start


@lru_cache(maxsize=32)
def _lowered(pattern: str) -> re.Pattern[str]:
    """A literal pattern (``re.escape`` of an ASCII query), lower-cased, case-sensitive."""
    return re.compile(pattern.lower())


def _hits(pat: re.Pattern[str], literal: bool, strings: list[Any],
          joined: tuple[str, int, Any] | None = None) -> list[int]:
    """Indices of the non-empty strings that ``pat`` matches (as ``pat.search`` on each; None: no match).

    ``joined``: ``_joined`` of the strings, when the caller keeps it.
    """
    if literal and (joined is not None or all(type(x) is str or x is None for x in strings)):
        return _literal_hits(pat, *(joined or _joined([x or "" for x in strings])))
    if all(type(x) is str or x is None for x in strings):  # None cannot be searched: "" stands in, then is dropped
        return [k for k in _searched(pat, [x or "" for x in strings]) if strings[k]]
    return [k for k, x in enumerate(strings) if x and pat.search(x)]


def _searched(pat: re.Pattern[str], strings: list[str]) -> list[int]:
    """Indices of the strings ``pat.search`` matches, empty ones included (a C-level loop)."""
    return list(compress(range(len(strings)), map(pat.search, strings)))


def filter_tasks(
    t: TaskTable,
    query: str = "",
    faults_only: bool = False,
    cancelled: Callable[[], bool] = lambda: False,
) -> list[int]:
    """Rows (task table indices) that match; rows without any task event are left out.

    Each distinct string is tested once (names, states, components), ids,
    workers and error texts in one C-level search over them joined; a regex
    with a required literal (``_required_literal``) is run only on the strings
    that literal finds.  Per-row flags are numpy masks: 300k rows in tens of
    milliseconds (``bench/bench_load.py --only lists``).
    """
    import numpy as np

    values = t.strings.values
    n = len(t.ids)
    state = _codes(np, t.state, n)
    keep = state != 0
    if faults_only:
        fault = np.zeros(_lut_size(state, values), dtype=bool)
        fault[[i for i, v in enumerate(values) if v in FAULT_STATES]] = True
        flagged = fault[state]
        flagged[_rows(np, [r for r in t.error if 0 <= r < n])] = True
        keep &= flagged
    if compile_query(query) is None:
        return np.flatnonzero(keep).tolist()  # type: ignore[no-any-return]
    pat = query_pattern(query)
    q = query.strip()
    literal = not (len(q) >= 2 and q.startswith("/") and q.endswith("/")) and "\n" not in q
    lit = None if literal else _required_literal(pat.pattern, pat.flags)
    hit = np.zeros(n, dtype=bool)
    # names, components, states: each distinct string once
    c = _cache(t)
    cols = (t.name, t.component, t.state)
    _, used, joined = _values_text(c, t)
    if literal and joined is not None:
        found = _literal_hits(pat, *joined)
    elif lit is not None and joined is not None:
        cands = _literal_hits(lit, *joined)
        found = list(compress(cands, map(pat.search, map(values.__getitem__, map(used.__getitem__, cands)))))
    else:
        found = _hits(pat, literal, list(map(values.__getitem__, used)))
    if found:  # one lookup table over the string codes, read through each column
        columns = [state if col is t.state else _codes(np, col, n) for col in cols]
        lut = np.zeros(max(_lut_size(codes, values) for codes in columns), dtype=bool)
        lut[np.fromiter(map(used.__getitem__, found), dtype=np.intp, count=len(found))] = True
        for codes in columns:
            hit |= lut[codes]
    if cancelled():
        return []
    # task ids: one search over all of them
    if literal:
        id_rows = _literal_hits(pat, *_ids_text(c, t))
    elif lit is not None:
        cands = _unmatched(np, hit, _literal_hits(lit, *_ids_text(c, t)))
        id_rows = list(compress(cands, map(pat.search, map(t.ids.__getitem__, cands))))
    else:
        id_rows = _searched(pat, t.ids)
    hit[_rows(np, id_rows)] = True
    if cancelled():
        return []
    # workers and error texts: with a literal (or a regex's required one), one search over the rows' texts joined
    for table, parts in ((t.worker, None), (t.error, (0, 1))):
        if not table:
            continue
        if literal or lit is not None:
            which = "worker" if parts is None else "error"
            for i, (joined_rows, of_row) in enumerate(_row_texts(c, t, which)):
                found = _literal_hits(pat if literal else lit, *joined_rows)  # type: ignore[arg-type]
                rows_found = found if of_row is None else list(map(of_row.__getitem__, found))
                if not literal:  # the candidates' own texts, searched with the whole regex
                    rows_found = _unmatched(np, hit, rows_found)
                    texts = (list(map(table.__getitem__, rows_found)) if parts is None
                             else [table[r][i] for r in rows_found])
                    rows_found = list(compress(rows_found, map(pat.search, texts)))
                hit[_rows(np, rows_found)] = True
            continue
        # a regex: each distinct value once, or each row's when they hardly repeat ("" too: a
        # worker or error text is matched even when empty)
        if parts is None:
            distinct_w = list(set(table.values()))
            if 2 * len(distinct_w) > len(table):
                keys = list(table)
                hit[_rows(np, [r for r in compress(keys, map(pat.search, table.values())) if 0 <= r < n])] = True
                continue
            good = {distinct_w[k] for k in _searched(pat, distinct_w)}
            if good:
                hit[_rows(np, [r for r, w in table.items() if w in good and 0 <= r < n])] = True
        else:
            for i in parts:
                distinct_e = list({e[i] for e in table.values() if e[i] is not None})
                good = {distinct_e[k] for k in _searched(pat, distinct_e)}
                if good:
                    hit[_rows(np, [r for r, e in table.items() if e[i] in good and 0 <= r < n])] = True
    return np.flatnonzero(hit & keep).tolist()  # type: ignore[no-any-return]


def _codes(np: Any, col: Any, n: int) -> Any:
    """A numpy copy of a string-code column, ``n`` entries (0: no value).

    A copy (``tobytes`` holds the GIL), not a view: a view would lock the
    array against the tail reader appending to it in another thread.
    """
    out = np.frombuffer(col.tobytes(), dtype=np.dtype(f"u{col.itemsize}"))
    if len(out) < n:
        out = np.concatenate([out, np.zeros(n - len(out), dtype=out.dtype)])
    return out[:n]


def _unmatched(np: Any, hit: Any, rows: list[int]) -> list[int]:
    """The rows not matched yet: a row matched by one field needs no regex on another."""
    if not rows:
        return rows
    found = _rows(np, rows)
    return found[~hit[found]].tolist()  # type: ignore[no-any-return]


def _lut_size(codes: Any, values: list[Any]) -> int:
    return max(len(values), int(codes.max()) + 1 if len(codes) else 0)


def _rows(np: Any, rows: list[int]) -> Any:
    """Row numbers (or string ids) as an index array."""
    return np.fromiter(rows, dtype=np.intp, count=len(rows))


@lru_cache(maxsize=64)
def _required_literal(pattern: str, flags: int) -> re.Pattern[str] | None:
    """A literal every match of this case-insensitive regex contains, as a pattern for ``_literal_hits``; or None.

    The longest run of literal characters at the regex's top level (every
    top-level item is part of every match, in order, so a run of literals is
    matched as one substring; a newline ends a run, as it separates the joined
    texts).  Searched with ``re.IGNORECASE`` like the regex itself: the literal
    opcodes are the same, so the strings it finds are a superset of the
    regex's matches (``(?a)`` only narrows what the regex's own case folding
    matches).  A regex without ``re.IGNORECASE`` or one the parser refuses:
    None, and every string is searched.
    """
    if not flags & re.IGNORECASE:
        return None
    try:
        from re import _parser  # type: ignore[attr-defined]

        items = _parser.parse(pattern, flags).data
        literal_op = _parser.LITERAL
    except Exception:  # noqa: BLE001 - no prefilter then; the regex itself decides
        return None
    best: list[str] = []
    run: list[str] = []
    for op, av in [*items, (None, None)]:
        if op is literal_op and av != 10:
            run.append(chr(av))
            continue
        if len(run) > len(best):
            best = run
        run = []
    if len(best) < 2:
        return None
    return re.compile(re.escape("".join(best)), re.IGNORECASE)


def _values_text(c: _TableCache, t: TaskTable) -> tuple[Any, ...]:
    """The distinct strings of the name, component and state columns, joined: kept while the columns are equal."""
    values = t.strings.values
    cols = (t.name, t.component, t.state)
    vt = c.values_text
    if vt is None or (not t.frozen and any(a != b for a, b in zip(vt[0], cols))):
        used = sorted(set().union(*cols))
        strings = [values[k] for k in used]
        joined = _joined([x or "" for x in strings]) if all(type(x) is str or x is None for x in strings) else None
        copies = () if t.frozen else tuple(array(col.typecode, col) for col in cols)
        vt = c.values_text = (copies, used, joined)
    return vt


#: Tables with fewer rows answer a first query in a few milliseconds: not worth warming.
WARM_ROWS = 20_000
#: What ``warm`` prepares, most used first: the id order (the tie-break the text columns' orders are
#: built on), then name, duration both ways, state, component, worker and error type.  A warmed table is
#: ``frozen``, so its orders hold no copies of the columns (the worker and error ones used to copy
#: 300k-entry dicts): each is one array of row numbers, 2.4 MB at 300k rows.  Not the dask-key order
#: (rarely sorted, and as costly as the worker one) nor the filters' joined texts: those are
#: ``warm_filter``'s, started when the Tasks screen is shown (+24-51 MB on a 300k-task run, measured:
#: only for those who open the list).
WARM_ORDERS = ((1, False), (0, False), (4, True), (4, False), (3, False), (2, False), (5, False), (6, False))


def warm(t: TaskTable, cancelled: Callable[[], bool] = lambda: False) -> int:
    """Prepare the common columns' whole orders, so a first sort of them is a repeat.

    For a ``frozen`` table (a finished run, fully read): the app calls it in a
    thread once the full screen is painted, while the user looks at the
    Overview.  On 300k rows a first sort otherwise costs 100–450 ms (building
    the order), a repeat 7–40 ms; the warm-up costs 1.5–1.8 s and 12–27 MB.
    Stops between steps when ``cancelled``; returns the steps done.
    Safe beside a query on another thread: both fill the same per-table cache
    with equal values.
    """
    if len(t.ids) < WARM_ROWS:
        return 0
    done = 0
    for col, rev in WARM_ORDERS:
        if cancelled():
            break
        _full_order(t, col, rev)
        done += 1
    return done


def warm_filter(t: TaskTable, cancelled: Callable[[], bool] = lambda: False) -> int:
    """Prepare the texts a filter searches (distinct names, ids, workers, error texts), so a first filter is a repeat.

    For a ``frozen`` table: the Tasks screen calls it in a thread when it is
    first shown, before a first keystroke.  On 300k rows a first filter costs
    0.2-0.45 s without them, 35-85 ms with them; they cost 0.2-0.4 s and
    24-51 MB.  Stops between steps when ``cancelled``; returns the steps done.
    Safe beside a query on another thread (both fill the cache with equal values).
    """
    if len(t.ids) < WARM_ROWS or not t.frozen:
        return 0
    steps: tuple[Callable[[_TableCache, TaskTable], Any], ...] = (
        _values_text, _ids_text, lambda c, tt: _row_texts(c, tt, "worker"), lambda c, tt: _row_texts(c, tt, "error"))
    done = 0
    for step in steps:
        if cancelled():
            break
        step(_cache(t), t)
        done += 1
    return done


def _ids_text(c: _TableCache, t: TaskTable) -> tuple[str, int, Any]:
    if c.ids_text is None:
        c.ids_text = _joined(t.ids)
    return c.ids_text


def _row_texts(c: _TableCache, t: TaskTable, which: str) -> list[tuple[tuple[str, int, Any], list[int] | None]]:
    """The rows' worker (or error type, error message) texts joined, with the row of each: kept while the dict is equal.

    Per part ``(joined, rows)``: string ``k`` of the joined text is row
    ``rows[k]`` (``rows`` None: row ``k``).  When fewer than half the rows
    have a value (errors: 15k of 300k), only those rows are joined; a row
    without one has the empty text, which no literal query matches.  Joining
    285k empty strings as well cost ~60 ms a part on a first filter.
    """
    table: dict[int, Any] = t.worker if which == "worker" else t.error  # type: ignore[assignment]
    hit = c.texts.get(which)
    if hit is not None and (t.frozen or hit[0] == table):
        return hit[1]
    n = len(t.ids)
    rows: list[int] | None = [r for r in table if 0 <= r < n]
    if 2 * len(rows) >= n:  # most rows have one: every row, "" for the others
        rows = None
    if which == "worker":
        texts = list(map(table.get, range(n), repeat("", n))) if rows is None else list(map(table.__getitem__, rows))
        out = [(_joined(texts), rows)]
    else:
        out = []
        for i in (0, 1):
            if rows is None:
                col = [""] * n
                for r, e in table.items():
                    if 0 <= r < n and e[i] is not None:
                        col[r] = e[i]
            else:
                col = [table[r][i] or "" for r in rows]
            out.append((_joined(col), rows))
    c.texts[which] = ({} if t.frozen else dict(table), out)
    return out


def _sort_key(t: TaskTable, column: int, reverse: bool) -> Callable[[int], Any]:
    """The one definition of each column's order (ties by task id; unknown durations last)."""
    values = t.strings.values
    if column == 0:
        return lambda r: (values[t.name[r]] or "", t.ids[r])
    if column == 1:
        return lambda r: t.ids[r]
    if column == 2:
        return lambda r: (values[t.component[r]] or "", t.ids[r])
    if column == 3:
        return lambda r: (values[t.state[r]] or "", t.ids[r])
    if column == 4:
        def key(r: int) -> Any:
            d = t.duration[r]
            if math.isnan(d):
                return (1, 0.0) if not reverse else (-1, 0.0)
            return (0, d)
        return key
    if column == 5:
        return lambda r: (split_worker(t.worker.get(r))[0] or "", t.ids[r])
    if column == 6:
        return lambda r: ((t.error.get(r) or (None, None))[0] or "", t.ids[r])
    return lambda r: (split_worker(t.worker.get(r))[1] or "", t.ids[r])


def _column_copy(t: TaskTable, column: int) -> Any:
    """A copy of what column ``column``'s order depends on besides the ids and strings."""
    col = {0: t.name, 2: t.component, 3: t.state}.get(column)
    if col is not None:
        return array(col.typecode, col)
    if column == 4:
        return t.duration.tobytes()  # bits: NaN != NaN
    if column in (5, 7):
        return dict(t.worker)
    if column == 6:
        return dict(t.error)
    return None


def _same_column(copy: Any, t: TaskTable, column: int) -> bool:
    col = {0: t.name, 2: t.component, 3: t.state}.get(column)
    if col is not None:
        return bool(copy == col)
    if column == 4:
        return bool(copy == t.duration.tobytes())
    if column in (5, 7):
        return bool(copy == t.worker)
    if column == 6:
        return bool(copy == t.error)
    return True


def _full_order(t: TaskTable, column: int, reverse: bool) -> Any:
    """Every row in the order ``sorted(range(n), key=_sort_key(...), reverse=reverse)`` gives, reused while valid."""
    c = _cache(t)
    hit = c.orders.get((column, reverse))
    if hit is not None and (t.frozen or _same_column(hit[0], t, column)):
        return hit[1]
    copy = None if t.frozen else _column_copy(t, column)
    order = array("q", _compute_order(t, c, column, reverse))  # a fifth of a list's memory
    c.orders[(column, reverse)] = (copy, order)
    return order


def _compute_order(t: TaskTable, c: _TableCache, column: int, reverse: bool) -> list[int]:
    """The whole order for a column, by integer keys where that is provably the same order.

    Columns ordered by (text, task id): with unique ids no two rows tie, so the
    order is the id order stably re-sorted by each row's text (by the text
    alone when no two rows share one), and its reverse is the reverse.  Durations:
    the known ones by value (stable either way), then the unknown ones in row
    order, as the (0, d) / (±1, 0.0) key puts them in both directions.
    """
    n = len(t.ids)
    values = t.strings.values
    if column == 4:
        dur = t.duration
        known = list(compress(range(n), map(operator.eq, dur, dur)))  # NaN != NaN
        unknown = list(compress(range(n), map(operator.ne, dur, dur)))
        return sorted(known, key=dur.__getitem__, reverse=reverse) + unknown
    if c.unique_ids is None:
        c.unique_ids = len(set(t.ids)) == n
    if not c.unique_ids:
        return sorted(range(n), key=_sort_key(t, column, reverse), reverse=reverse)
    if reverse:
        return _full_order(t, column, False)[::-1]
    if column == 1:
        by_id = sorted(range(n), key=t.ids.__getitem__)
    else:
        col = {0: t.name, 2: t.component, 3: t.state}.get(column)
        if col is not None:
            texts = [v or "" for v in values]
            if not all(type(x) is str for x in texts):
                return sorted(range(n), key=_sort_key(t, column, reverse), reverse=reverse)
            per_row = list(map(texts.__getitem__, col))
        else:
            per_row = [""] * n
            if column == 6:
                for r, e in t.error.items():
                    if 0 <= r < n:
                        per_row[r] = e[0] or ""
            else:
                # split_worker in C-level loops (w * True is w, w * False is ""): per distinct
                # worker when they repeat, else per row
                distinct = set(t.worker.values())
                if 2 * len(distinct) > len(t.worker):
                    workers = list(map(t.worker.get, range(n), repeat("", n)))
                    is_key: Any = map(looks_like_dask_key, workers)
                    per_row = list(map(operator.mul, workers, is_key if column == 7 else map(operator.not_, is_key)))
                else:
                    ws = list(distinct)
                    is_key = list(map(looks_like_dask_key, ws))
                    keep = is_key if column == 7 else map(operator.not_, is_key)
                    split = dict(zip(ws, map(operator.mul, ws, keep)))
                    per_row = list(map(split.get, map(t.worker.get, range(n)), repeat("", n)))
            if not all(type(x) is str for x in set(per_row)):
                return sorted(range(n), key=_sort_key(t, column, reverse), reverse=reverse)
        if len(set(per_row)) == n:  # no two rows tie on the text: the id order is not needed
            by_id = sorted(range(n), key=per_row.__getitem__)
        else:
            by_id = sorted(_full_order(t, 1, False), key=per_row.__getitem__)
    return by_id[::-1] if reverse else by_id


#: Fewer rows than this are sorted directly (the whole order is worth it for big tables only).
SMALL_SORT = 2000


def sort_tasks(t: TaskTable, rows: list[int], column: int, reverse: bool = False) -> list[int]:
    """``rows`` sorted by a column: ``sorted(rows, key=_sort_key(...), reverse=reverse)``.

    Rows in ascending order without repeats (what ``filter_tasks`` returns) are
    picked out of the table's whole order for the column, computed once and
    reused while the table is unchanged: a sort is stable, so the sorted rows of
    a subset taken in ascending order are the whole order restricted to them.
    """
    n = len(t.ids)
    if not rows or len(rows) < SMALL_SORT or not (all(map(operator.lt, rows, islice(rows, 1, None))) and 0 <= rows[0] and rows[-1] < n):
        return sorted(rows, key=_sort_key(t, column, reverse), reverse=reverse)
    order = _full_order(t, column, reverse)
    if len(rows) == n:
        return order.tolist()
    import numpy as np

    mask = np.zeros(n, dtype=bool)
    mask[_rows(np, rows)] = True
    whole = np.frombuffer(order, dtype=np.int64)  # a view: the cached order is never changed in place
    return whole[mask[whole]].tolist()  # type: ignore[no-any-return]

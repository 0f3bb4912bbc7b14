"""What the screens ask of a big run, answered by the engine over all rows.

A ``TaskQuery`` holds the task table and the failures of one ``RunState`` in
DuckDB tables, so that sorting or filtering 300k tasks for the Tasks list is
a query with ``LIMIT/OFFSET`` (one page comes back to Python), not a sort of
300k Python objects.  Column and order names are checked against fixed sets:
nothing a user types reaches the SQL text (filters are bound parameters).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from scalable_tui.model.run import RunState

#: Sortable columns of the Tasks list -> SQL expression.
SORTS = {
    "task_id": "task_id", "name": "name", "component": "component", "tag": "tag", "state": "state",
    "duration": "duration", "submitted": "submitted_ts", "last": "last_ts", "worker": "worker",
    "error_type": "error_type", "row": "r",
}
GROUPABLE = ("name", "component", "tag", "function", "state", "error_type")


@dataclass(slots=True)
class Page:
    total: int  # rows matching the filter
    rows: list[dict[str, Any]]


def _nan_to_none(xs: Any) -> list[float | None]:
    return [None if x != x else x for x in xs]


#: Rows per JSON line when columns are handed to the engine (keeps each object far below its size limit).
_CHUNK_ROWS = 8192


def _bulk(con: Any, table: str, columns: dict[str, list[Any]], types: dict[str, str]) -> None:
    """Append Python columns to an engine table fast: chunked columnar NDJSON in a private spill file.

    Handing lists to DuckDB as parameters converts element by element (seconds for 300k rows);
    orjson writes the same data in milliseconds and the engine reads it in parallel.
    """
    import os
    import tempfile

    import orjson

    from scalable_tui.sources.rundir.index.engine import cache_root, private_dir

    keys = list(columns)
    n = len(columns[keys[0]]) if keys else 0
    if n == 0:
        return
    spill = private_dir(cache_root() / "spill")
    fd, tmp = tempfile.mkstemp(dir=spill, suffix=".jsonl")
    try:
        with os.fdopen(fd, "wb") as f:
            for i in range(0, n, _CHUNK_ROWS):
                f.write(orjson.dumps({k: columns[k][i:i + _CHUNK_ROWS] for k in keys}) + b"\n")
        spec = ", ".join(f"{k}: '{types[k]}[]'" for k in keys)
        sel = ", ".join(f"unnest({k})" for k in keys)
        path = tmp.replace("'", "''")
        con.execute(f"INSERT INTO {table} ({', '.join(keys)}) SELECT {sel} FROM read_json('{path}', format = 'newline_delimited', "
                    f"columns = {{{spec}}})")
    finally:
        os.unlink(tmp)


class TaskQuery:
    """Engine tables ``tasks`` and ``failures`` for one state; queries return small results."""

    def __init__(self, state: RunState, con: Any | None = None) -> None:
        from scalable_tui.sources.rundir.index.engine import connect

        self.con = con if con is not None else connect()
        t = state.tasks
        n = len(t.ids)
        err = t.error
        nan = math.nan
        self.con.execute("CREATE OR REPLACE TABLE strs (code BIGINT, s VARCHAR)")
        vals = t.strings.values
        _bulk(self.con, "strs", {"code": list(range(len(vals))), "s": vals}, {"code": "BIGINT", "s": "VARCHAR"})
        cols = {
            "r": list(range(n)), "task_id": t.ids, "st": list(t.state), "nm": list(t.name), "cp": list(t.component),
            "tg": list(t.tag), "fn": list(t.function),
            "submitted_ts": _nan_to_none(t.submitted_ts), "last_ts": _nan_to_none(t.last_ts),
            "duration": _nan_to_none(t.duration),
            "worker": [t.worker.get(r) for r in range(n)],
            "error_type": [err[r][0] if r in err else None for r in range(n)],
            "error_message": [err[r][1] if r in err else None for r in range(n)],
        }
        del nan
        types = {k: "BIGINT" for k in ("r", "st", "nm", "cp", "tg", "fn")} | {
            k: "DOUBLE" for k in ("submitted_ts", "last_ts", "duration")} | {
            k: "VARCHAR" for k in ("task_id", "worker", "error_type", "error_message")}
        self.con.execute("CREATE OR REPLACE TEMP TABLE raw_rows (" + ", ".join(f"{k} {v}" for k, v in types.items())
                         + ")")
        _bulk(self.con, "raw_rows", cols, types)
        self.con.execute("""
            CREATE OR REPLACE TABLE tasks AS
            SELECT x.r, x.task_id, s1.s AS state, s2.s AS name, s3.s AS component, s4.s AS tag, s5.s AS function,
                   x.submitted_ts, x.last_ts, x.duration, x.worker, x.error_type, x.error_message
            FROM raw_rows x JOIN strs s1 ON s1.code = x.st JOIN strs s2 ON s2.code = x.nm
            JOIN strs s3 ON s3.code = x.cp JOIN strs s4 ON s4.code = x.tg JOIN strs s5 ON s5.code = x.fn
            ORDER BY x.r
        """)
        self.con.execute("DROP TABLE raw_rows")
        self.con.execute("""
            CREATE OR REPLACE TABLE failures (i BIGINT, failure_class VARCHAR, message VARCHAR, task_id VARCHAR,
                source VARCHAR, phase VARCHAR)
        """)
        fs = state.failures
        _bulk(self.con, "failures", {"i": [f.index for f in fs], "failure_class": [f.failure_class for f in fs],
                                     "message": [f.message for f in fs], "task_id": [f.task_id for f in fs],
                                     "source": [f.source for f in fs], "phase": [f.phase for f in fs]},
              {"i": "BIGINT", "failure_class": "VARCHAR", "message": "VARCHAR", "task_id": "VARCHAR",
               "source": "VARCHAR", "phase": "VARCHAR"})

    # -- counts ---------------------------------------------------------------
    def counts_by_state(self) -> dict[str, int]:
        """Tasks per final state (rows known only from resources.jsonl have no state and are left out)."""
        return dict(self.con.execute(
            "SELECT state, count(*) FROM tasks WHERE state IS NOT NULL GROUP BY state").fetchall())

    def counts_by(self, column: str, *, prefix_sep: str | None = None) -> dict[str, dict[str, int]]:
        """Per value (or per prefix before ``prefix_sep``) of a column, the count of tasks in each state."""
        if column not in GROUPABLE:
            raise ValueError(f"cannot group by {column!r}")
        key = f"coalesce({column}, '(none)')"
        params: list[Any] = []
        if prefix_sep:
            key = f"split_part({key}, $1, 1)"
            params.append(prefix_sep)
        out: dict[str, dict[str, int]] = {}
        for g, s, n in self.con.execute(
                f"SELECT {key} AS g, state, count(*) FROM tasks WHERE state IS NOT NULL GROUP BY g, state",
                params).fetchall():
            out.setdefault(g, {})[s] = n
        return out

    # -- the Tasks list -------------------------------------------------------
    def page(self, *, sort: str = "row", descending: bool = False, text: str | None = None,
             states: list[str] | None = None, limit: int = 100, offset: int = 0) -> Page:
        """One page of the Tasks list, sorted and filtered over all rows."""
        if sort not in SORTS:
            raise ValueError(f"cannot sort by {sort!r}")
        where = ["state IS NOT NULL"]
        params: list[Any] = []
        if text:
            params.append(text.lower())
            i = len(params)
            where.append(f"(contains(lower(task_id), ${i}) OR contains(lower(coalesce(name, '')), ${i}) "
                         f"OR contains(lower(coalesce(component, '')), ${i}) "
                         f"OR contains(lower(coalesce(error_message, '')), ${i}))")
        if states:
            params.append(list(states))
            where.append(f"list_contains(${len(params)}, state)")
        w = " AND ".join(where)
        total, = self.con.execute(f"SELECT count(*) FROM tasks WHERE {w}", params).fetchone()
        order = f"{SORTS[sort]} {'DESC' if descending else 'ASC'} NULLS LAST, r"
        params += [max(0, int(limit)), max(0, int(offset))]
        cur = self.con.execute(
            f"SELECT * FROM tasks WHERE {w} ORDER BY {order} LIMIT ${len(params) - 1} OFFSET ${len(params)}", params)
        names = [d[0] for d in cur.description]
        return Page(total, [dict(zip(names, row)) for row in cur.fetchall()])

    # -- histograms -----------------------------------------------------------
    def histogram(self, column: str = "duration", bins: int = 20) -> list[tuple[float, float, int]]:
        """Equal-width bins over a numeric column (durations, or last/submitted times for a timeline)."""
        col = {"duration": "duration", "submitted": "submitted_ts", "last": "last_ts"}.get(column)
        if col is None:
            raise ValueError(f"no histogram of {column!r}")
        lo, hi = self.con.execute(f"SELECT min({col}), max({col}) FROM tasks").fetchone()
        if lo is None:
            return []
        n = max(1, int(bins))
        width = (hi - lo) / n or 1.0
        counts = dict(self.con.execute(
            f"SELECT least(floor(({col} - $1) / $2)::BIGINT, $3 - 1) AS b, count(*) FROM tasks "
            f"WHERE {col} IS NOT NULL GROUP BY b", [lo, width, n]).fetchall())
        return [(lo + i * width, lo + (i + 1) * width, counts.get(i, 0)) for i in range(n)]

    # -- failures -------------------------------------------------------------
    def failure_groups(self, *, limit: int = 50) -> list[tuple[str, str, int, list[int]]]:
        """Failures grouped by exact (class, message): the cheap first grouping before any signature work."""
        return [(c, m, n, list(ix)) for c, m, n, ix in self.con.execute("""
            SELECT failure_class, message, count(*) AS n, list(i ORDER BY i)[1:5]
            FROM failures GROUP BY failure_class, message ORDER BY n DESC, min(i) LIMIT ?
        """, [limit]).fetchall()]

    def close(self) -> None:
        self.con.close()

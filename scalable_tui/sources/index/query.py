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

from scalable_tui.models import RunState

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
    return [None if math.isnan(x) else x for x in xs]


class TaskQuery:
    """Engine tables ``tasks`` and ``failures`` for one state; queries return small results."""

    def __init__(self, state: RunState, con: Any | None = None) -> None:
        from scalable_tui.sources.index.engine import connect

        self.con = con if con is not None else connect()
        t = state.tasks
        vals = t.strings.values
        n = len(t.ids)
        err = t.error
        self.con.execute("""
            CREATE OR REPLACE TABLE tasks (r BIGINT, task_id VARCHAR, state VARCHAR, name VARCHAR, component VARCHAR,
                tag VARCHAR, function VARCHAR, submitted_ts DOUBLE, last_ts DOUBLE, duration DOUBLE, worker VARCHAR,
                error_type VARCHAR, error_message VARCHAR)
        """)
        cols = [
            list(range(n)), t.ids,
            [vals[x] for x in t.state], [vals[x] for x in t.name], [vals[x] for x in t.component],
            [vals[x] for x in t.tag], [vals[x] for x in t.function],
            _nan_to_none(t.submitted_ts), _nan_to_none(t.last_ts), _nan_to_none(t.duration),
            [t.worker.get(r) for r in range(n)],
            [err[r][0] if r in err else None for r in range(n)], [err[r][1] if r in err else None for r in range(n)],
        ]
        if n:
            sel = ", ".join(f"unnest(${i + 1})" for i in range(len(cols)))
            self.con.execute(f"INSERT INTO tasks SELECT {sel}", cols)
        self.con.execute("""
            CREATE OR REPLACE TABLE failures (i BIGINT, failure_class VARCHAR, message VARCHAR, task_id VARCHAR,
                source VARCHAR, phase VARCHAR)
        """)
        fs = state.failures
        if fs:
            self.con.execute(
                "INSERT INTO failures SELECT unnest($1), unnest($2), unnest($3), unnest($4), unnest($5), unnest($6)",
                [[f.index for f in fs], [f.failure_class for f in fs], [f.message for f in fs],
                 [f.task_id for f in fs], [f.source for f in fs], [f.phase for f in fs]])

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

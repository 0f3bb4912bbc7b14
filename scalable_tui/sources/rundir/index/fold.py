"""tasks.jsonl folded per task by the engine in one streaming pass (no per-line table).

Certified lines are grouped by task id on the fly; every line the engine cannot
vouch for becomes a group of its own (keyed by its line number) and is then
decoded by Python.  Its events are folded into the task's aggregate with the
same rules (each value remembers the line it came from, so "last event wins"
and "first submitted time" merge exactly, whatever the order).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scalable_tui.sources.rundir.index.build import (
    TASK_SCHEMA,
    Fallback,
    Scan,
    _certified,
    _FUTURE,
    _gate,
    _json_source,
    _python_task_lines,
    _raw_pass,
    _read_lines,
    _str,
    geometry,
)
from scalable_tui.sources.rundir.values import parse_ts

_FMT = "%Y-%m-%dT%H:%M:%SZ"
#: A timestamp the engine may convert itself: exactly ``YYYY-MM-DDTHH:MM:SSZ`` and a real instant
#: (the round trip through strptime/strftime rules out every other shape; Python reads these alike).
_TS_OK = (f"(j.timestamp IS NULL OR (strlen(j.timestamp) = 22 AND substr(j.timestamp, 19, 2) < '60' "
          f"AND substr(j.timestamp, 2, 4) >= '0001' "
          f"AND strftime(try_strptime(substr(j.timestamp, 2, 20), '{_FMT}'), '{_FMT}') = substr(j.timestamp, 2, 20)))")

#: Columns of ``task_agg``; ``*_rn`` is the line a value came from.
AGG = ("tid", "n", "first", "st", "st_rn", "nm", "nm_rn", "cp", "cp_rn", "tg", "tg_rn", "fn", "fn_rn", "sub", "sub_rn",
       "last", "last_rn", "emin", "emax", "dur", "dur_rn", "wk", "wk_rn", "err_rn", "et", "em", "em_other", "fail_rn")
_TYPES = {"tid": "VARCHAR", "st": "VARCHAR", "nm": "VARCHAR", "cp": "VARCHAR", "tg": "VARCHAR", "fn": "VARCHAR",
          "sub": "DOUBLE", "last": "DOUBLE", "emin": "DOUBLE", "emax": "DOUBLE", "dur": "DOUBLE", "wk": "VARCHAR",
          "et": "VARCHAR", "em": "VARCHAR", "em_other": "BOOLEAN"}


def _values() -> str:
    return (f"{_str('j.task_id')} AS tid, {_str('j.state')} AS st, {_str('j.task_name')} AS nm, "
            f"{_str('j.component')} AS cp, {_str('j.tag')} AS tg, {_str('j.function_name')} AS fn, "
            f"epoch(try_strptime({_str('j.timestamp')}, '{_FMT}'))::DOUBLE AS e, "
            f"TRY_CAST(j.duration_s AS DOUBLE) AS dur, {_str('j.worker')} AS wk, "
            f"(j.error_type IS NOT NULL OR j.error_message IS NOT NULL) AS err, {_str('j.error_type')} AS et, "
            f"{_str('j.error_message')} AS em")


_AGGREGATES = """
    count(*) AS n, min(rn) AS first,
    arg_max(st, rn) AS st, max(rn) AS st_rn,
    arg_max(nm, rn) FILTER (WHERE nm IS NOT NULL) AS nm, max(rn) FILTER (WHERE nm IS NOT NULL) AS nm_rn,
    arg_max(cp, rn) FILTER (WHERE cp IS NOT NULL) AS cp, max(rn) FILTER (WHERE cp IS NOT NULL) AS cp_rn,
    arg_max(tg, rn) FILTER (WHERE tg IS NOT NULL) AS tg, max(rn) FILTER (WHERE tg IS NOT NULL) AS tg_rn,
    arg_max(fn, rn) FILTER (WHERE fn IS NOT NULL) AS fn, max(rn) FILTER (WHERE fn IS NOT NULL) AS fn_rn,
    arg_min(e, rn) FILTER (WHERE st = 'submitted' AND e IS NOT NULL) AS sub,
    min(rn) FILTER (WHERE st = 'submitted' AND e IS NOT NULL) AS sub_rn,
    arg_max(e, rn) FILTER (WHERE e IS NOT NULL) AS last, max(rn) FILTER (WHERE e IS NOT NULL) AS last_rn,
    min(e) AS emin, max(e) AS emax,
    arg_max(dur, rn) FILTER (WHERE dur IS NOT NULL) AS dur, max(rn) FILTER (WHERE dur IS NOT NULL) AS dur_rn,
    arg_max(wk, rn) FILTER (WHERE wk IS NOT NULL) AS wk, max(rn) FILTER (WHERE wk IS NOT NULL) AS wk_rn,
    max(rn) FILTER (WHERE err) AS err_rn,
    arg_max_null(et, rn) FILTER (WHERE err) AS et, arg_max_null(em, rn) FILTER (WHERE err) AS em,
    false AS em_other,
    min(rn) FILTER (WHERE st = 'failed') AS fail_rn
"""


def scan_tasks(con: Any, run_dir: Path) -> Scan:
    """Fill ``task_agg`` (one row per task id that has a valid event) and return the stream's issues."""
    geo = geometry(run_dir / "tasks.jsonl")
    scan = Scan("tasks", "task_agg", 0, geo)
    cols = ", ".join(f"{c} {_TYPES.get(c, 'BIGINT')}" for c in AGG)
    if geo is None:
        con.execute(f"CREATE OR REPLACE TEMP TABLE task_agg ({cols})")
        return scan
    _gate(geo)
    scan.issues.held_back = len(geo.partial)  # as the Python reader's tail holds it back
    complete, nonblank = _raw_pass(con, "tasks", geo)
    scan.lines = complete
    ok = f"coalesce({_certified(TASK_SCHEMA)} AND {_TS_OK}, false)"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE task_groups AS
        SELECT CASE WHEN ok THEN tid ELSE chr(0) || rn::VARCHAR END AS tid, bool_and(ok) AS ok,
               count(*) FILTER (WHERE ok AND future) AS n_future, count(*) FILTER (WHERE misaligned) AS n_mis,
               count(jn) AS n_json, {_AGGREGATES}
        FROM (SELECT m.rn, j.jn, {_values()}, {ok} AS ok, {_FUTURE} AS future,
                     m.nb IS NOT NULL AND m.nb <> j.jn AS misaligned
              FROM {_json_source(geo, tuple(TASK_SCHEMA))} j POSITIONAL JOIN map_tasks m)
        GROUP BY 1
    """)
    n, future, mis = con.execute("SELECT sum(n_json), sum(n_future), sum(n_mis) FROM task_groups").fetchone()
    if mis:
        raise Fallback("tasks: engine rows and lines do not pair up")
    partial_row = 1 if geo.partial.strip(b" \t\x0b\x0c") else 0
    if (n or 0) != nonblank + partial_row:
        raise Fallback(f"tasks: engine rows {n} != non-blank lines {nonblank} + {partial_row}")
    scan.issues.future_schema += future or 0
    bad = [r for r, in con.execute("SELECT first FROM task_groups WHERE NOT ok AND first IS NOT NULL ORDER BY 1")
           .fetchall()]
    con.execute("DELETE FROM task_groups WHERE NOT ok OR tid IS NULL")
    con.execute(f"CREATE OR REPLACE TEMP TABLE task_agg AS SELECT {', '.join(AGG)} FROM task_groups")
    con.execute("DROP TABLE task_groups")
    if bad:
        events = _python_task_lines(_read_lines(geo.path, con, "tasks", bad), scan.issues)
        scan.python_lines = len(bad)
        scan.python_events = events
        if events:
            _fold_python(con, events)
    return scan


def _fold_python(con: Any, events: list[tuple[Any, ...]]) -> None:
    """Fold Python-decoded events into the engine's aggregates, rule by rule."""
    touched = sorted({ev[1] for ev in events})
    con.execute("CREATE OR REPLACE TEMP TABLE touched (tid VARCHAR)")
    con.execute("INSERT INTO touched SELECT unnest(?)", [touched])
    aggs: dict[str, dict[str, Any]] = {}
    for row in con.execute(f"SELECT {', '.join(AGG)} FROM task_agg WHERE tid IN (SELECT tid FROM touched)").fetchall():
        aggs[row[0]] = dict(zip(AGG, row))
    con.execute("DELETE FROM task_agg WHERE tid IN (SELECT tid FROM touched)")
    for rn, tid, st, nm, cp, tg, fn, ts_s, dur, wk, err, et, em, em_other in sorted(events):
        a = aggs.get(tid)
        if a is None:
            a = aggs[tid] = dict.fromkeys(AGG)
            a.update(tid=tid, n=0, em_other=False)
        e = parse_ts(ts_s)
        a["n"] += 1
        a["first"] = rn if a["first"] is None else min(a["first"], rn)
        if a["st_rn"] is None or rn > a["st_rn"]:
            a["st"], a["st_rn"] = st, rn
        for k, v in (("nm", nm), ("cp", cp), ("tg", tg), ("fn", fn), ("dur", dur), ("wk", wk)):
            if v is not None and (a[k + "_rn"] is None or rn > a[k + "_rn"]):
                a[k], a[k + "_rn"] = v, rn
        if e is not None:
            if st == "submitted" and (a["sub_rn"] is None or rn < a["sub_rn"]):
                a["sub"], a["sub_rn"] = e, rn
            if a["last_rn"] is None or rn > a["last_rn"]:
                a["last"], a["last_rn"] = e, rn
            a["emin"] = e if a["emin"] is None else min(a["emin"], e)
            a["emax"] = e if a["emax"] is None else max(a["emax"], e)
        if err and (a["err_rn"] is None or rn > a["err_rn"]):
            a["et"], a["em"], a["em_other"], a["err_rn"] = et, em, em_other, rn
        if st == "failed" and (a["fail_rn"] is None or rn < a["fail_rn"]):
            a["fail_rn"] = rn
    columns = [[a[c] for a in aggs.values()] for c in AGG]
    sel = ", ".join(f"unnest(${i + 1})::{_TYPES.get(c, 'BIGINT')}" for i, c in enumerate(AGG))
    con.execute(f"INSERT INTO task_agg SELECT {sel}", columns)


def failed_lines(con: Any, run_dir: Path, tids: list[str], python: list[tuple[Any, ...]] | None = None,
                 ) -> list[tuple[Any, ...]]:
    """Every event of these tasks, line by line (rare: failed tasks without a failure record)."""
    geo = geometry(run_dir / "tasks.jsonl")
    if geo is None or not tids:
        return []
    con.execute("CREATE OR REPLACE TEMP TABLE want_tids (tid VARCHAR)")
    con.execute("INSERT INTO want_tids SELECT unnest(?)", [tids])
    ok = f"coalesce({_certified(TASK_SCHEMA)} AND {_TS_OK}, false)"
    return con.execute(f"""
        SELECT rn, tid, st, ts_s, wk, et, em FROM (
            SELECT m.rn, {_values()}, {_str('j.timestamp')} AS ts_s, {ok} AS ok
            FROM {_json_source(geo, tuple(TASK_SCHEMA))} j POSITIONAL JOIN map_tasks m)
        WHERE ok AND tid IN (SELECT tid FROM want_tids) ORDER BY rn
    """).fetchall()


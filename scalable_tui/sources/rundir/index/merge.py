"""Fold the per-line engine tables into the reader's ``RunState``, with the Python reader's rules.

The fold is done by the engine (last event wins, first ``submitted`` time,
first appearance decides row order); Python only receives finished columns.
The result is a ``RunDirReader`` positioned after the last complete line of
each stream, so tailing a run that grows again costs only the appended bytes.
"""

from __future__ import annotations

from array import array
from pathlib import Path
from typing import Any

from scalable_tui.model.run import FailureRecord, ResourceProfile, TaskTable
from scalable_tui.sources.rundir.index.build import Fallback, Scan, scan_resources
from scalable_tui.sources.rundir.index.fold import failed_lines, scan_tasks
from scalable_tui.sources.rundir.jsonl import CHUNK
from scalable_tui.sources.rundir.reader import RunDirReader
from scalable_tui.sources.rundir.values import parse_ts


def _lists(con: Any, sql: str, n: int) -> list[list[Any]]:
    row = con.execute(sql).fetchone()
    return [list(x) if x is not None else [] for x in row] if row is not None else [[] for _ in range(n)]


def _insert_columns(con: Any, table: str, columns: list[list[Any]]) -> None:
    """Bulk insert from Python lists (one parameter per column, zipped by ``unnest``)."""
    if not columns or not columns[0]:
        return
    sel = ", ".join(f"unnest(${i + 1})" for i in range(len(columns)))
    con.execute(f"INSERT INTO {table} SELECT {sel}", columns)


def _profiles(con: Any, reader: RunDirReader) -> None:
    con.execute("""
        CREATE OR REPLACE TEMP TABLE profiles AS
        SELECT row_number() OVER (ORDER BY first) - 1 AS idx, * FROM (
            SELECT cp, pv, cpus, mem, wall, wrk, min(rn) AS first,
                   arg_min(cpus_int, rn) AS cpus_int, arg_min(wrk_int, rn) AS wrk_int
            FROM ev_resources GROUP BY cp, pv, cpus, mem, wall, wrk)
    """)
    st = reader.state
    for _, cp, pv, cpus, mem, wall, wrk, _, ci, wi in con.execute("SELECT * FROM profiles ORDER BY idx").fetchall():
        c = None if cpus is None else (int(cpus) if ci else float(cpus))
        w = None if wrk is None else (int(wrk) if wi else float(wrk))
        key = (cp, pv, c, mem, wall, w)
        reader._profile_index[key] = len(st.profiles)
        st.profiles.append(ResourceProfile(*key))  # type: ignore[arg-type]
    con.execute("""
        CREATE OR REPLACE TEMP TABLE res_ids AS
        SELECT e.eid, min(e.rn) AS first, arg_max(p.idx, e.rn) AS prof
        FROM ev_resources e JOIN profiles p
          ON e.cp IS NOT DISTINCT FROM p.cp AND e.pv IS NOT DISTINCT FROM p.pv
         AND e.cpus IS NOT DISTINCT FROM p.cpus AND e.mem IS NOT DISTINCT FROM p.mem
         AND e.wall IS NOT DISTINCT FROM p.wall AND e.wrk IS NOT DISTINCT FROM p.wrk
        GROUP BY e.eid
    """)


def _order(con: Any) -> None:
    con.execute("""
        CREATE OR REPLACE TEMP TABLE task_rows AS
        SELECT id, (row_number() OVER (ORDER BY grp, first) - 1)::BIGINT AS r FROM (
            SELECT eid AS id, 0 AS grp, first FROM res_ids
            UNION ALL
            SELECT tid, 1, first FROM task_agg WHERE tid NOT IN (SELECT eid FROM res_ids))
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE strs AS
        SELECT s, (row_number() OVER (ORDER BY s) + 0)::INTEGER AS code FROM (
            SELECT st AS s FROM task_agg UNION SELECT nm FROM task_agg UNION SELECT cp FROM task_agg
            UNION SELECT tg FROM task_agg UNION SELECT fn FROM task_agg) WHERE s IS NOT NULL
    """)


def _table(con: Any, reader: RunDirReader) -> None:
    t = TaskTable()
    strings = [s for s, in con.execute("SELECT s FROM strs ORDER BY code").fetchall()]
    t.strings.values = [None, *strings]
    t.strings.index = {v: i for i, v in enumerate(t.strings.values)}
    cols = _lists(con, """
        SELECT list(r.id ORDER BY r.r), list(coalesce(s1.code, 0) ORDER BY r.r), list(coalesce(s2.code, 0) ORDER BY r.r),
               list(coalesce(s3.code, 0) ORDER BY r.r), list(coalesce(s4.code, 0) ORDER BY r.r),
               list(coalesce(s5.code, 0) ORDER BY r.r),
               list(coalesce(a.sub, 'NaN'::DOUBLE) ORDER BY r.r), list(coalesce(a."last", 'NaN'::DOUBLE) ORDER BY r.r),
               list(coalesce(a.dur, 'NaN'::DOUBLE) ORDER BY r.r)
        FROM task_rows r LEFT JOIN task_agg a ON a.tid = r.id
        LEFT JOIN strs s1 ON s1.s = a.st LEFT JOIN strs s2 ON s2.s = a.nm LEFT JOIN strs s3 ON s3.s = a.cp
        LEFT JOIN strs s4 ON s4.s = a.tg LEFT JOIN strs s5 ON s5.s = a.fn
    """, 9)
    ids = cols[0]
    t.ids = ids
    t.row = dict(zip(ids, range(len(ids))))
    t.state = array("I", cols[1])
    t.name = array("I", cols[2])
    t.component = array("I", cols[3])
    t.tag = array("I", cols[4])
    t.function = array("I", cols[5])
    t.submitted_ts = array("d", cols[6])
    t.last_ts = array("d", cols[7])
    t.duration = array("d", cols[8])
    rows, workers = _lists(con, """
        SELECT list(r.r ORDER BY r.r), list(a.wk ORDER BY r.r)
        FROM task_rows r JOIN task_agg a ON a.tid = r.id WHERE a.wk IS NOT NULL
    """, 2)
    t.worker = dict(zip(rows, workers))
    rows, ets, ems = _lists(con, """
        SELECT list(r.r ORDER BY r.r), list(a.et ORDER BY r.r), list(a.em ORDER BY r.r)
        FROM task_rows r JOIN task_agg a ON a.tid = r.id WHERE a.err_rn IS NOT NULL
    """, 3)
    t.error = {r: (et, em) for r, et, em in zip(rows, ets, ems)}
    rows, profs = _lists(con, """
        SELECT list(r.r ORDER BY r.r), list(x.prof ORDER BY r.r) FROM task_rows r JOIN res_ids x ON x.eid = r.id
    """, 2)
    t.resource = dict(zip(rows, profs))
    t.events, = con.execute("SELECT coalesce(sum(n), 0)::BIGINT FROM task_agg").fetchone()
    reader.state.tasks = t
    reader.state.resource_events, = con.execute("SELECT count(*) FROM ev_resources").fetchone()
    lo, hi = con.execute("SELECT min(emin), max(emax) FROM task_agg").fetchone()
    if hi is not None:
        reader._seen_ts(hi)
    if lo is not None:
        reader._seen_ts(lo)


def _synthesize(con: Any, reader: RunDirReader, scan: Scan) -> None:
    """Failed tasks without a failure record become failures, as ``RunDirReader._synthesize`` does."""
    con.execute("CREATE OR REPLACE TEMP TABLE recorded (tid VARCHAR)")
    _insert_columns(con, "recorded", [sorted(reader._failed_with_record)])
    firsts = con.execute("""
        SELECT tid, fail_rn FROM task_agg WHERE fail_rn IS NOT NULL AND tid NOT IN (SELECT tid FROM recorded)
        ORDER BY fail_rn
    """).fetchall()
    if not firsts:
        return
    tids = [tid for tid, _ in firsts]
    want = set(tids)
    # every event of these tasks: (rn, tid, state, timestamp string, worker, error_type, message)
    events = list(failed_lines(con, reader.path, tids))
    for rn, tid, st, _nm, _cp, _tg, _fn, ts_s, _dur, wk, _err, et, em, em_other in scan.python_events:
        if tid in want:
            events.append((rn, tid, st, ts_s, wk, et, None if em_other else em))
    events.sort()
    # The Python reader takes the worker known when the chunk holding the failed line was done.
    con.execute("CREATE OR REPLACE TEMP TABLE want_rn (rn BIGINT)")
    con.execute("INSERT INTO want_rn SELECT unnest(?)", [[e[0] for e in events]])
    chunk_of = dict(con.execute(f"""
        SELECT rn, nl // {CHUNK} FROM (SELECT rn, sum(len + 1) OVER (ORDER BY rn) - 1 AS nl FROM raw_tasks)
        WHERE rn IN (SELECT rn FROM want_rn)
    """).fetchall())
    by_tid: dict[str, list[tuple[Any, ...]]] = {}
    for ev in events:
        by_tid.setdefault(ev[1], []).append(ev)
    st = reader.state
    for tid, fail_rn in firsts:
        evs = by_tid.get(tid, [])
        failed = next(e for e in evs if e[0] == fail_rn)
        chunk = chunk_of[fail_rn]
        wk = None
        for e in evs:
            if chunk_of[e[0]] <= chunk and e[4] is not None:
                wk = e[4]
        _, _, _, ts_s, _, et, em = failed
        rec = FailureRecord(
            index=len(st.failures),
            failure_class=et or "UnknownError",
            message=em if em is not None else "",
            timestamp=ts_s,
            ts=parse_ts(ts_s),
            task_id=tid,
            worker=wk,
            source="tasks.jsonl",
        )
        reader._synthetic[tid] = rec.index
        st.failures.append(rec)


def _place_tail(reader: RunDirReader, scan: Scan) -> None:
    tail = reader.tails[scan.name]
    geo = scan.geometry
    if geo is None:
        tail.exists = False
        return
    tail.exists = True
    tail.offset = geo.end
    tail.line_no = scan.lines
    tail._ino = geo.inode
    reader.state.lines_read[f"{scan.name}.jsonl"] = scan.lines


def _issues(reader: RunDirReader, scan: Scan) -> None:
    from scalable_tui.model.run import FileIssues

    if scan.issues != FileIssues():
        reader.state.issues[f"{scan.name}.jsonl"] = scan.issues


def load_reader(con: Any, run_dir: str | Path) -> RunDirReader:
    """A ``RunDirReader`` whose state was built by the engine; raises ``Fallback`` when it cannot vouch for it."""
    path = Path(run_dir)
    for name in ("tasks", "resources"):
        if not (path / f"{name}.jsonl").exists() and (path / f"{name}.parquet").exists():
            raise Fallback(f"{name}.parquet stands in for {name}.jsonl")
    reader = RunDirReader(path)
    reader._budget = None
    reader._stopped_early = False
    reader._read_run_json()
    reader._read_static()
    reader._static_loaded = True
    res = scan_resources(con, path)
    tasks = scan_tasks(con, path)
    _issues(reader, res)
    reader._read_stream("failures", reader._on_failure_lines)
    _profiles(con, reader)
    _order(con)
    _table(con, reader)
    _issues(reader, tasks)
    _synthesize(con, reader, tasks)
    _place_tail(reader, res)
    _place_tail(reader, tasks)
    reader._read_stream("workers", reader._on_worker_lines)
    reader._read_stream("cache", reader._on_cache_lines)
    reader._read_stream("artifacts", reader._on_count_lines("artifacts"))
    reader._read_stream("cost", reader._on_count_lines("cost_events"))
    reader._reconcile_synthetic()
    if reader.state.summary is None:
        reader.state.summary = reader._read_json("summary.json")
    return reader


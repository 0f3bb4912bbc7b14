"""Read tasks.jsonl / resources.jsonl with the engine, one row per line, vouched for line by line.

The engine's JSON reader is faster than anything in Python, but it is more
lenient than orjson (trailing commas, ``NaN``, the first of two duplicate keys,
silently skipped blank lines) and coerces types.  So every line is read twice
in native code: once as raw text (``read_csv`` without quoting, as latin-1 so
that no byte is rejected and line numbers stay exact) and once as JSON with a
``JSON``-typed column per known key.  A line is *certified* only when

- its byte length equals the length of the canonical
  ``json.dumps(..., sort_keys=True)`` rendering of the values the engine read
  (so no extra or duplicate keys, no trailing commas, no odd spacing),
- its count of ``: null`` equals the number of keys the engine found null,
- every value has the type the Python reader accepts without a notice, and
  every number is a plain decimal the two parsers read alike.

Every other line (corrupt, non-UTF-8, wrong-typed, escaped, anything unusual)
is decoded by Python with the exact rules of ``rundir.RunDirReader`` and its
values are inserted next to the certified ones, in line order.  Whatever the
engine cannot line up with the file (a carriage return or ``\\x01`` in the
file, blank-line counts that disagree) raises ``Fallback``: the caller then
uses the Python reader for the whole run.  A different answer is never an
option; a slower one is.
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scalable_tui.model.run import FileIssues
from scalable_tui.sources.rundir.files import open_regular
from scalable_tui.sources.rundir.jsonl import complete_end

TASK_KEYS = (
    "component", "duration_s", "error_message", "error_type", "event_type", "function_name",
    "requested_workers", "run_id", "schema_version", "state", "tag", "task_id", "task_name", "timestamp", "worker",
)
RESOURCE_KEYS = (
    "component", "entity_id", "entity_type", "event_type", "observed_cpu", "observed_memory_gb", "provider",
    "requested_cpus", "requested_memory", "requested_walltime", "requested_workers", "run_id", "schema_version",
    "timestamp",
)
#: Lines longer than this go to Python (orjson's nesting limit cannot be hit below it).
MAX_CERTIFIED_LINE = 2000


class Fallback(Exception):
    """The engine cannot vouch for this file; read the run with the Python reader."""


@dataclass(slots=True)
class Geometry:
    """Where the complete lines of a JSONL file end (a partial last line is held back, as the tail does)."""

    path: Path
    size: int
    end: int  # offset just after the last newline
    inode: int
    partial: bytes


@dataclass(slots=True)
class Scan:
    """What one stream's engine pass left behind: a per-line table plus the Python-decoded lines' issues."""

    name: str
    table: str
    lines: int
    geometry: Geometry | None
    issues: FileIssues = field(default_factory=FileIssues)
    python_lines: int = 0
    #: The valid events of the lines Python decoded (tasks only), for the rare per-line questions.
    python_events: list[tuple[Any, ...]] = field(default_factory=list)


def geometry(path: Path) -> Geometry | None:
    """Size, inode and the offset after the last newline; None when the file is missing."""
    try:
        f = open_regular(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise Fallback(f"{path.name}: {exc}") from exc
    with f:
        st = os.fstat(f.fileno())
        end, partial = complete_end(f.fileno(), st.st_size)
        return Geometry(path, st.st_size, end, st.st_ino, partial)


def _gate(geo: Geometry) -> None:
    """Bytes that would make the engine's line numbering differ from Python's: refuse the file."""
    if geo.end == 0:
        return
    with open(geo.path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        for bad in (b"\r", b"\x01"):
            if mm.find(bad, 0, geo.end) >= 0:
                raise Fallback(f"{geo.path.name}: contains {bad!r}")


def _q(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


#: Per key: "S" a non-empty JSON string, "s" a JSON string or null, "n" a plain non-negative number or null.
TASK_SCHEMA = {k: "s" for k in TASK_KEYS} | {"task_id": "S", "state": "S", "duration_s": "n",
                                             "requested_workers": "n", "schema_version": "n"}
RESOURCE_SCHEMA = {k: "s" for k in RESOURCE_KEYS} | {"entity_id": "S0", "observed_cpu": "n", "observed_memory_gb": "n",
                                                     "requested_cpus": "n", "requested_workers": "n",
                                                     "schema_version": "n"}


def _check(c: str, kind: str) -> str:
    if kind == "S":
        return f"(ascii({c}) = 34 AND strlen({c}) > 2)"
    if kind == "S0":
        return f"ascii({c}) = 34"
    if kind == "s":
        return f"({c} IS NULL OR ascii({c}) = 34)"
    # a number both parsers read alike: short plain decimal, no sign, no exponent
    return (f"({c} IS NULL OR (ascii({c}) BETWEEN 48 AND 57 AND strlen({c}) <= 18 "
            f"AND NOT contains({c}, 'e') AND NOT contains({c}, 'E')))")


def _str(c: str) -> str:
    """The value of a JSON-typed column certified to hold a JSON string or null."""
    return f"CASE WHEN contains({c}, '\\') THEN {c} ->> '$' ELSE substr({c}, 2, length({c}) - 2) END"


def _canonical(keys: tuple[str, ...]) -> str:
    fixed = 2 + sum(len(k) + 4 for k in keys) + 2 * (len(keys) - 1)
    return f"{fixed} + " + " + ".join(f"coalesce(strlen(j.{k}), 4)" for k in keys)


def _nulls(keys: tuple[str, ...]) -> str:
    return " + ".join(f"(j.{k} IS NULL)::INT" for k in keys)


def _raw_pass(con: Any, name: str, geo: Geometry) -> tuple[int, int]:
    """Per-line byte length, ``: null`` count and blank flag; returns (complete lines, non-blank lines)."""
    sp = "' ' || chr(9) || chr(11) || chr(12)"
    try:
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE raw_{name} AS
            SELECT row_number() OVER () AS rn, coalesce(length(l), 0) AS len,
                   coalesce((strlen(l) - strlen(replace(l, ': null', ''))) // 6, 0) AS nulls,
                   CASE WHEN l IS NULL THEN true WHEN starts_with(l, '{{') THEN false
                        ELSE trim(l, {sp}) = '' END AS blank
            FROM read_csv({_q(geo.path)}, columns = {{'l': 'VARCHAR'}}, delim = chr(1), quote = '', escape = '',
                          header = false, auto_detect = false, strict_mode = false, new_line = '\\n',
                          null_padding = false, encoding = 'latin-1')
        """)
    except Exception as exc:  # noqa: BLE001 - whatever the raw pass cannot split, the Python reader takes
        raise Fallback(f"{name}: {type(exc).__name__}: {str(exc)[:200]}") from exc
    rows, = con.execute(f"SELECT count(*) FROM raw_{name}").fetchone()
    complete = 0 if geo.end == 0 else rows - (1 if geo.partial else 0)
    if complete < 0:
        raise Fallback(f"{name}: line count")
    con.execute(f"DELETE FROM raw_{name} WHERE rn > {complete}")
    nonblank, sized = con.execute(
        f"SELECT count(*) FILTER (WHERE NOT blank), coalesce(sum(len), 0) + count(*) FROM raw_{name}").fetchone()
    if sized != geo.end:
        raise Fallback(f"{name}: raw lines do not add up to the file ({sized} != {geo.end})")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE map_{name} AS
        SELECT rn, len, nulls, row_number() OVER (ORDER BY rn) AS nb FROM raw_{name} WHERE NOT blank ORDER BY rn
    """)
    return complete, nonblank


def _json_source(geo: Geometry, keys: tuple[str, ...]) -> str:
    cols = ", ".join(f"{k}: 'JSON'" for k in keys)
    return (f"(SELECT row_number() OVER () AS jn, * FROM read_json({_q(geo.path)}, format = 'newline_delimited', "
            f"ignore_errors = true, columns = {{{cols}}}))")


def _certified(schema: dict[str, str]) -> str:
    keys = tuple(schema)
    return " AND ".join([f"m.len <= {MAX_CERTIFIED_LINE}", f"({_canonical(keys)}) = m.len",
                         f"({_nulls(keys)}) = m.nulls", *[_check("j." + k, v) for k, v in schema.items()]])


_FUTURE = ("(NOT contains(j.schema_version, '.') AND TRY_CAST(j.schema_version AS BIGINT) > 1)")


def _scan(con: Any, run_dir: Path, name: str, schema: dict[str, str], values: str, columns: str,
          decode: Any) -> Scan:
    geo = geometry(run_dir / f"{name}.jsonl")
    table = f"ev_{name}"
    scan = Scan(name, table, 0, geo)
    if geo is None:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} ({columns})")
        return scan
    _gate(geo)
    scan.issues.held_back = len(geo.partial)  # as the Python reader's tail holds it back
    complete, nonblank = _raw_pass(con, name, geo)
    scan.lines = complete
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {table} AS
        SELECT m.rn, j.jn, {values}, coalesce({_certified(schema)}, false) AS ok, {_FUTURE} AS future,
               m.nb IS NOT NULL AND m.nb <> j.jn AS misaligned
        FROM {_json_source(geo, tuple(schema))} j POSITIONAL JOIN map_{name} m
    """)
    n, future, mis = con.execute(f"""
        SELECT count(*) FILTER (WHERE jn IS NOT NULL), count(*) FILTER (WHERE ok AND future),
               count(*) FILTER (WHERE misaligned) FROM {table}""").fetchone()
    if mis:
        raise Fallback(f"{name}: engine rows and lines do not pair up")
    partial_row = 1 if geo.partial.strip(b" \t\x0b\x0c") else 0
    if n != nonblank + partial_row:
        raise Fallback(f"{name}: engine rows {n} != non-blank lines {nonblank} + {partial_row}")
    scan.issues.future_schema += future
    bad = [r for r, in con.execute(f"SELECT rn FROM {table} WHERE NOT ok AND rn IS NOT NULL ORDER BY rn").fetchall()]
    con.execute(f"DELETE FROM {table} WHERE NOT ok OR rn IS NULL")
    for col in ("ok", "future", "misaligned", "jn"):
        con.execute(f"ALTER TABLE {table} DROP COLUMN {col}")
    if bad:
        rows = decode(_read_lines(geo.path, con, name, bad), scan.issues)
        scan.python_lines = len(bad)
        if rows:
            cols = [list(c) for c in zip(*rows)]
            sel = ", ".join(f"unnest(${i + 1})" for i in range(len(cols)))
            con.execute(f"INSERT INTO {table} SELECT {sel}", cols)
    return scan


RESOURCE_COLUMNS = ("rn BIGINT, eid VARCHAR, cp VARCHAR, pv VARCHAR, cpus DOUBLE, cpus_int BOOLEAN, mem VARCHAR, "
                    "wall VARCHAR, wrk DOUBLE, wrk_int BOOLEAN")


def scan_resources(con: Any, run_dir: Path) -> Scan:
    """Fill ``ev_resources``: one row per valid resource record, certified or decoded by Python."""
    values = (f"{_str('j.entity_id')} AS eid, {_str('j.component')} AS cp, {_str('j.provider')} AS pv, "
              "TRY_CAST(j.requested_cpus AS DOUBLE) + 0.0 AS cpus, NOT contains(j.requested_cpus, '.') AS cpus_int, "
              f"{_str('j.requested_memory')} AS mem, {_str('j.requested_walltime')} AS wall, "
              "TRY_CAST(j.requested_workers AS DOUBLE) + 0.0 AS wrk, NOT contains(j.requested_workers, '.') AS wrk_int")
    return _scan(con, run_dir, "resources", RESOURCE_SCHEMA, values, RESOURCE_COLUMNS, _python_resource_lines)


def _read_lines(path: Path, con: Any, name: str, rns: list[int]) -> list[tuple[int, bytes]]:
    """The raw bytes of the given (non-blank) line numbers, located from the per-line lengths."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE off_{name} AS
        SELECT rn, len, sum(len + 1) OVER (ORDER BY rn ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS off
        FROM raw_{name}
    """)
    con.execute(f"CREATE OR REPLACE TEMP TABLE want_{name} (rn BIGINT)")
    con.execute(f"INSERT INTO want_{name} SELECT unnest(?)", [rns])
    spans = con.execute(f"""
        SELECT o.rn, coalesce(o.off, 0), o.len FROM off_{name} o JOIN want_{name} w USING (rn) ORDER BY o.rn
    """).fetchall()
    con.execute(f"DROP TABLE off_{name}")
    con.execute(f"DROP TABLE want_{name}")
    out = []
    fd = os.open(path, os.O_RDONLY)
    try:
        for rn, off, ln in spans:
            out.append((rn, os.pread(fd, ln, off)))
    finally:
        os.close(fd)
    return out


def _decode(line: bytes, line_no: int, issues: FileIssues) -> dict[str, Any] | None:
    from scalable_tui.sources.rundir.reader import RunDirReader

    return RunDirReader._decode(line, line_no, issues)


def _s(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def _python_task_lines(lines: list[tuple[int, bytes]], issues: FileIssues) -> list[tuple[Any, ...]]:
    """The general path of ``RunDirReader._task_lines``, one line at a time, as rows of ``ev_tasks``."""
    out = []
    for line_no, line in lines:
        obj = _decode(line, line_no, issues)
        if obj is None:
            continue
        tid = obj.get("task_id")
        state = obj.get("state")
        if type(tid) is not str or type(state) is not str or not tid:
            issues.invalid += 1
            issues.note(line_no, "task event without a string task_id/state")
            continue
        names = []
        for key in ("task_name", "component", "tag", "function_name"):
            v = obj.get(key)
            if v is not None and type(v) is not str:
                issues.fields_ignored += 1
                v = None
            names.append(v)
        ts_raw = obj.get("timestamp")
        d = obj.get("duration_s")
        dur = None
        if d is not None:
            if type(d) in (int, float) and d >= 0:
                dur = float(d)
            else:
                issues.fields_ignored += 1
        w = obj.get("worker")
        et, em = obj.get("error_type"), obj.get("error_message")
        err = et is not None or em is not None
        em_s = em if type(em) is str else (None if em is None else str(em))
        out.append((line_no, tid, state, *names, ts_raw if type(ts_raw) is str else None, dur,
                    w if type(w) is str else None, err, _s(et), em_s, em is not None and not isinstance(em, str)))
    return out


def _num(obj: dict[str, Any], k: str, issues: FileIssues) -> tuple[float | None, bool]:
    v = obj.get(k)
    if v is None:
        return None, False
    if type(v) in (int, float):
        if type(v) is int and abs(v) > 2**53:
            raise Fallback("resource number too large for an exact engine key")
        return float(v) + 0.0, type(v) is int
    issues.fields_ignored += 1
    return None, False


def _python_resource_lines(lines: list[tuple[int, bytes]], issues: FileIssues) -> list[tuple[Any, ...]]:
    """``RunDirReader._resource_lines`` + ``_profile`` for one line at a time, as rows of ``ev_resources``."""
    out = []
    for line_no, line in lines:
        obj = _decode(line, line_no, issues)
        if obj is None:
            continue
        eid = obj.get("entity_id")
        if not isinstance(eid, str):
            issues.invalid += 1
            issues.note(line_no, "resource record without entity_id")
            continue
        cpus, cpus_int = _num(obj, "requested_cpus", issues)
        mem = obj.get("requested_memory")
        wall = obj.get("requested_walltime")
        wrk, wrk_int = _num(obj, "requested_workers", issues)
        out.append((line_no, eid, _s(obj.get("component")), _s(obj.get("provider")), cpus, cpus_int,
                    mem if isinstance(mem, str) else (str(mem) if mem is not None else None),
                    wall if isinstance(wall, str) else (str(wall) if wall is not None else None), wrk, wrk_int))
    return out


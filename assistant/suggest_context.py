"""The values a suggestion quotes: doubled memory, longer walltime, missing module, paths, hosts.

Read from the group's failures and the run's resource profiles; every
regular expression here runs in linear time on hostile input (tests/hostile
checks them against frozen copies).
"""

from __future__ import annotations

import re
from collections import Counter

from assistant.grouping import MAX_MATCH_CHARS, MAX_NAME_CHARS, _Group
from assistant.textsafe import clip
from scalable_tui.model.run import ResourceProfile, RunState

# -- suggestion context ------------------------------------------------------
# Linear on any input: possessive spaces (``\s*…\s*$`` retried every split of
# a long run of spaces), host and path starts only where a word starts.
_MEM = re.compile(r"^\s*+(\d+(?:\.\d+)?)\s*+([KMGTP]?)i?B?\s*+$", re.I)
_WALL = re.compile(r"^(?:(\d+)-)?(\d+):(\d{2})(?::(\d{2}))?$")
_MODULE = re.compile(r"No module named '([^']+)'|cannot import name '([^']+)'")
_PATH = re.compile(r"'(/[^']+)'|\"(/[^\"]+)\"|(?<![\w/])(/(?:[\w.-]+/)+[\w.-]+)")
_HOST = re.compile(
    r"(?:https?://)?(?<![\w.-])((?:[a-z0-9-]++\.)+[a-z]{2,}+|\d{1,3}(?:\.\d{1,3}){3})(?![\w-])(?!\.[\w-])(?::\d+)?",
    re.I,
)
MAX_RESOURCE_CHARS = 64


def _double_memory(mem: str) -> str | None:
    m = _MEM.match(mem) if len(mem) <= MAX_RESOURCE_CHARS else None
    if not m:
        return None
    n = float(m.group(1)) * 2
    return f"{n:g}{m.group(2).upper()}"


def _longer_walltime(wall: str) -> str | None:
    m = _WALL.match(wall.strip()) if len(wall) <= MAX_RESOURCE_CHARS else None
    if not m:
        return None
    d, h, mi, s = (int(x) if x else 0 for x in m.groups())
    total = ((d * 24 + h) * 60 + mi) * 60 + s
    total = int(total * 1.5)
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def walltime_seconds(wall: str | None) -> float | None:
    if not wall or len(wall) > MAX_RESOURCE_CHARS:
        return None
    m = _WALL.match(wall.strip())
    if not m:
        return None
    d, h, mi, s = (int(x) if x else 0 for x in m.groups())
    return float(((d * 24 + h) * 60 + mi) * 60 + s)


class _Ctx(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def _context(state: RunState, g: _Group, profiles: list[ResourceProfile]) -> _Ctx:
    ctx = _Ctx()
    comps = Counter(f.component for f in g.records if f.component)
    # unknown (a live run: the scheduler knows no Scalable component or target): said by leaving it out,
    # never as "component ?"
    component = comps.most_common(1)[0][0] if comps else None
    ctx["component_ctx"] = f" of component {component}" if component else ""
    ctx["target_ctx"] = f" of target {state.meta.target_name}" if state.meta.target_name else ""
    mems = sorted({p.requested_memory for p in profiles if p.requested_memory})
    walls = sorted({p.requested_walltime for p in profiles if p.requested_walltime})
    cluster_wall = cluster_mem = None
    for ev in state.worker_events:
        kw = ev.details.get("cluster_kwargs") if isinstance(ev.details, dict) else None
        if isinstance(kw, dict):
            cluster_wall = cluster_wall or kw.get("walltime")
            cluster_mem = cluster_mem or kw.get("memory")
    if not mems and isinstance(cluster_mem, str):
        mems = [cluster_mem]
    if not walls and isinstance(cluster_wall, str):
        walls = [cluster_wall]
    ctx["mem_ctx"] = f" (requested memory: {', '.join(mems)})" if mems else ""
    nxt = [_double_memory(m) for m in mems]
    ctx["mem_next_ctx"] = f" (e.g. {', '.join(n for n in nxt if n)})" if any(nxt) else ""
    ctx["wall_ctx"] = f" (requested walltime: {', '.join(walls)})" if walls else ""
    wn = [_longer_walltime(w) for w in walls]
    ctx["wall_next_ctx"] = f" (e.g. {', '.join(w for w in wn if w)})" if any(wn) else ""
    modules = Counter()
    paths = Counter()
    hosts = Counter()
    for f in g.records[:200]:
        message = clip(f.message, MAX_MATCH_CHARS)
        text = f"{message}\n{clip(f.traceback, MAX_MATCH_CHARS) if f.traceback else ''}"
        for m in _MODULE.finditer(text):
            modules[clip(m.group(1) or m.group(2), MAX_NAME_CHARS)] += 1
        for m in _PATH.finditer(message):
            paths[clip(next(x for x in m.groups() if x), MAX_NAME_CHARS)] += 1
        for m in _HOST.finditer(message):
            hosts[clip(m.group(1), MAX_NAME_CHARS)] += 1
    ctx["module_ctx"] = f" ({', '.join(repr(m) for m, _ in modules.most_common(3))})" if modules else ""
    if paths:
        common = _common_dir([p for p, _ in paths.most_common(20)])
        ctx["path_ctx"] = f" (under {common})" if common and common != "/" else f" (e.g. {paths.most_common(1)[0][0]})"
    else:
        ctx["path_ctx"] = ""
    ctx["host_ctx"] = f" ({', '.join(h for h, _ in hosts.most_common(2))})" if hosts else ""
    ex = g.records[0]
    exc_name = clip(ex.failure_class, MAX_NAME_CHARS)
    ctx["example_ctx"] = f" ({exc_name}: {ex.message[:80]})" if ex.message else f" ({exc_name})"
    ctx["allowed_failures_ctx"] = "Dask gives up on a task after `distributed.scheduler.allowed-failures` (default 3) worker deaths"
    return ctx


def _common_dir(paths: list[str]) -> str:
    import os.path

    try:
        return os.path.dirname(os.path.commonpath(paths)) if len(paths) == 1 else os.path.commonpath(paths)
    except ValueError:
        return ""

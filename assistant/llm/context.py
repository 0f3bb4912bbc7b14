"""Run context for the prompt: provider/target, requested resources, package versions.

Duck-typed over whatever run snapshot the caller holds (or the findings'
resources), so the TUI and the CLI give the model the same context.
"""

from __future__ import annotations

from typing import Any, Iterable

from scalable_tui.model.diagnosis import Finding


def run_context(state: Any) -> dict[str, Any]:
    """Provider/target, requested resources and package versions from a ``RunState``.

    Duck-typed so the TUI can pass whatever snapshot it holds; missing parts
    are simply left out.
    """
    ctx: dict[str, Any] = {}
    meta = getattr(state, "meta", None)
    if meta is not None:
        if getattr(meta, "provider_name", None):
            ctx["provider"] = meta.provider_name
        if getattr(meta, "target_name", None):
            ctx["target"] = meta.target_name
        extra = getattr(meta, "extra", None) or {}
        for key in ("versions", "package_versions", "packages", "environment"):
            v = extra.get(key) if isinstance(extra, dict) else None
            if isinstance(v, dict):
                vers = {str(k): str(x) for k, x in v.items() if isinstance(x, (str, int, float)) and len(str(x)) <= 40}
                if vers:
                    ctx["versions"] = dict(list(sorted(vers.items()))[:30])
                    break
    requested: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()
    for p in getattr(state, "profiles", None) or []:
        row = {
            "component": getattr(p, "component", None),
            "memory": getattr(p, "requested_memory", None),
            "walltime": getattr(p, "requested_walltime", None),
            "cpus": getattr(p, "requested_cpus", None),
        }
        key = tuple(row.values())
        if key in seen or not any(v is not None for k, v in row.items() if k != "component"):
            continue
        seen.add(key)
        requested.append({k: v for k, v in row.items() if v is not None})
    if requested:
        ctx["requested"] = requested[:20]
    return ctx


def _context_from_findings(findings: Iterable[Finding]) -> dict[str, Any]:
    ctx: dict[str, Any] = {}
    requested = []
    for f in findings:
        r = f.resources or {}
        if r.get("provider") and "provider" not in ctx:
            ctx["provider"] = r["provider"]
        row = {k.removeprefix("requested_"): v for k, v in r.items() if k.startswith("requested_") and v is not None}
        if row and row not in requested:
            requested.append(row)
    if requested:
        ctx["requested"] = requested[:20]
    return ctx

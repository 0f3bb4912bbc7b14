"""How the monitor plugin travels to the scheduler (pickled by value, or as source text).

Kept apart from the plugin itself (``plugin.py`` must stay one self-contained
module: it is what travels) and from the connection code.
"""

from __future__ import annotations

import pickle
import platform
from pathlib import Path
from typing import Any

import dask
import distributed

from scalable_tui.sources.live import plugin as plugin_module

__all__ = ["plugin_payload", "client_versions"]


# -- plugin payloads ----------------------------------------------------------
class _EvalPayload:
    """Pickles to ``eval(expr)``: the plugin travels as *source text* (any Python version)."""

    def __init__(self, expr: str) -> None:
        self.expr = expr

    def __reduce__(self):
        return (eval, (self.expr,))


def plugin_payload(kind: str = "cloudpickle", **opts: Any) -> bytes:
    """The pickled ``MonitorPlugin`` for ``register_scheduler_plugin``.

    ``cloudpickle``: the class is pickled by value (``register_pickle_by_value``),
    so the scheduler needs no ``scalable_tui`` — but the same Python minor version.
    ``source``: the module's source text, executed on the scheduler; works across
    Python versions (used when the first one is refused).
    """
    if kind == "cloudpickle":
        import cloudpickle

        cloudpickle.register_pickle_by_value(plugin_module)
        try:
            return cloudpickle.dumps(plugin_module.MonitorPlugin(**opts), protocol=pickle.DEFAULT_PROTOCOL)
        finally:
            cloudpickle.unregister_pickle_by_value(plugin_module)
    src = Path(plugin_module.__file__).read_text()
    expr = (
        "(lambda g: (exec(compile(g['__src__'], '<scalable-tui-monitor>', 'exec'), g), "
        f"g['MonitorPlugin'](**{opts!r}))[1])({{'__name__': 'scalable_tui_monitor', '__src__': {src!r}}})"
    )
    return pickle.dumps(_EvalPayload(expr), protocol=4)


def client_versions() -> dict[str, str]:
    return {"python": platform.python_version(), "distributed": distributed.__version__, "dask": dask.__version__}

"""The decoded frame chain: a frame's row, a failure/event row, and the state a keyframe plus deltas give.

``_State.apply`` is the inverse of the writer's ``diff_records``/``diff_workers``
(``format.py``); the reader (``reader.py``) keeps one and walks it forward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scalable_tui.sources.recording.format import _num


@dataclass(slots=True)
class _Frame:
    seq: int
    t: float
    session: int
    keyframe: bool
    base: int


@dataclass(slots=True)
class _Row:
    id: int
    frame: int
    t: float | None
    fk: tuple[str, str]
    kind: str
    worker: str | None
    #: True for a failure row that replaces an earlier row of the same task.
    update: bool = False
    unexpected: bool = False


class _State:
    """Decoded (still encoded-dict) state at one frame."""

    __slots__ = ("seq", "scalars", "workers", "prefixes", "order")

    def __init__(self, seq: int, scalars: dict[str, Any], workers: dict[str, dict[str, Any]],
                 prefixes: dict[str, dict[str, Any]], order: list[str]) -> None:
        self.seq = seq
        self.scalars = scalars
        self.workers = workers
        self.prefixes = prefixes
        #: The keyframe's worker order (what ``h`` columns refer to when they list no keys).
        self.order = order

    @classmethod
    def from_keyframe(cls, seq: int, kf: dict[str, Any]) -> _State:
        w = {k: dict(v) for k, v in (kf.get("w") or {}).items()}
        return cls(seq, dict(kf.get("s") or {}), w, {k: dict(v) for k, v in (kf.get("p") or {}).items()}, list(w))

    def copy(self) -> _State:
        return _State(self.seq, dict(self.scalars), {k: dict(v) for k, v in self.workers.items()},
                      {k: dict(v) for k, v in self.prefixes.items()}, self.order)

    def apply(self, seq: int, doc: dict[str, Any]) -> None:
        self.seq = seq
        self.scalars.update(doc.get("s") or {})
        h = doc.get("h")
        if h:
            keys = h.get("k") or self.order
            for f, col in zip(h.get("f") or (), h.get("d") or ()):
                for k, d in zip(keys, col):
                    if d is None:
                        continue
                    rec = self.workers.get(k)
                    if rec is None or not _num(rec.get(f)):
                        continue
                    rec[f] = round(rec[f] + d / 10, 1) if f == "last_seen" else rec[f] + d
        for k, ch in (doc.get("w") or {}).items():
            cur = self.workers.get(k)
            if cur is None:
                self.workers[k] = dict(ch)
            else:
                cur.update(ch)
        for k in doc.get("wx") or ():
            self.workers.pop(k, None)
        for k, ch in (doc.get("p") or {}).items():
            cur = self.prefixes.get(k)
            if cur is None:
                self.prefixes[k] = dict(ch)
            else:
                cur.update(ch)
        for k in doc.get("px") or ():
            self.prefixes.pop(k, None)

"""What deserves an alert while watching a live scheduler, and how often one may go out.

Headless and clock-free: every method takes ``now`` so the policy is tested
with a fake clock, and the same policy serves ``attach --notify`` and
``record --notify`` / ``--on-finding`` (delivery is ``session.notify``).

Three things raise an alert, because each one means somebody should look now:

* a *new* error/critical finding group (by finding id, the grouping
  signature).  A group that grows is the same problem, so it is not new; a
  group that disappears and comes back within ``quiet_s`` is a flap, not news;
  after a longer absence it is new again.
* a worker-death *wave*: ``wave_deaths`` unexpected deaths within
  ``wave_window_s``.  One death is already a finding; a wave (preemption, a
  node going down, a memory leak across the cluster) is a different alarm.  A
  wave that goes on is one wave until no death arrives for a whole window.
* the scheduler lost: the monitor reached it and now gets no answer (the link
  is disconnected, not merely ``slow``).  Said once per loss.

``Batcher`` is the rate limit: the first alert goes out at once, the ones that
follow within ``min_interval_s`` wait and go out together ("3 new problems: …").
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Iterable

__all__ = ["Alert", "AlertPolicy", "Batcher", "SEVERE", "summary"]

#: Finding severities that alert.
SEVERE = ("error", "critical")


@dataclass(frozen=True, slots=True)
class Alert:
    """One thing worth telling.  ``title`` may come from task output: untrusted, cleaned at delivery."""

    #: ``finding``, ``worker_deaths`` or ``scheduler_lost``.
    kind: str
    #: The finding id (grouping signature); ``worker_deaths`` / ``scheduler`` for the others.
    key: str
    severity: str
    title: str
    time: float
    category: str = ""
    count: int = 0

    def line(self) -> str:
        """One human line (not yet made printable)."""
        if self.kind == "finding":
            n = f" ({self.count} failure{'s' if self.count != 1 else ''})" if self.count else ""
            return f"{self.severity}: {self.title}{n}"
        return self.title

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.key, "severity": self.severity, "category": self.category,
                "title": self.title, "count": self.count, "time": self.time}


class AlertPolicy:
    """Decides which observations are news.  Not thread-safe: the caller holds a lock."""

    def __init__(self, *, quiet_s: float = 600.0, wave_deaths: int = 3, wave_window_s: float = 300.0) -> None:
        self.quiet_s = float(quiet_s)
        self.wave_deaths = max(1, int(wave_deaths))
        self.wave_window_s = float(wave_window_s)
        #: Finding ids present (as error/critical) at the last diagnosis.
        self._present: set[str] = set()
        #: Finding ids ever alerted -> when they were last seen absent (None while present).
        self._known: dict[str, float | None] = {}
        #: Deaths already counted, by (time, worker), and the candidate wave's death times.
        self._deaths_seen: set[tuple[float, str]] = set()
        self._recent: deque[float] = deque()
        #: Time of the last death of the wave already alerted (it goes on while deaths keep coming).
        self._wave_last: float | None = None
        self._reached = False
        self._lost = False

    # -- finding groups --------------------------------------------------------
    def findings(self, findings: Iterable[Any], now: float) -> list[Alert]:
        """The new error/critical groups among ``findings`` (a whole diagnosis, not a delta)."""
        current = {f.id: f for f in findings if f.severity in SEVERE}
        for fid in self._present - current.keys():
            self._known[fid] = now  # gone (for now)
        out: list[Alert] = []
        for fid, f in current.items():
            if fid in self._present:
                continue  # still there, maybe grown: not news
            gone_at = self._known.get(fid, -1.0)
            if fid in self._known and gone_at is not None and now - gone_at < self.quiet_s:
                self._known[fid] = None  # back after a short absence: a flap, not news
                continue
            self._known[fid] = None
            out.append(Alert("finding", fid, f.severity, f.title, now, category=f.category, count=int(f.count or 0)))
        self._present = set(current)
        return out

    # -- worker deaths -----------------------------------------------------------
    def deaths(self, deaths: Iterable[tuple[float, str]], now: float) -> list[Alert]:
        """``deaths``: (time, worker) of unexpected worker deaths seen so far (repeats are ignored)."""
        fresh = sorted((t, w) for t, w in deaths if (t, w) not in self._deaths_seen)
        out: list[Alert] = []
        for t, w in fresh:
            self._deaths_seen.add((t, w))
            if self._wave_last is not None and t - self._wave_last <= self.wave_window_s:
                self._wave_last = max(self._wave_last, t)  # the alerted wave goes on
                continue
            self._recent.append(t)
            while self._recent and t - self._recent[0] > self.wave_window_s:
                self._recent.popleft()
            if len(self._recent) >= self.wave_deaths:
                n = len(self._recent)
                out.append(Alert("worker_deaths", "worker_deaths", "critical",
                                 f"{n} workers died within {_span(self.wave_window_s)}", now, count=n))
                self._wave_last = t
                self._recent.clear()
        return out

    # -- the scheduler link --------------------------------------------------------
    def link(self, *, connected: bool, closed: bool, address: str, reason: str | None, now: float) -> list[Alert]:
        """Once per loss of a scheduler that was reached (never for "not reached yet" or a closed monitor)."""
        if closed:
            return []
        if connected:
            self._reached = True
            self._lost = False
            return []
        if not self._reached or self._lost:
            return []
        self._lost = True
        why = f" ({reason})" if reason else ""
        return [Alert("scheduler_lost", "scheduler", "critical", f"scheduler lost: {address}{why}", now)]


def _span(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


class Batcher:
    """At most one delivery per ``min_interval_s``; what arrives meanwhile goes out together, in order."""

    def __init__(self, min_interval_s: float = 60.0) -> None:
        self.min_interval_s = float(min_interval_s)
        self._pending: list[Alert] = []
        self._last: float | None = None

    def add(self, alerts: Iterable[Alert]) -> None:
        for a in alerts:
            # the same thing twice while waiting (lost, back, lost): keep the latest, once
            self._pending = [p for p in self._pending if (p.kind, p.key) != (a.kind, a.key)]
            self._pending.append(a)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def due(self, now: float) -> list[Alert]:
        """The batch to deliver now ([] when nothing waits or the last delivery is too recent)."""
        if not self._pending or (self._last is not None and now - self._last < self.min_interval_s):
            return []
        batch, self._pending = self._pending, []
        self._last = now
        return batch

    def drain(self) -> list[Alert]:
        """Everything still waiting (at the end of a session: told late rather than never)."""
        batch, self._pending = self._pending, []
        return batch


def summary(batch: list[Alert]) -> tuple[str, str]:
    """(title, body) of one delivery: the alert itself, or "3 new problems: a; b; c"."""
    if len(batch) == 1:
        return "scalable-tui", batch[0].line()
    return "scalable-tui", f"{len(batch)} new problems: " + "; ".join(a.line() for a in batch)

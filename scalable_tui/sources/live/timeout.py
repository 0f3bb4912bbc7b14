"""How long to wait for a scheduler reply, and when silence means "disconnected".

A fixed 3 s call timeout raised false "disconnected" alarms on a busy
scheduler (100 workers, waves of 50k tasks: its event loop answers in
seconds, not milliseconds).  The policy here learns the scheduler's normal
latency from recent round trips and waits a generous multiple of it, and a
single late reply only marks the link "slow": the alarm needs consecutive
misses (or a real connection error, which the caller handles).

Pure bookkeeping, no I/O and no clock: testable without a socket.
"""

from __future__ import annotations

from collections import deque

__all__ = ["CallTimeout", "parse_call_timeout"]


def parse_call_timeout(text: str) -> float | None:
    """``auto`` -> None (adaptive); ``5``/``5s``/``2.5`` -> seconds.  ValueError with a one-line reason."""
    t = text.strip().lower()
    if t == "auto":
        return None
    if t.endswith("s"):
        t = t[:-1]
    try:
        v = float(t)
    except ValueError:
        raise ValueError(f"not a call timeout: {text!r} (use auto or seconds, e.g. 10)") from None
    if not v > 0 or v != v or v == float("inf"):
        raise ValueError(f"the call timeout must be a positive number of seconds, not {text!r}")
    return v


class CallTimeout:
    """The timeout of the next scheduler call, and the miss count that turns into an alarm.

    ``fixed``: always that many seconds (``--call-timeout 10``).  Otherwise
    adaptive: ``max(floor, k * p95(recent round trips))``, capped at ``cap``;
    after a miss the next call waits twice as long (up to ``cap``), because a
    missed call leaves no sample and a busy scheduler is usually still busy.
    """

    def __init__(self, fixed: float | None = None, *, floor: float = 3.0, k: float = 4.0, cap: float = 60.0,
                 window: int = 50, misses_to_disconnect: int = 2) -> None:
        self.fixed = fixed
        self.floor = float(floor)
        self.k = float(k)
        self.cap = max(float(cap), self.floor)
        self.misses_to_disconnect = max(1, int(misses_to_disconnect))
        self._rtts: deque[float] = deque(maxlen=max(1, int(window)))
        self._boost = 1.0
        #: Consecutive calls without a reply in time.
        self.misses = 0

    @property
    def adaptive(self) -> bool:
        return self.fixed is None

    def p95(self) -> float | None:
        """The 95th percentile of the recent round trips (None before the first)."""
        if not self._rtts:
            return None
        xs = sorted(self._rtts)
        return xs[min(len(xs) - 1, int(0.95 * len(xs)))]

    @property
    def current(self) -> float:
        """Seconds to wait for the next reply."""
        if self.fixed is not None:
            return self.fixed
        p = self.p95()
        base = self.floor if p is None else max(self.floor, self.k * p)
        return min(self.cap, base * self._boost)

    def observe(self, seconds: float) -> None:
        """A reply arrived after ``seconds``: learn from it; the link is fine again."""
        if seconds >= 0:
            self._rtts.append(float(seconds))
        self._boost = 1.0
        self.misses = 0

    def miss(self) -> bool:
        """A call got no reply in time; True when that makes the link count as disconnected."""
        self.misses += 1
        if self.fixed is None:
            self._boost = min(self._boost * 2.0, self.cap / max(self.floor, 1e-9))
        return self.misses >= self.misses_to_disconnect

    def reset(self) -> None:
        """A connection error (not a timeout): misses start over; learned latency is kept."""
        self.misses = 0
        self._boost = 1.0

    def describe(self) -> str:
        if self.fixed is not None:
            return f"{self.fixed:g} s (fixed)"
        p = self.p95()
        return f"{self.current:.1f} s (auto: p95 {p * 1000:.0f} ms)" if p is not None else f"{self.current:.1f} s (auto)"

"""The alert policy and rate limit, on a fake clock (no terminal, no scheduler)."""

from __future__ import annotations

from dataclasses import dataclass, field

from scalable_tui.session.alerts import AlertPolicy, Batcher, summary
from scalable_tui.session.live_alerts import LiveAlerts
from scalable_tui.session.notify import Delivery


@dataclass
class F:
    id: str
    severity: str = "error"
    title: str = "ValueError in bad"
    category: str = "user_code"
    count: int = 1


def test_new_group_once_growing_group_is_not_new() -> None:
    p = AlertPolicy()
    first = p.findings([F("a", count=1)], now=0)
    assert [(a.key, a.count) for a in first] == [("a", 1)]
    assert p.findings([F("a", count=5)], now=10) == []  # grew: same problem
    assert [a.key for a in p.findings([F("a", count=6), F("b", severity="critical")], now=20)] == ["b"]


def test_only_error_and_critical_alert_and_a_warning_that_becomes_error_is_new() -> None:
    p = AlertPolicy()
    assert p.findings([F("w", severity="warning"), F("i", severity="info")], now=0) == []
    assert [a.key for a in p.findings([F("w", severity="error")], now=1)] == ["w"]


def test_group_back_after_quiet_period_is_new_a_flap_is_not() -> None:
    p = AlertPolicy(quiet_s=300)
    assert len(p.findings([F("a")], now=0)) == 1
    assert p.findings([], now=100) == []          # gone at 100
    assert p.findings([F("a")], now=150) == []    # back after 50 s: a flap
    assert p.findings([], now=200) == []          # gone again at 200
    assert p.findings([], now=400) == []
    back = p.findings([F("a", count=2)], now=500)  # back after 300 s of quiet: new again
    assert [(a.key, a.count) for a in back] == [("a", 2)]


def test_death_wave_needs_n_deaths_within_the_window_and_a_long_wave_is_one_alert() -> None:
    p = AlertPolicy(wave_deaths=3, wave_window_s=60)
    assert p.deaths([(0.0, "w1"), (100.0, "w2")], now=100) == []   # 2 deaths 100 s apart: no wave
    deaths = [(0.0, "w1"), (100.0, "w2"), (110.0, "w3")]
    assert p.deaths(deaths, now=110) == []                      # w2, w3 within 60 s: only 2
    deaths.append((120.0, "w4"))
    wave = p.deaths(deaths, now=120)
    assert [(a.kind, a.count) for a in wave] == [("worker_deaths", 3)]
    assert "3 workers died within 1 min" == wave[0].title
    # the same deaths again (every snapshot lists them) and more deaths that continue the wave: no alert
    deaths += [(150.0, "w5"), (200.0, "w6"), (250.0, "w7")]
    assert p.deaths(deaths, now=250) == []
    # a quiet window, then a new wave
    deaths += [(400.0, "x1"), (401.0, "x2"), (402.0, "x3")]
    assert [a.count for a in p.deaths(deaths, now=402)] == [3]


def test_scheduler_lost_once_per_loss_never_before_reached_never_when_closed() -> None:
    p = AlertPolicy()
    kw = dict(address="tcp://127.0.0.1:1", reason="connection refused")
    assert p.link(connected=False, closed=False, now=0, **kw) == []   # never reached: not "lost"
    assert p.link(connected=True, closed=False, now=1, **kw) == []
    lost = p.link(connected=False, closed=False, now=2, **kw)
    assert [a.kind for a in lost] == ["scheduler_lost"] and "connection refused" in lost[0].title
    assert p.link(connected=False, closed=False, now=3, **kw) == []   # still lost: said once
    assert p.link(connected=True, closed=False, now=4, **kw) == []
    assert len(p.link(connected=False, closed=False, now=5, **kw)) == 1  # lost again
    assert p.link(connected=False, closed=True, now=6, **kw) == []


def test_batcher_first_at_once_rest_grouped_after_the_interval() -> None:
    p = AlertPolicy()
    b = Batcher(60)
    b.add(p.findings([F("a", title="A")], now=0))
    first = b.due(0)
    assert [a.key for a in first] == ["a"]
    b.add(p.findings([F("a"), F("b", title="B")], now=5))
    b.add(p.findings([F("a"), F("b"), F("c", title="C", count=3)], now=10))
    b.add(p.link(connected=True, closed=False, address="x", reason=None, now=11))
    b.add(p.link(connected=False, closed=False, address="tcp://s:8786", reason="refused", now=12))
    assert b.due(30) == [] and b.pending == 3
    batch = b.due(60)
    assert [a.key for a in batch] == ["b", "c", "scheduler"]
    title, body = summary(batch)
    assert title == "scalable-tui"
    assert body == "3 new problems: error: B (1 failure); error: C (3 failures); scheduler lost: tcp://s:8786 (refused)"
    assert b.due(200) == []  # nothing waits


@dataclass
class Ev:
    ts: float
    kind: str
    worker: str | None
    text: str = ""
    address: str | None = None
    details: dict = field(default_factory=dict)


@dataclass
class Snap:
    connected: bool = True
    closed: bool = False
    address: str = "tcp://127.0.0.1:8786"
    scheduler_address: str | None = "tcp://127.0.0.1:8786"
    scheduler_id: str | None = "Scheduler-1"
    disconnect_reason: str | None = None
    events: list = field(default_factory=list)
    failures: list = field(default_factory=list)
    failures_total: int = 0
    events_total: int = 0


@dataclass
class Diag:
    findings: list


def test_live_alerts_delivers_grouped_batches_on_the_poll_after_the_limit() -> None:
    clock = [1000.0]
    got: list[Delivery] = []
    la = LiveAlerts([got.append], batcher=Batcher(60), clock=lambda: clock[0])
    la.frame(Snap())
    la.diagnosis(Diag([F("a", title="A")]))
    assert got == []          # findings wait for the next poll
    la.frame(Snap())
    assert [d.body for d in got] == ["error: A (1 failure)"]
    clock[0] += 10
    la.diagnosis(Diag([F("a", count=9), F("b", title="B")]))
    deaths = [Ev(1005.0 + i, "worker-removed", f"w{i}", address=f"tcp://h:{i}", details={"unexpected": True})
              for i in range(3)]
    la.frame(Snap(events=deaths))
    assert len(got) == 1      # held: the last delivery was 10 s ago
    clock[0] += 60
    la.frame(Snap(events=deaths))
    assert len(got) == 2
    assert got[1].body.startswith("2 new problems: error: B (1 failure); 3 workers died within 5 min")
    assert got[1].address == "tcp://127.0.0.1:8786"
    # a held alert is delivered at close rather than lost
    la.frame(Snap(connected=False, disconnect_reason="connection refused"))
    assert len(got) == 2
    la.close()
    assert len(got) == 3 and got[2].alerts[0].kind == "scheduler_lost"

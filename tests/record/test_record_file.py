"""The recording file: round trip, compactness, damage, crash recovery, and the CLI on recordings (no cluster)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest

from assistant.diagnose import diagnose_state
from scalable_tui.sources.recording.writer import RecordingWriter
from scalable_tui.sources.recording.format import (
    NotARecording,
    RecordingError,
    encode_prefix,
    encode_worker,
    is_recording,
)
from scalable_tui.sources.recording.reader import Recording
from tests.conftest import run_cli
from tests.record.conftest import PY, ROOT, bench_sim


def _record_sim(path: Path, frames: int = 200, workers: int = 20, keyframe_every: int = 30, close: bool = True):
    sim = bench_sim()(workers, 5.0, seed=7)
    w = RecordingWriter.create(path, address=sim.snap.address, interval=5.0, keyframe_every=keyframe_every)
    truth = []
    for _ in range(frames):
        snap = sim.step()
        w.write(snap, t=sim.t)
        truth.append((sim.t, snap))
    if close:
        w.close("stopped by SIGTERM")
    else:
        w.abandon()
    return truth


def test_round_trip_every_frame(tmp_path: Path) -> None:
    path = tmp_path / "night.rec"
    truth = _record_sim(path)
    assert is_recording(path)
    with Recording(path) as rec:
        assert rec.meta["format"] == "scalable-tui-recording" and rec.meta["format_version"] == 1
        assert rec.meta["client_versions"]["distributed"] and rec.meta["scheduler_ids"] == [truth[0][1].scheduler_id]
        assert rec.times() == [t for t, _ in truth] and rec.time_range == (truth[0][0], truth[-1][0])
        assert rec.status == "stopped" and rec.ended
        order = list(range(len(truth))) + [150, 3, 199, 0, 61, 60, 59, 120]  # stepping, then seeking
        for i in order:
            t, snap = truth[i]
            got = rec.state_at(t)
            assert {k: encode_worker(w) for k, w in got.workers.items()} == \
                   {k: encode_worker(w) for k, w in snap.workers.items()}, i
            assert {k: encode_prefix(p) for k, p in got.prefixes.items()} == \
                   {k: encode_prefix(p) for k, p in snap.prefixes.items()}, i
            assert got.polls == snap.polls and got.failures_total == snap.failures_total
            assert [f.key for f in got.failures] == [f.key for f in snap.failures][-len(got.failures):] or \
                len(got.failures) == snap.failures_total
            assert len(got.events) == snap.events_total and got.event_counts == snap.event_counts
            assert got.failure_counts == snap.failure_counts
        # between frames: the earlier one; before the start: the first
        assert rec.state_at(truth[10][0] + 2.5).polls == truth[10][1].polls
        assert rec.state_at(0).polls == truth[0][1].polls
        # jumps
        first = rec.next_failure_after(0)
        assert first is not None and first.item.key == truth[-1][1].failures[0].key
        assert rec.state_at(first.t).failures[0].key == first.item.key
        i = rec.times().index(first.t)
        assert not rec.state_at(rec.times()[i - 1]).failures
        nxt = rec.next_failure_after(first.t)
        assert nxt is None or nxt.t > first.t
        death = rec.next_worker_death_after(0)
        assert death is not None and death.item.kind == "worker-removed" and death.item.details["unexpected"]
        before = rec.state_at(death.t - 1)
        w = before.workers[death.item.worker]
        assert w.address == death.item.address
        assert death.item.address in rec.state_at(death.t).workers[death.item.worker].previous_addresses
        assert rec.events_between(death.item.ts, death.item.ts)[0].kind == "worker-removed"
        # the whole night for the assistant
        state = rec.whole_run_state()
        assert state.meta.status == "stopped" and state.meta.extra["source"] == "recording"
        n_deaths = len(rec.worker_deaths())
        assert len(state.failures) == truth[-1][1].failures_total + n_deaths
        diag = diagnose_state(state)
        assert diag.failures_total == len(state.failures) and not diag.abandoned


def test_compact_and_keyframes(tmp_path: Path) -> None:
    path = tmp_path / "night.rec"
    _record_sim(path, frames=120, workers=200, keyframe_every=60)
    con = sqlite3.connect(path)
    kinds = [k for (k,) in con.execute("SELECT keyframe FROM frames ORDER BY seq")]
    assert kinds[0] == 1 and kinds[60] == 1 and sum(kinds) == 2
    key_size = con.execute("SELECT length(data) FROM frames WHERE seq = 0").fetchone()[0]
    delta = con.execute("SELECT avg(length(data)) FROM frames WHERE keyframe = 0").fetchone()[0]
    assert delta < key_size / 3, (delta, key_size)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    con.close()
    # 200 workers at 5 s: well under 100 MB for 10 hours
    assert os.path.getsize(path) / 120 * 720 * 10 < 60 * 2**20


def test_killed_writer_and_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "night.rec"
    _record_sim(path, frames=300, workers=50, close=False)
    with Recording(path) as rec:
        assert rec.status == "incomplete" and len(rec) == 300
        assert rec.whole_run_state().meta.status == "incomplete"
    # a copy cut short (a transfer that stopped half-way) still opens with what is there
    cut = tmp_path / "cut.rec"
    data = path.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with Recording(cut) as rec:
        assert 0 < len(rec) <= 300
        snap = rec.state_at(rec.end)
        assert len(snap.workers) == 50
        assert rec.notices and "truncated" in rec.notices[0]


CHILD = r"""
import sys, time, os
sys.path.insert(0, {root!r})
from scalable_tui.model.live import LiveSnapshot
from scalable_tui.sources.recording.writer import RecordingWriter
w = RecordingWriter.create({path!r}, address="tcp://127.0.0.1:1")
for i in range(3):
    s = LiveSnapshot(address="tcp://127.0.0.1:1", polls=i)
    w.write(s, t=1000.0 + i)
w.con.execute("PRAGMA cache_size=2")
w.con.execute("BEGIN IMMEDIATE")
for i in range(3000):
    w.con.execute("INSERT INTO events(frame, t, kind, worker, data) VALUES(3, 0, 'x', NULL, ?)", (os.urandom(1000),))
print("MID", flush=True)
time.sleep(60)
"""


def test_sigkill_in_the_middle_of_a_commit(tmp_path: Path) -> None:
    """A hot journal is left behind: the file opens (even read-only) at the last complete frame."""
    path = tmp_path / "hot.rec"
    p = subprocess.Popen([PY, "-c", CHILD.format(root=str(ROOT), path=str(path))], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "MID"
        assert Path(f"{path}-journal").stat().st_size > 0
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait(10)
        p.stdout.close()
    os.chmod(tmp_path, 0o555)  # the morning reader may not own the file: it must not need to write
    try:
        with Recording(path) as rec:
            assert len(rec) == 3 and rec.n_events == 0 and rec.state_at(2000).polls == 2
            assert "rolled back" in " ".join(rec.notices)
    finally:
        os.chmod(tmp_path, 0o755)
    with Recording(path) as rec:  # writable: rolled back in place by SQLite
        assert len(rec) == 3


def test_not_a_recording(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    empty = tmp_path / "empty.rec"
    empty.write_bytes(b"")
    other = tmp_path / "other.sqlite"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t(x)")
    con.commit()
    con.close()
    for p in (text, empty, other, tmp_path):
        with pytest.raises(NotARecording):
            Recording(p)
        assert not is_recording(p)
    with pytest.raises(RecordingError, match="does not exist"):
        Recording(tmp_path / "missing.rec")
    newer = tmp_path / "newer.rec"
    _record_sim(newer, frames=2, workers=2)
    con = sqlite3.connect(newer)
    con.execute("UPDATE meta SET value = '99' WHERE key = 'format_version'")
    con.commit()
    con.close()
    with pytest.raises(RecordingError, match="newer"):
        Recording(newer)


def test_writer_refuses_to_overwrite_and_appends(tmp_path: Path) -> None:
    path = tmp_path / "night.rec"
    truth = _record_sim(path, frames=10, workers=5)
    with pytest.raises(RecordingError, match="--append"):
        RecordingWriter.create(path)
    text = tmp_path / "notes.txt"
    text.write_text("keep me")
    with pytest.raises(RecordingError, match="not a scalable-tui recording"):
        RecordingWriter.create(text, mode="append")
    assert text.read_text() == "keep me"
    # append: a second session starting with a keyframe; failures and events already in the file are not repeated
    w = RecordingWriter.create(path, mode="append")
    last = truth[-1][1]
    w.write(last, t=truth[-1][0] + 100)
    w.close("scheduler gone: test")
    with Recording(path) as rec:
        assert len(rec) == 11 and len(rec.meta["sessions"]) == 2 and rec.status == "finished"
        assert rec.n_failures == last.failures_total and rec.n_events == last.events_total
        assert rec.state_at(rec.end).polls == last.polls
    RecordingWriter.create(path, mode="force").close("x")
    with Recording(path) as rec:
        assert len(rec) == 0


def test_diagnose_cli_on_a_recording(tmp_path: Path) -> None:
    path = tmp_path / "night.rec"
    _record_sim(path, frames=300, workers=20)
    with Recording(path) as rec:
        expected = diagnose_state(rec.whole_run_state())
    js = run_cli("diagnose", str(path), "--format", "json", "--no-ai")
    assert js.returncode == 0, js.stderr
    doc = json.loads(js.stdout)
    assert doc["failures_total"] == expected.failures_total > 0 and doc["status"] == "stopped"
    assert [f["category"] for f in doc["findings"]] == [f.category for f in expected.findings]
    assert doc["run_dir"] == str(path)
    md = run_cli("diagnose", str(path), "--format", "markdown", "--no-ai")
    assert md.returncode == 0 and md.stdout.startswith("#") and "ValueError" in md.stdout
    txt = run_cli("diagnose", str(path), "--no-ai", "--fail-on", "error")
    assert txt.returncode == 1 and "ValueError" in txt.stdout  # the findings are errors
    bad = tmp_path / "notes.rec"
    bad.write_text("not a recording\n")
    r = run_cli("diagnose", str(bad), "--no-ai")
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and "not a scalable-tui recording" in r.stderr


@pytest.mark.parametrize("squeue", ["absent", "present"])
def test_record_cli_refusals(tmp_path: Path, squeue: str) -> None:
    """The refusal is the only line, whether or not Slurm's commands are here (with squeue missing, a
    note about Slurm came first: the test passed or failed by what the machine had installed)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if squeue == "present":
        (bin_dir / "squeue").write_text("#!/bin/sh\nexit 1\n")
        (bin_dir / "squeue").chmod(0o755)
    path = tmp_path / "night.rec"
    path.write_text("precious")
    r = run_cli("record", "tcp://127.0.0.1:9", "--out", str(path), env={"PATH": str(bin_dir)})
    assert r.returncode == 2 and "exists" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert path.read_text() == "precious"
    r = run_cli("record", "tcp://127.0.0.1:9", "--out", str(tmp_path), env={"PATH": str(bin_dir)})
    assert r.returncode == 2 and r.stderr.strip() == f"scalable-tui: {tmp_path} is a directory"
    r = run_cli("record", "--out", str(tmp_path / "x.rec"), "--scheduler-file", str(tmp_path / "none.json"))
    assert r.returncode == 2 and "does not exist" in r.stderr


def test_record_gives_up_on_a_scheduler_never_reached(tmp_path: Path) -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens: refused
    out = tmp_path / "x.rec"
    r = run_cli("record", f"tcp://127.0.0.1:{port}", "--out", str(out), "--interval", "0.2", "--give-up-after", "0")
    assert r.returncode == 2, r.stderr
    assert "scheduler never reached" in r.stderr.strip().splitlines()[-1]
    with Recording(out) as rec:
        assert len(rec) >= 1 and not rec.state_at(rec.end).connected

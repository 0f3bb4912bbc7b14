"""The byte-offset tail: partial lines wait, growth costs only appended bytes."""

from __future__ import annotations

from pathlib import Path

from scalable_tui.sources.rundir.jsonl import JsonlTail


def _all(tail: JsonlTail, chunk: int = 1 << 20) -> list[bytes]:
    return [line for lines in tail.chunks(chunk) for line in lines]


def test_partial_last_line_is_held_back_until_its_newline(tmp_path: Path) -> None:
    p = tmp_path / "t.jsonl"
    p.write_bytes(b'{"a": 1}\n{"a": 2')
    tail = JsonlTail(p)
    assert _all(tail) == [b'{"a": 1}']
    assert tail.offset == 9 and tail.pending_bytes() == 7
    with p.open("ab") as f:
        f.write(b'}\n{"a": 3}\n')
    assert _all(tail) == [b'{"a": 2}', b'{"a": 3}']
    assert tail.line_no == 3
    assert _all(tail) == []


def test_reading_again_reads_only_appended_bytes(tmp_path: Path) -> None:
    p = tmp_path / "t.jsonl"
    p.write_bytes(b"x" * 100 + b"\n")
    tail = JsonlTail(p)
    _all(tail)
    assert tail.offset == 101
    with p.open("ab") as f:
        f.write(b"yy\n")
    # A chunk size smaller than the file proves the reader seeks rather than rescans.
    assert _all(tail, chunk=4) == [b"yy"]
    assert tail.offset == 104


def test_lines_longer_than_a_chunk_are_reassembled(tmp_path: Path) -> None:
    p = tmp_path / "t.jsonl"
    long = b"z" * 10_000
    p.write_bytes(long + b"\nshort\n")
    assert _all(JsonlTail(p), chunk=1000) == [long, b"short"]


def test_missing_file_is_not_an_error(tmp_path: Path) -> None:
    tail = JsonlTail(tmp_path / "nope.jsonl")
    assert _all(tail) == [] and tail.exists is False and tail.error is None


def test_replaced_or_shrunk_file_is_detected(tmp_path: Path) -> None:
    p = tmp_path / "t.jsonl"
    p.write_bytes(b"1\n2\n3\n")
    tail = JsonlTail(p)
    _all(tail)
    assert not tail.changed_identity()
    p.write_bytes(b"1\n")
    assert tail.changed_identity()

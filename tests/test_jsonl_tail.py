"""The byte-offset tail: partial lines wait, growth costs only appended bytes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

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


@settings(max_examples=150, deadline=None)
@given(lengths=st.lists(st.integers(0, 300), min_size=1, max_size=60), partial=st.integers(0, 90),
       start=st.integers(0, 5), share=st.floats(0.0, 1.0), chunk=st.sampled_from([16, 64, 100]))
def test_two_reads_cut_at_a_chunk_end_yield_the_chunks_of_one(tmp_path_factory: Any, lengths: list[int], partial: int,
                                                             start: int, share: float, chunk: int) -> None:
    """``split.py``'s premise: reading up to ``chunk_ends`` and resuming with its ``first_read`` yields
    exactly the chunks (not only the lines) that one read gives, lines longer than a chunk included."""
    p = tmp_path_factory.mktemp("cut") / "t.jsonl"
    lines = [bytes([97 + i % 26]) * n for i, n in enumerate(lengths)]
    p.write_bytes(b"\n".join(lines) + b"\n" + b"z" * partial)
    skip = min(start, len(lines)) if start else 0
    offset = sum(len(x) + 1 for x in lines[:skip])
    one = JsonlTail(p)
    one.offset = offset
    whole, ends = [], []
    for lines in one.chunks(chunk):
        whole.append(lines)
        ends.append(one.offset)
    two = JsonlTail(p)
    two.offset = offset
    size = p.stat().st_size
    upto = offset + int((size - offset) * share)
    cut = two.chunk_ends(upto, chunk)
    grid = offset + (upto - offset) // chunk * chunk  # the last read of one that ends at or before ``upto``
    if cut is None:
        assert not any(e <= grid for e in ends)  # no chunk had ended by then
        return
    at, first_read = cut
    assert at in ends and at <= upto
    front = list(two.chunks(chunk, limit=at))
    assert two.offset == at and front and front == whole[:len(front)]
    back_tail = JsonlTail(p)
    back_tail.offset = at
    back = list(back_tail.chunks(chunk, first_read=first_read))
    assert front + back == whole and back_tail.offset == one.offset

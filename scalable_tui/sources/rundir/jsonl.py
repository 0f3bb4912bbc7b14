"""Incremental, tolerant reading of an append-only JSONL file.

The Scalable writer appends one line per event and can be killed mid-line.
A tail keeps the byte offset of the first unread byte and holds back a
partial last line until its newline arrives, so reading a growing file again
costs only the appended bytes.  It only ever opens files for reading.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path

from scalable_tui.sources.rundir.files import open_regular

CHUNK = 1 << 20  # small chunks stay in cache and avoid page-faulting huge buffers


def complete_end(fd: int, size: int) -> tuple[int, bytes]:
    """The offset just after the last newline in the first ``size`` bytes of ``fd``, and the partial last
    line after it (what a tail holds back); scanned backwards, 64 KiB at a time.  ``OSError`` passes."""
    pos = size
    partial = b""
    while pos > 0:
        start = max(0, pos - (1 << 16))
        data = os.pread(fd, pos - start, start)
        cut = data.rfind(b"\n")
        if cut >= 0:
            return start + cut + 1, data[cut + 1 :] + partial
        partial = data + partial
        pos = start
    return 0, partial


class JsonlTail:
    """Byte-offset cursor over one JSONL file."""

    __slots__ = ("path", "offset", "line_no", "_ino", "error", "exists", "held_back")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        #: Number of complete lines consumed so far (1-based numbers for notices).
        self.line_no = 0
        self._ino: int | None = None
        self.error: str | None = None
        self.exists = False
        #: Bytes after the last newline, when the last ``chunks`` read reached the end of the file.
        self.held_back = 0

    def reset(self) -> None:
        self.offset = 0
        self.line_no = 0
        self.held_back = 0
        self._ino = None

    def changed_identity(self) -> bool:
        """True when the file was replaced or shrank: offsets no longer apply."""
        try:
            st = os.stat(self.path)
        except OSError:
            return False
        if self._ino is not None and st.st_ino != self._ino:
            return True
        return st.st_size < self.offset

    def chunks(self, chunk_size: int = CHUNK, *, limit: int | None = None,
               first_read: int | None = None) -> Generator[list[bytes], None, None]:
        """Yield lists of complete lines (newline stripped) appended since the last call.

        A trailing partial line is not consumed: the offset stays before it so
        the next call sees it again, whole, once the writer finishes it.

        ``limit``: read no byte at or past this offset (a line boundary).
        ``first_read``: the size of the first read; with it, a read that
        resumes at a chunk end of another call reads on that call's grid of
        reads, so both yield exactly the chunks one call would have
        (``split.py`` reads the two halves of a file that way).
        """
        self.held_back = 0  # set again only by a read that reaches the end
        try:
            f = open_regular(self.path)  # a FIFO or a device would block or never end
        except FileNotFoundError:
            self.exists = False
            return
        except OSError as exc:
            self.exists = True
            self.error = exc.strerror or str(exc)
            return
        self.exists = True
        self.error = None
        with f:
            st = os.fstat(f.fileno())
            self._ino = st.st_ino
            f.seek(self.offset)
            pending = b""
            size = first_read or chunk_size
            pos = self.offset  # where the next read starts
            while True:
                if limit is not None:
                    size = min(size, limit - pos)
                    if size <= 0:
                        return
                try:
                    data = f.read(size)
                except OSError as exc:
                    self.error = exc.strerror or str(exc)
                    return
                if not data:
                    self.held_back = len(pending)  # at the end: a line its writer has not finished
                    return
                pos += len(data)
                size = chunk_size
                if pending:
                    data = pending + data
                cut = data.rfind(b"\n")
                if cut < 0:
                    pending = data
                    continue
                pending = data[cut + 1 :]
                lines = data[:cut].split(b"\n")
                # `data` starts at `offset` (held-back bytes were never counted).
                self.offset += cut + 1
                self.line_no += len(lines)
                yield lines

    def chunk_ends(self, upto: int, chunk_size: int = CHUNK) -> tuple[int, int] | None:
        """A chunk end of ``chunks()`` from the current offset at or before ``upto``.

        Returns ``(end, first_read)``: the end of the chunk the last read before ``upto`` completes (after the
        offset), and the first read a ``chunks(first_read=…)`` resuming there
        needs to stay on this call's grid of reads.  None when no chunk ends
        in that range.  Only the newlines are looked at (an ``mmap``, no copy).
        """
        import mmap

        start = self.offset
        try:
            with open_regular(self.path) as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                # chunks() reads at start + k * chunk_size; each read ends a chunk at the last newline
                # before it, if that is past the previous chunk's end
                k = (upto - start) // chunk_size
                while k > 0:
                    rp = start + k * chunk_size
                    cut = mm.rfind(b"\n", start, rp)
                    if cut >= start:
                        end = cut + 1
                        # the read after this chunk starts at rp and is chunk_size long
                        return end, rp - end + chunk_size
                    k -= 1
        except (OSError, ValueError):  # gone, or empty (mmap of 0 bytes)
            return None
        return None

    def pending_bytes(self) -> int:
        """Bytes after the offset (a partial last line when non-zero after a read)."""
        try:
            return max(0, os.stat(self.path).st_size - self.offset)
        except OSError:
            return 0

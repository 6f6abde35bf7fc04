"""MLLP framing: <VT> message <FS><CR>. Bytes in, frames out; parsing HL7 happens elsewhere."""

from __future__ import annotations

from dataclasses import dataclass

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c"
CARRIAGE_RETURN = b"\r"
_HEAD_KEPT = 65536


def frame(payload: bytes) -> bytes:
    return START_BLOCK + payload + END_BLOCK + CARRIAGE_RETURN


@dataclass(frozen=True, slots=True)
class Oversized:
    """A frame longer than the limit: its first bytes (enough to read MSH and answer) and its full size."""

    head: bytes
    size: int


class FrameDecoder:
    """Incremental decoder for one connection.

    Bytes between frames (stray newlines, keep-alive noise) are skipped. A frame over `max_frame_bytes` is
    not buffered whole: its head is kept, the rest discarded up to the end block, and an `Oversized` is
    returned in its place so the listener can still answer it.
    """

    __slots__ = ("_buf", "_discarding", "_head", "_in_frame", "_max", "_size")

    def __init__(self, max_frame_bytes: int) -> None:
        self._max = max_frame_bytes
        self._buf = bytearray()
        self._in_frame = False
        self._discarding = False
        self._head = b""
        self._size = 0

    @property
    def pending(self) -> int:
        """Bytes of an unfinished frame (a closed connection with pending bytes lost a partial frame)."""
        return self._size if self._discarding else len(self._buf)

    def feed(self, data: bytes) -> list[bytes | Oversized]:
        out: list[bytes | Oversized] = []
        pos = 0
        n = len(data)
        while pos < n:
            if not self._in_frame:
                start = data.find(START_BLOCK, pos)
                if start < 0:
                    return out
                self._in_frame = True
                pos = start + 1
                continue
            end = data.find(END_BLOCK, pos)
            if end >= 0 and not self._buf and not self._discarding and end - pos <= self._max:
                out.append(data[pos:end])  # the usual case: a whole frame in one read, one copy
            else:
                self._consume(data, pos, n if end < 0 else end)
                if end < 0:
                    return out
                out.append(self._finish())
            self._in_frame = False
            pos = end + 1
            if pos < n and data[pos] == 0x0D:
                pos += 1
        return out

    def _consume(self, data: bytes, pos: int, chunk_end: int) -> None:
        if self._discarding:
            self._size += chunk_end - pos
            return
        self._buf += data[pos:chunk_end]
        if len(self._buf) > self._max:
            self._discarding = True
            self._head = bytes(self._buf[:_HEAD_KEPT])
            self._size = len(self._buf)
            self._buf.clear()

    def _finish(self) -> bytes | Oversized:
        if self._discarding:
            done = Oversized(self._head, self._size)
            self._discarding = False
            self._head = b""
            self._size = 0
            return done
        whole = bytes(self._buf)
        self._buf.clear()
        return whole

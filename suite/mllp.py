"""MLLP framing with bounds: <VT> message <FS><CR>, read from an asyncio stream; shared by
the HL7 adapter and the device gateways (PCD-01 in, PCD-04 out).

`FrameReader.next()` returns the next message, or `Oversize` for a frame larger than the
limit (only its first bytes are kept; the rest is read and dropped so the connection can go
on), or None at a clean end of stream. A protocol violation raises `FrameError` and the
connection should be closed: bytes outside a frame that are not whitespace (no MLLP framing),
a frame not complete within the frame timeout of its first byte (a pause, or one byte every
few seconds), no frame started within the idle timeout (whitespace does not count), a stream
that ends inside a frame, or a frame that never ends. Both timeouts are deadlines, not
per-read limits, so a trickle of bytes cannot hold a connection.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from suite.errors import WireError

START_BLOCK = 0x0B
END_BLOCK = 0x1C
_BETWEEN_FRAMES = b"\r\n \t"
READ_SIZE = 65_536
HEAD_BYTES = 65_536  # what is kept of an oversize frame (enough for MSH and more)


class FrameError(WireError):
    """The peer broke MLLP framing; `kind` is unframed, timeout, truncated or endless."""

    def __init__(self, kind: str, message: str, sample: bytes = b"") -> None:
        super().__init__(message)
        self.kind = kind
        self.sample = sample


@dataclass(frozen=True, slots=True)
class Oversize:
    head: bytes
    size: int


class FrameReader:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        *,
        max_frame_bytes: int,
        frame_timeout_s: float,
        idle_timeout_s: float | None = None,
    ) -> None:
        self._reader = reader
        self._buf = bytearray()
        self.max_frame_bytes = max_frame_bytes
        self.frame_timeout_s = frame_timeout_s
        self.idle_timeout_s = idle_timeout_s
        # A frame that is still not over after this many bytes is not a message at all.
        self.max_discard_bytes = max(16 * max_frame_bytes, 64 * 1024 * 1024)

    async def _read(self, deadline: float | None) -> bytes:
        async with asyncio.timeout_at(deadline):
            return await self._reader.read(READ_SIZE)

    async def next(self) -> bytes | Oversize | None:
        buf = self._buf
        loop = asyncio.get_running_loop()
        idle_deadline = None if self.idle_timeout_s is None else loop.time() + self.idle_timeout_s
        while True:
            skip = 0
            while skip < len(buf) and buf[skip] in _BETWEEN_FRAMES:
                skip += 1
            if skip:
                del buf[:skip]
            if buf:
                if buf[0] != START_BLOCK:
                    sample = bytes(buf[:64])
                    raise FrameError(
                        "unframed",
                        f"data outside an MLLP frame (starts {sample[:32]!r})",
                        sample,
                    )
                break
            try:
                chunk = await self._read(idle_deadline)
            except TimeoutError:
                raise FrameError("idle", "no message within the idle timeout") from None
            if not chunk:
                return None
            buf += chunk
        del buf[0]
        frame_deadline = loop.time() + self.frame_timeout_s
        scan = 0
        size = 0
        head: bytes | None = None
        while True:
            end = buf.find(END_BLOCK, scan)
            if end != -1:
                if head is not None:
                    size += end
                    del buf[: end + 1]
                    return Oversize(head=head, size=size)
                if end > self.max_frame_bytes:  # it arrived whole, but is still too big
                    head = bytes(buf[: min(end, HEAD_BYTES)])
                    del buf[: end + 1]
                    return Oversize(head=head, size=end)
                payload = bytes(buf[:end])
                del buf[: end + 1]  # a CR after <FS> is skipped as whitespace next time
                return payload
            if head is None and len(buf) > self.max_frame_bytes:
                head = bytes(buf[:HEAD_BYTES])
            if head is not None:
                size += len(buf)
                buf.clear()
                if size > self.max_discard_bytes:
                    raise FrameError("endless", f"a frame of more than {size} bytes never ended")
            scan = len(buf)
            try:
                chunk = await self._read(frame_deadline)
            except TimeoutError:
                raise FrameError(
                    "timeout",
                    f"a frame was not complete {self.frame_timeout_s:g} s after it started",
                    bytes(buf[:64]) if head is None else head[:64],
                ) from None
            if not chunk:
                raise FrameError(
                    "truncated", "the connection ended inside a frame", bytes(buf[:64])
                )
            buf += chunk


def frame(payload: bytes) -> bytes:
    """`payload` wrapped in an MLLP block: <VT> payload <FS><CR>."""
    return b"\x0b" + payload + b"\x1c\x0d"

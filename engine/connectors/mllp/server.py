"""MLLP listener: many persistent connections, frames in, replies out, in order per connection.

The listener does not parse HL7. Each complete frame goes to `on_frame(frame, peer, reply)`; the runtime calls
`reply(ack)` once the message is durable, and replies on a connection go out in the order frames came in.

What one peer can hold is bounded, so a flood of connections or of frames that never end cannot starve the others
or the process of file descriptors: past `max_connections` a new connection is closed at once, and a frame must be
complete within `frame_timeout` of its first byte (a byte now and then does not keep it open). Each condition is
logged once a minute, with how many times it happened.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from collections.abc import Callable

import structlog

from engine.connectors.mllp import FrameDecoder, Oversized, frame

Reply = Callable[[bytes], None]
FrameHandler = Callable[[bytes | Oversized, str, Reply], None]
log = structlog.get_logger("huitong.mllp")
SAY_EVERY = 60.0  # seconds between two log lines about the same condition of a listener


class _Connection(asyncio.Protocol):
    __slots__ = (
        "_closing",
        "_deadline",
        "_decoder",
        "_next_out",
        "_out",
        "_seq",
        "_server",
        "_timer",
        "last_data",
        "peer",
        "transport",
    )

    def __init__(self, server: MllpServer) -> None:
        self._server = server
        self._decoder = FrameDecoder(server.max_frame_bytes)
        self._seq = 0  # frames received
        self._next_out = 0  # next reply to write
        self._out: dict[int, bytes] = {}  # replies ready but waiting for an earlier one
        self.last_data = time.monotonic()
        self._timer: asyncio.TimerHandle | None = None
        self._deadline: asyncio.TimerHandle | None = None  # the frame under way must be complete by then
        self._closing = False
        self.peer = "?"
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a stream transport (asyncio's or uvloop's)
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        if len(self._server.connections) >= self._server.max_connections:
            self._server.said("connection refused: the listener holds max_connections", peer=self.peer)
            self._closing = True
            transport.close()
            return
        self._server.connections.add(self)
        if self._server.idle_timeout:
            self._timer = asyncio.get_running_loop().call_later(self._server.idle_timeout, self._check_idle)

    def connection_lost(self, exc: Exception | None) -> None:
        self._server.connections.discard(self)
        if self._timer:
            self._timer.cancel()
        if self._deadline:
            self._deadline.cancel()
        if self._decoder.pending:
            log.warning(
                "connection closed inside a frame; the partial message was not acknowledged",
                peer=self.peer,
                bytes=self._decoder.pending,
            )

    def data_received(self, data: bytes) -> None:
        self.last_data = time.monotonic()
        if self._closing:
            return
        for item in self._decoder.feed(data):
            seq = self._seq
            self._seq += 1
            self._server.on_frame(item, self.peer, functools.partial(self._reply, seq))
        if not self._decoder.pending and self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        elif self._decoder.pending and self._deadline is None:
            loop = asyncio.get_running_loop()
            self._deadline = loop.call_later(self._server.frame_timeout, self._frame_overdue)

    def _frame_overdue(self) -> None:
        self._server.said("connection closed: a frame not complete within frame_timeout", peer=self.peer)
        self._deadline = None
        self.close()

    def _reply(self, seq: int, ack: bytes) -> None:
        self._out[seq] = ack
        while self._next_out in self._out:
            payload = self._out.pop(self._next_out)
            self._next_out += 1
            if self.transport is not None and not self.transport.is_closing():
                self.transport.write(frame(payload))
        if self._closing and self.idle:
            self.close()

    @property
    def idle(self) -> bool:
        return self._next_out == self._seq

    def _check_idle(self) -> None:
        timeout = self._server.idle_timeout
        quiet = time.monotonic() - self.last_data
        if quiet >= timeout and self.idle:
            log.info("closing idle connection", peer=self.peer, idle_seconds=round(quiet))
            self.close()
        else:
            self._timer = asyncio.get_running_loop().call_later(max(timeout - quiet, 0.1), self._check_idle)

    def drain_and_close(self) -> None:
        """Stop reading; close once every received frame has had its reply."""
        self._closing = True
        if self.transport is not None:
            self.transport.pause_reading()
        if self.idle:
            self.close()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


class MllpServer:
    def __init__(
        self,
        host: str,
        port: int,
        on_frame: FrameHandler,
        *,
        max_frame_bytes: int = 1 << 20,
        idle_timeout: float = 300.0,
        max_connections: int = 256,
        frame_timeout: float = 60.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.on_frame = on_frame
        self.max_frame_bytes = max_frame_bytes
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self.frame_timeout = frame_timeout
        self._said: dict[str, tuple[float, int]] = {}  # condition -> (when last logged, times since)
        self.ssl_context = ssl_context
        self.connections: set[_Connection] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self), self.host, self.port, ssl=self.ssl_context, backlog=512, reuse_address=True
        )

    def said(self, condition: str, *, peer: str) -> None:
        """Log a condition at most once a minute, with how many times it happened since it was last logged."""
        now = time.monotonic()
        last, count = self._said.get(condition, (-SAY_EVERY, 0))
        if now - last < SAY_EVERY:
            self._said[condition] = (last, count + 1)
            return
        self._said[condition] = (now, 0)
        log.warning(condition, port=self.port, peer=peer, times_since_last_said=count)

    @property
    def bound_port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def active(self, now: float, within: float) -> int:
        """Connections that sent data in the last `within` seconds (monotonic `now`)."""
        return sum(1 for conn in self.connections if now - conn.last_data < within)

    async def stop(self, grace: float = 10.0) -> None:
        """Stop accepting, answer every frame already received, then close the connections."""
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            conn.drain_and_close()
        deadline = time.monotonic() + grace
        while self.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for conn in list(self.connections):
            conn.close()
        if self._server is not None:
            await self._server.wait_closed()

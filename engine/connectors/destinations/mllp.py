"""MLLP destination: one persistent connection, one message in flight, the peer's ACK decides the outcome."""

from __future__ import annotations

import asyncio
import contextlib
import ssl

from engine.config import MllpDestination as MllpSpec
from engine.connectors import destinations
from engine.connectors.mllp import FrameDecoder, Oversized, frame
from engine.connectors.tls import client_context
from engine.domain.delivery import Attempt, Delivery
from engine.domain.formats.hl7v2 import canonical, read_ack

_POLICY_RETRY, _POLICY_DEAD, _POLICY_ACCEPT = "retry", "dead", "accept"


class MllpDestination:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        ack_timeout: float,
        on_ae: str = _POLICY_RETRY,
        on_ar: str = _POLICY_DEAD,
        ssl_context: ssl.SSLContext | None = None,
        max_ack_bytes: int = 1 << 20,
    ) -> None:
        self.host = host
        self.port = port
        self.ack_timeout = ack_timeout
        self.on_ae = on_ae
        self.on_ar = on_ar
        self.ssl_context = ssl_context
        self.max_ack_bytes = max_ack_bytes
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._decoder = FrameDecoder(max_ack_bytes)
        self._frames: list[bytes | Oversized] = []

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"

    async def send(self, delivery: Delivery) -> Attempt:
        try:
            if self._writer is None:
                await self._connect()
            assert self._writer is not None
            self._writer.write(frame(canonical(delivery.raw)))
            await self._writer.drain()
            response = await asyncio.wait_for(self._read_frame(), self.ack_timeout)
        except TimeoutError:
            await self.close()  # a late ACK must never be taken for the next message's
            return Attempt(
                False, error=f"no ACK from {self.target} within {self.ack_timeout:g}s", destination_down=True
            )
        except (OSError, ConnectionError, EOFError, ssl.SSLError) as exc:
            await self.close()
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
            return Attempt(False, error=f"{self.target}: {reason}", destination_down=True)
        if isinstance(response, Oversized):
            await self.close()
            return Attempt(False, error=f"ACK from {self.target} exceeds {self.max_ack_bytes} bytes")
        return self._judge(response, delivery.control_id)

    def _judge(self, response: bytes, control_id: str) -> Attempt:
        ack = read_ack(response)
        if ack.control_id and control_id and ack.control_id != control_id:
            return Attempt(False, error=f"ACK answers control ID {ack.control_id}, not {control_id}", response=response)
        code = ack.code[-1:] if ack.code[:1] in ("A", "C") else ""
        if code == "A":
            return Attempt(True, response=response)
        policy = {"E": self.on_ae, "R": self.on_ar}.get(code)
        reason = f"{ack.code or 'unreadable ACK'}: {ack.text}".rstrip(": ")
        if policy == _POLICY_ACCEPT:
            return Attempt(True, error=reason, response=response)
        return Attempt(False, error=reason, retry=policy != _POLICY_DEAD, response=response)

    async def _connect(self) -> None:
        self._reader, self._writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port, ssl=self.ssl_context), self.ack_timeout
        )
        self._decoder = FrameDecoder(self.max_ack_bytes)
        self._frames = []

    async def _read_frame(self) -> bytes | Oversized:
        assert self._reader is not None
        while not self._frames:
            data = await self._reader.read(65536)
            if not data:
                raise EOFError("connection closed before the ACK")
            self._frames.extend(self._decoder.feed(data))
        return self._frames.pop(0)

    async def commit(self) -> None:
        """Nothing to do: the peer's ACK already said it has the message."""

    async def close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, ConnectionError, ssl.SSLError):
                await writer.wait_closed()


def build(spec: MllpSpec, context: destinations.Context) -> MllpDestination:
    return MllpDestination(
        spec.target.host,
        spec.target.port,
        ack_timeout=spec.ack_timeout,
        on_ae=spec.on_ae,
        on_ar=spec.on_ar,
        ssl_context=client_context(spec.tls) if spec.tls else None,
    )


destinations.register(MllpSpec, build)

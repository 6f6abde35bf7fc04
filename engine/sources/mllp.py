"""MLLP source: HL7 v2 frames from many connections, each answered with its ACK once the journal holds it."""

from __future__ import annotations

import itertools
import ssl
import time

import structlog

from engine.config import MllpSource
from engine.connectors.mllp import Oversized
from engine.connectors.mllp.server import MllpServer, Reply
from engine.connectors.tls import server_context
from engine.domain.outcome import MessageStatus
from engine.pipeline.intake import ack_bytes, receive, too_large
from engine.sources.component import ChannelStartError, Component, Context, register

log = structlog.get_logger("huitong.channel")


class AckIds:
    """Control IDs for our ACKs: unique per process start, short enough for MSH-10 (ST, 20)."""

    def __init__(self) -> None:
        self._prefix = format(int(time.time()), "x")
        self._counter = itertools.count(1)
        self._second = -1
        self._stamp = ""

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):x}"

    def timestamp(self) -> str:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._stamp = time.strftime("%Y%m%d%H%M%S%z", time.localtime(now))
        return self._stamp


ACK_IDS = AckIds()  # one sequence for every listener of the process


class MllpListener:
    def __init__(self, context: Context) -> None:
        source = context.spec.source
        assert isinstance(source, MllpSource)
        self.context, self.source, self.name = context, source, context.spec.channel
        self.server = MllpServer(
            source.listen.host,
            source.listen.port,
            self._on_frame,
            max_frame_bytes=source.max_frame_bytes,
            idle_timeout=source.idle_timeout,
            max_connections=source.max_connections,
            frame_timeout=source.frame_timeout,
            ssl_context=server_context(source.tls) if source.tls else None,
        )

    def _on_frame(self, frame: bytes | Oversized, peer: str, reply: Reply) -> None:
        source, now = self.source, time.time()
        if isinstance(frame, Oversized):
            limit = source.max_frame_bytes
            items = [too_large(frame.head, frame.size, limit, channel=self.name, source=peer, received_at=now)]
        else:
            items = receive(
                frame,
                channel=self.name,
                source=peer,
                received_at=now,
                default_charset=source.encoding,
                validation=source.validation,
                profile=self.context.profile,
            )
        ack_id, stamp = ACK_IDS.next(), ACK_IDS.timestamp()
        answer = ack_bytes(items, None, control_id=ack_id, timestamp=stamp)
        for item in items:
            if item.entry.status == MessageStatus.ERROR:
                item.entry.ack = answer  # kept with the message: what the sender was told, and why

        def durable(error: Exception | None) -> None:
            reply(answer if error is None else ack_bytes(items, error, control_id=ack_id, timestamp=stamp))

        self.context.journal.append([item.entry for item in items], durable)

    async def stop(self) -> None:
        await self.server.stop()

    def senders(self, now: float) -> int:
        return self.server.active(now, 0.05)


async def start(context: Context) -> MllpListener:
    source = context.spec.source
    assert isinstance(source, MllpSource)
    try:
        listener = MllpListener(context)
        await listener.server.start()
    except (OSError, ssl.SSLError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ChannelStartError(
            f"{context.spec.file}: channel {context.spec.channel} cannot listen on {source.listen}: {reason}"
        ) from exc
    log.info(
        "channel started", channel=context.spec.channel, listen=str(source.listen), port=listener.server.bound_port
    )
    return listener


register(Component(MllpSource, start, format=lambda _: "hl7v2"))

"""An HTTP listener as a running source: started with the channel, answers in hand finished at stop."""

from __future__ import annotations

import structlog

from engine.config.values import HostPort
from engine.connectors.http import HttpListener
from engine.sources.component import ChannelStartError, Context

log = structlog.get_logger("huitong.channel")


class Listening:
    def __init__(self, listener: HttpListener) -> None:
        self.listener = listener

    async def stop(self) -> None:
        await self.listener.stop()

    def senders(self, now: float) -> int:
        return 0


async def serve(context: Context, listener: HttpListener, listen: HostPort) -> Listening:
    try:
        await listener.start()
    except OSError as exc:
        raise ChannelStartError(
            f"{context.spec.file}: channel {context.spec.channel} cannot listen on {listen}: {exc.strerror or exc}"
        ) from exc
    log.info("channel started", channel=context.spec.channel, listen=str(listen), port=listener.bound_port)
    return Listening(listener)

"""A running channel: its source component and one delivery worker per destination or stage. Paused, its source
is stopped while its deliveries go on (the management API's pause); resumed, a new source takes over."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import structlog

from engine.config import ChannelSpec
from engine.runtime.delivery import DeliveryWorker
from engine.sources import Running
from engine.sources.mllp import MllpListener

log = structlog.get_logger("huitong.channel")


@dataclass
class RunningChannel:
    spec: ChannelSpec
    workers: dict[str, DeliveryWorker]
    source: Running
    paused: bool = False

    @property
    def name(self) -> str:
        return self.spec.channel

    def connections(self) -> int | None:
        """Open connections of a listening MLLP source; None for other sources (or while paused)."""
        if self.paused or not isinstance(self.source, MllpListener):
            return None
        return len(self.source.server.connections)

    async def pause(self) -> None:
        """Stop taking messages (answering those in hand); deliveries go on."""
        await self.source.stop()
        self.paused = True
        log.info("channel paused", channel=self.name)

    def resume(self, source: Running) -> None:
        self.source, self.paused = source, False
        log.info("channel resumed", channel=self.name)

    async def stop(self) -> None:
        """Stop taking messages, answer those in hand, let in-flight deliveries finish."""
        if not self.paused:
            await self.source.stop()
        await asyncio.gather(*(w.stop() for w in self.workers.values()))
        log.info("channel stopped", channel=self.name)

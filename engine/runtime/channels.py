"""A running channel: its source component and one delivery worker per destination or stage."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import structlog

from engine.config import ChannelSpec
from engine.runtime.delivery import DeliveryWorker
from engine.sources import Running

log = structlog.get_logger("huitong.channel")


@dataclass
class RunningChannel:
    spec: ChannelSpec
    workers: dict[str, DeliveryWorker]
    source: Running

    @property
    def name(self) -> str:
        return self.spec.channel

    async def stop(self) -> None:
        """Stop taking messages, answer those in hand, let in-flight deliveries finish."""
        await self.source.stop()
        await asyncio.gather(*(w.stop() for w in self.workers.values()))
        log.info("channel stopped", channel=self.name)

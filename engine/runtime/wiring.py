"""The one place the engine's parts are put together: the store writer, the scheduler, the MPI resolver, the care
loop, a delivery worker per destination or stage, and each channel's source.

The daemon, the record process and a backfill all build their parts here; they differ only in what they run (the
daemon: sources and destinations, stages too unless a record process runs them; the record process: the stages;
a backfill: one channel's destinations and stages, fed by a bulk reader instead of its source).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Engine

from engine.config import ChannelSpec, DestinationSpec, EngineConfig, MpiEventsSource
from engine.connectors import destinations
from engine.domain.delivery import Delivery
from engine.domain.mapping import Mapped
from engine.domain.retry import RetryPolicy
from engine.domain.routing import ChannelRoutes, Route
from engine.pipeline import stages
from engine.pipeline.care_loop import CareLoop
from engine.pipeline.mapping import map_message
from engine.pipeline.mpi import MpiResolver
from engine.runtime import metrics
from engine.runtime.channels import RunningChannel
from engine.runtime.delivery import DeliveryWorker
from engine.runtime.pacing import Pacer
from engine.runtime.writer import StoreWriter, Woken
from engine.sources import Context, Running, component_of, rules_for
from engine.store import outbox


def routes_of(spec: ChannelSpec) -> ChannelRoutes:
    return ChannelRoutes(
        channel=spec.channel,
        accepts=tuple(spec.filter.message_types) if spec.filter else None,
        routes=tuple(
            Route(d.name, tuple(d.message_types) if d.message_types else None, d.order_by == "person")
            for d in spec.destinations
        ),
    )


def resolver_of(config: EngineConfig) -> MpiResolver:
    """The MPI with the channels that subscribe to its changes."""
    subscribers = {
        name: frozenset(spec.source.events)
        for name, spec in config.channels.items()
        if spec.enabled and isinstance(spec.source, MpiEventsSource)
    }
    return MpiResolver(config.mpi, subscribers, config.node, decided=metrics.mpi_decided)


def policy_of(spec: DestinationSpec) -> RetryPolicy:
    r = spec.retry
    return RetryPolicy(r.max_attempts, r.backoff, r.initial_interval, r.max_interval, r.multiplier)


def mapper_of(spec: ChannelSpec, config: EngineConfig) -> Callable[[Delivery], Mapped]:
    """Journaled message -> FHIR, with the channel's mappings, its source's format and its source system."""
    names, mappings = spec.map, config.mappings
    kind = component_of(spec.source).format(spec.source)
    default_charset = getattr(spec.source, "encoding", None)

    def to_mapped(delivery: Delivery) -> Mapped:
        return map_message(
            mappings,
            names,
            delivery.raw,
            format=kind,
            charset=delivery.charset or default_charset,
            source_system=spec.source_system,
        )

    return to_mapped


class Wiring:
    def __init__(
        self,
        config: EngineConfig,
        engine: Engine,
        *,
        node: str,
        channels: Mapping[str, ChannelSpec],
        on_woken: Callable[[Woken], None] = lambda _: None,
        sweep_age: float | None = None,
        senders: Callable[[], int] = lambda: 0,
        pacer: Pacer | None = None,
    ) -> None:
        """``channels``: those whose messages this process journals (routed to their destinations); ``senders``:
        how many intake commits to gather (0: no sender waits, commit inline); ``pacer``: a bulk process's, whose
        workers give live intake the store first (engine/runtime/pacing.py)."""
        self.engine = engine
        self.node = node
        self.pacer = pacer
        self.writer = StoreWriter(
            engine,
            {name: routes_of(spec) for name, spec in channels.items()},
            node=node,
            on_woken=on_woken,
            sweep_age=sweep_age,
            clock=time.time,
            senders=senders,
            pacer=pacer,
        )
        self.scheduler = AsyncIOScheduler()
        self.configure(config)

    def configure(self, config: EngineConfig) -> None:
        """Take a (re)loaded configuration: parts built from now on use it."""
        self.config = config
        self.resolver = resolver_of(config)
        self.care = CareLoop.of(config)

    def start(self, *, recover: bool) -> int:
        """Take back what this node held when it stopped (or crashed); with ``recover``, route the messages it had
        journaled but not routed. Returns how many were recovered."""
        node = self.node
        self.writer.run_now(lambda conn: outbox.release_leases(conn, node))
        recovered = self.writer.recover() if recover else 0
        self.writer.start()
        self.scheduler.start()
        return recovered

    def worker(self, channel: ChannelSpec, spec: DestinationSpec) -> DeliveryWorker:
        """The started delivery worker of one destination or stage."""
        to_mapped = mapper_of(channel, self.config)
        policy = policy_of(spec)
        consumer = (
            stages.build(spec, stages.Context(channel, to_mapped, self.resolver, self.care, policy))
            if stages.is_stage(spec)
            else destinations.build(spec, destinations.Context(channel, to_mapped))
        )
        worker = DeliveryWorker(
            channel.channel,
            spec.name,
            consumer,
            policy,
            ordered=spec.order_by == "person",
            writer=self.writer,
            scheduler=self.scheduler,
            pacer=self.pacer,
        )
        worker.start()
        return worker

    async def channel(self, spec: ChannelSpec, *, stages_elsewhere: bool) -> RunningChannel:
        """A running channel: its destinations' workers (stages left to the record process when it runs them),
        then its source."""
        workers = {
            dest.name: self.worker(spec, dest)
            for dest in spec.destinations
            if not (stages_elsewhere and stages.is_stage(dest))
        }
        try:
            source = await self.source(spec)
        except BaseException:
            await asyncio.gather(*(w.stop() for w in workers.values()))
            raise
        return RunningChannel(spec, workers, source)

    async def source(self, spec: ChannelSpec) -> Running:
        """The channel's started source (a channel resumed after a pause gets a new one)."""
        journal = metrics.TimedJournal(self.writer, spec.channel) if metrics.answers_senders(spec) else self.writer
        context = Context(spec, journal, self.scheduler, rules_for(self.config, spec.source))
        return await component_of(spec.source).start(context)

    async def close(self) -> None:
        self.scheduler.shutdown(wait=False)
        await self.writer.close()

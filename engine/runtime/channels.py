"""A running channel: its source (MLLP listener or file poller) and one delivery worker per destination."""

from __future__ import annotations

import asyncio
import itertools
import ssl
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from engine.config import (
    EVENT_SOURCES,
    ChannelSpec,
    ContractDestination,
    DestinationSpec,
    EngineConfig,
    FhirDestination,
    FhirPullSource,
    FhirPushSource,
    FileSource,
    HttpDestination,
    MllpDestination,
    MllpSource,
    MpiEventsSource,
    ObservationProfile,
    RecordDestination,
    XmlHttpSource,
)
from engine.config.models import DatabaseSource
from engine.connectors.destinations import Destination
from engine.connectors.destinations.fhir import FhirDestination as FhirConnector
from engine.connectors.destinations.file import FileDestination as FileConnector
from engine.connectors.destinations.http import HttpDestination as HttpConnector
from engine.connectors.destinations.mllp import MllpDestination as MllpConnector
from engine.connectors.http import HttpListener
from engine.connectors.mllp import Oversized
from engine.connectors.sources import file as file_source
from engine.connectors.sources.mllp import MllpServer, Reply
from engine.domain.delivery import Delivery
from engine.domain.formats.hl7v2 import ObservationRule, Rules
from engine.domain.mapping import Mapped, MappingSet
from engine.domain.outcome import MessageStatus
from engine.domain.retry import RetryPolicy
from engine.domain.routing import ChannelRoutes, Route
from engine.pipeline.care_loop import CareLoop
from engine.pipeline.intake import Received, ack_bytes, receive, too_large
from engine.pipeline.mapping import map_message
from engine.pipeline.mpi import MpiResolver
from engine.pipeline.payloads import receive_fhir, receive_ndjson, receive_xml
from engine.pipeline.stages import Stage
from engine.pipeline.stages.contracts import ContractStage
from engine.pipeline.stages.record import RecordStage
from engine.runtime.database_source import DatabasePoll
from engine.runtime.delivery import DeliveryWorker
from engine.runtime.http_sources import FhirPull, Poller, XmlPoll, fhir_push_listener, xml_listener
from engine.runtime.logging import get_logger
from engine.runtime.tls import client_context, server_context
from engine.runtime.writer import StoreWriter
from engine.store.persons import PersonResolver

log = get_logger("huitong.channel")

# Destinations that write the record (and so run in the record process when there is one).
RECORD_SIDE = (RecordDestination, ContractDestination)


class ChannelStartError(Exception):
    """A channel that passed validation still could not start (port taken, TLS key unreadable); says which."""


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
    return MpiResolver(config.mpi, subscribers, config.node)


def policy_of(spec: DestinationSpec) -> RetryPolicy:
    r = spec.retry
    return RetryPolicy(r.max_attempts, r.backoff, r.initial_interval, r.max_interval, r.multiplier)


def source_format(spec: ChannelSpec) -> str:
    """What the channel's messages are: hl7v2, xml, fhir or json (decides how they are decoded and mapped)."""
    source = spec.source
    if isinstance(source, DatabaseSource):
        return "json"
    if isinstance(source, (FhirPushSource, FhirPullSource)):
        return "fhir"
    if isinstance(source, XmlHttpSource):
        return "xml"
    if isinstance(source, FileSource):
        return {"ndjson": "fhir", "fhir-json": "fhir", "xml": "xml"}.get(source.format, "hl7v2")
    return "hl7v2"


def mapper_of(spec: ChannelSpec, mappings: MappingSet) -> Callable[[Delivery], Mapped]:
    """Journaled message -> FHIR, with the channel's mappings, format and source system."""
    names = spec.map
    kind = source_format(spec)
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


def connector_of(
    channel: ChannelSpec, spec: DestinationSpec, mappings: MappingSet, resolver: PersonResolver, loop: CareLoop
) -> Destination | Stage:
    if isinstance(spec, RecordDestination):
        mapper = mapper_of(channel, mappings)
        return RecordStage(channel.channel, channel.source_system, mapper, resolver, loop, policy_of(spec))
    if isinstance(spec, ContractDestination):
        assert loop.contracts is not None  # the loader reads the contract schema when a channel has this destination
        return ContractStage(channel.channel, loop.contracts, resolver, loop.events, spec.vendor)
    if isinstance(spec, FhirDestination):
        return FhirConnector(
            spec.url,
            token=spec.token,
            timeout=spec.timeout,
            source_system=channel.source_system,
            to_mapped=mapper_of(channel, mappings),
        )
    if isinstance(spec, HttpDestination):
        return HttpConnector(
            spec.url, method=spec.method, content_type=spec.content_type, token=spec.token, timeout=spec.timeout
        )
    if isinstance(spec, MllpDestination):
        return MllpConnector(
            spec.target.host,
            spec.target.port,
            ack_timeout=spec.ack_timeout,
            on_ae=spec.on_ae,
            on_ar=spec.on_ar,
            ssl_context=client_context(spec.tls) if spec.tls else None,
        )
    return FileConnector(channel.channel, spec.name, spec.path, spec.filename)


def worker_of(
    channel: ChannelSpec,
    dest: DestinationSpec,
    mappings: MappingSet,
    resolver: PersonResolver,
    loop: CareLoop,
    writer: StoreWriter,
    scheduler: AsyncIOScheduler,
) -> DeliveryWorker:
    """The delivery worker of one destination, started (in the daemon or in the record process)."""
    worker = DeliveryWorker(
        channel.channel,
        dest.name,
        connector_of(channel, dest, mappings, resolver, loop),
        policy_of(dest),
        ordered=dest.order_by == "person",
        writer=writer,
        scheduler=scheduler,
    )
    worker.start()
    return worker


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


def rules_of(profile: ObservationProfile | None) -> Rules | None:
    if profile is None:
        return None
    return {
        (r.system, r.code): ObservationRule(r.label, frozenset(r.units) if r.units is not None else None, r.min, r.max)
        for r in profile.observations
    }


@dataclass
class RunningChannel:
    spec: ChannelSpec
    writer: StoreWriter
    scheduler: AsyncIOScheduler
    ack_ids: AckIds
    mappings: MappingSet
    resolver: PersonResolver
    loop: CareLoop
    profile: Rules | None = None
    record_elsewhere: bool = False  # the record destinations run in the record process (record_process.py)
    workers: dict[str, DeliveryWorker] = field(default_factory=dict)
    server: MllpServer | None = None
    listener: HttpListener | None = None
    poller: Poller | None = None
    _stopping: bool = False

    @property
    def name(self) -> str:
        return self.spec.channel

    async def start(self) -> None:
        for dest in self.spec.destinations:
            if self.record_elsewhere and isinstance(dest, RECORD_SIDE):
                continue
            self.workers[dest.name] = worker_of(
                self.spec, dest, self.mappings, self.resolver, self.loop, self.writer, self.scheduler
            )
        source = self.spec.source
        if isinstance(source, MllpSource):
            try:
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
                await self.server.start()
            except (OSError, ssl.SSLError) as exc:
                self.server = None
                await asyncio.gather(*(w.stop() for w in self.workers.values()))
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                raise ChannelStartError(
                    f"{self.spec.file}: channel {self.name} cannot listen on {source.listen}: {reason}"
                ) from exc
            log.info("channel started", channel=self.name, listen=str(source.listen), port=self.server.bound_port)
        elif isinstance(source, FileSource):
            self._every(source.poll_interval, self._poll)
            log.info("channel started", channel=self.name, path=str(source.path), glob=source.glob)
        elif isinstance(source, FhirPushSource) or (isinstance(source, XmlHttpSource) and source.mode == "listen"):
            await self._listen(source)
        elif isinstance(source, EVENT_SOURCES):  # the engine journals its changes here; the sweep routes them
            log.info("channel started", channel=self.name, source=source.type)
        else:
            self.poller = (
                FhirPull(self.name, source, self.writer)
                if isinstance(source, FhirPullSource)
                else DatabasePoll(self.name, source, self.writer)
                if isinstance(source, DatabaseSource)
                else XmlPoll(self.name, source, self.writer)
            )
            self._every(source.poll_interval, self._poll_http)
            log.info("channel started", channel=self.name, source=source.type)

    def _every(self, seconds: float, job: Callable[[], Awaitable[None]]) -> None:
        self.scheduler.add_job(
            job,
            "interval",
            seconds=seconds,
            id=f"poll:{self.name}",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(),
        )

    async def _listen(self, source: FhirPushSource | XmlHttpSource) -> None:
        if isinstance(source, FhirPushSource):
            self.listener = fhir_push_listener(self.name, source, self.writer)
        else:
            self.listener = xml_listener(self.name, source, self.writer)
        assert source.listen is not None
        try:
            await self.listener.start()
        except OSError as exc:
            self.listener = None
            await asyncio.gather(*(w.stop() for w in self.workers.values()))
            raise ChannelStartError(
                f"{self.spec.file}: channel {self.name} cannot listen on {source.listen}: {exc.strerror or exc}"
            ) from exc
        log.info("channel started", channel=self.name, listen=str(source.listen), port=self.listener.bound_port)

    async def _poll_http(self) -> None:
        if self.poller is None or self._stopping:
            return
        try:
            await self.poller.poll()
        except Exception as exc:  # the store failed: nothing of this round was committed, the next poll redoes it
            log.error("poll failed; retrying at the next poll", channel=self.name, error=str(exc))

    async def stop(self) -> None:
        """Stop taking messages, answer those in hand, let in-flight deliveries finish."""
        self._stopping = True
        if self.server is not None:
            await self.server.stop()
        if self.listener is not None:
            await self.listener.stop()
        job = self.scheduler.get_job(f"poll:{self.name}")
        if job is not None:
            job.remove()
        if self.poller is not None:
            await self.poller.close()
        await asyncio.gather(*(w.stop() for w in self.workers.values()))
        log.info("channel stopped", channel=self.name)

    # -- MLLP -----------------------------------------------------------------------------------------------
    def _on_frame(self, frame: bytes | Oversized, peer: str, reply: Reply) -> None:
        source = self.spec.source
        assert isinstance(source, MllpSource)
        now = time.time()
        if isinstance(frame, Oversized):
            items = [
                too_large(
                    frame.head, frame.size, source.max_frame_bytes, channel=self.name, source=peer, received_at=now
                )
            ]
        else:
            items = receive(
                frame,
                channel=self.name,
                source=peer,
                received_at=now,
                default_charset=source.encoding,
                validation=source.validation,
                profile=self.profile,
            )
        ack_id, stamp = self.ack_ids.next(), self.ack_ids.timestamp()
        answer = ack_bytes(items, None, control_id=ack_id, timestamp=stamp)
        for item in items:
            if item.entry.status == MessageStatus.ERROR:
                item.entry.ack = answer  # kept with the message: what the sender was told, and why

        def durable(error: Exception | None) -> None:
            reply(answer if error is None else ack_bytes(items, error, control_id=ack_id, timestamp=stamp))

        self.writer.append([item.entry for item in items], durable)

    # -- file -----------------------------------------------------------------------------------------------
    async def _poll(self) -> None:
        source = self.spec.source
        assert isinstance(source, FileSource)
        files = await asyncio.to_thread(file_source.ready_files, source.path, source.glob)
        for chunk in _chunks(files, 100):
            if self._stopping:
                return
            batch: list[tuple[Path, list[Received]]] = []
            for path in chunk:
                try:
                    data = await asyncio.to_thread(path.read_bytes)
                except OSError as exc:
                    log.error("cannot read file", channel=self.name, file=str(path), error=exc.strerror)
                    continue
                batch.append((path, self._receive_file(source, path, data)))
            error = await self.writer.append_and_wait([i.entry for _, items in batch for i in items])
            if error is not None:
                log.error("journal commit failed; files stay for the next poll", channel=self.name)
                return
            for path, items in batch:
                failed = any(i.entry.status == MessageStatus.ERROR for i in items)
                target = source.error_dir if failed else source.done_dir
                moved = await asyncio.to_thread(file_source.move, path, target)
                log.info(
                    "file journaled",
                    channel=self.name,
                    file=str(moved),
                    messages=len(items),
                    rejected=sum(i.entry.status == MessageStatus.ERROR for i in items),
                )

    def _receive_file(self, source: FileSource, path: Path, data: bytes) -> list[Received]:
        return receive_file(source, self.name, str(path), data, self.profile, time.time())


def receive_file(
    source: FileSource, channel: str, where: str, data: bytes, profile: Rules | None, now: float
) -> list[Received]:
    """A file's journal entries, read as the source's format says (the live poller and `huitong backfill`)."""
    if source.format == "hl7v2":
        return receive(
            data,
            channel=channel,
            source=where,
            received_at=now,
            default_charset=source.encoding,
            validation=source.validation,
            profile=profile,
        )
    if source.format == "ndjson":
        entries = receive_ndjson(data, channel=channel, source=where, received_at=now)
    elif source.format == "fhir-json":
        entries = [receive_fhir(data, channel=channel, source=where, received_at=now)]
    else:
        entries = receive_xml(data, channel=channel, source=where, received_at=now)
    return [Received(entry, None) for entry in entries]


def _chunks(items: list[Path], size: int) -> Iterator[list[Path]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]

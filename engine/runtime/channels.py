"""A running channel: its source (MLLP listener or file poller) and one delivery worker per destination."""

from __future__ import annotations

import asyncio
import itertools
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from engine.config import ChannelSpec, FileDestination, FileSource, MllpDestination, MllpSource, ObservationProfile
from engine.connectors.destinations.file import FileDestination as FileConnector
from engine.connectors.destinations.mllp import MllpDestination as MllpConnector
from engine.connectors.mllp import Oversized
from engine.connectors.sources import file as file_source
from engine.connectors.sources.mllp import MllpServer, Reply
from engine.domain.formats.hl7v2 import ObservationRule, Rules
from engine.domain.outcome import MessageStatus
from engine.domain.retry import RetryPolicy
from engine.domain.routing import ChannelRoutes, Route
from engine.pipeline.intake import Received, ack_bytes, receive, too_large
from engine.runtime.delivery import Connector, DeliveryWorker
from engine.runtime.logging import get_logger
from engine.runtime.tls import client_context, server_context
from engine.runtime.writer import StoreWriter

log = get_logger("huitong.channel")


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


def policy_of(spec: MllpDestination | FileDestination) -> RetryPolicy:
    r = spec.retry
    return RetryPolicy(r.max_attempts, r.backoff, r.initial_interval, r.max_interval, r.multiplier)


def connector_of(channel: str, spec: MllpDestination | FileDestination) -> Connector:
    if isinstance(spec, MllpDestination):
        return MllpConnector(
            spec.target.host,
            spec.target.port,
            ack_timeout=spec.ack_timeout,
            on_ae=spec.on_ae,
            on_ar=spec.on_ar,
            ssl_context=client_context(spec.tls) if spec.tls else None,
        )
    return FileConnector(channel, spec.name, spec.path, spec.filename)


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
    profile: Rules | None = None
    workers: dict[str, DeliveryWorker] = field(default_factory=dict)
    server: MllpServer | None = None
    _stopping: bool = False

    @property
    def name(self) -> str:
        return self.spec.channel

    async def start(self) -> None:
        for dest in self.spec.destinations:
            worker = DeliveryWorker(
                self.name,
                dest.name,
                connector_of(self.name, dest),
                policy_of(dest),
                ordered=dest.order_by == "person",
                writer=self.writer,
                scheduler=self.scheduler,
            )
            worker.start()
            self.workers[dest.name] = worker
        source = self.spec.source
        if isinstance(source, MllpSource):
            try:
                self.server = MllpServer(
                    source.listen.host,
                    source.listen.port,
                    self._on_frame,
                    max_frame_bytes=source.max_frame_bytes,
                    idle_timeout=source.idle_timeout,
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
        else:
            self.scheduler.add_job(
                self._poll,
                "interval",
                seconds=source.poll_interval,
                id=f"poll:{self.name}",
                max_instances=1,
                coalesce=True,
                next_run_time=datetime.now(),
            )
            log.info("channel started", channel=self.name, path=str(source.path), glob=source.glob)

    async def stop(self) -> None:
        """Stop taking messages, answer those in hand, let in-flight deliveries finish."""
        self._stopping = True
        if self.server is not None:
            await self.server.stop()
        job = self.scheduler.get_job(f"poll:{self.name}")
        if job is not None:
            job.remove()
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
                items = receive(
                    data,
                    channel=self.name,
                    source=str(path),
                    received_at=time.time(),
                    default_charset=source.encoding,
                    validation=source.validation,
                    profile=self.profile,
                )
                batch.append((path, items))
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


def _chunks(items: list[Path], size: int) -> Iterator[list[Path]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]

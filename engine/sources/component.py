"""What a source component is, and the registry by which the engine finds one for a channel's source spec.

Each source type is one module of this package: its driver (listen or poll, started with the channel), the format
its messages are in, and, where the source can be read in bulk, the reader ``huitong backfill`` uses. A module
registers itself with :func:`register`; nothing else in the engine dispatches on the source's type.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from engine.config import ChannelSpec, EngineConfig
from engine.domain.formats.hl7v2 import ObservationRule, Rules
from engine.sources.journal import Journal
from engine.sources.reading import Position, Read

log = structlog.get_logger("huitong.channel")


class Refused(Exception):
    """A backfill cannot start as asked (the source cannot be read in bulk, the path is no directory); says why."""


class Unavailable(Exception):
    """A backfill's source stopped answering (after the retries its policy allows); names the request and why.
    What was committed before stays with its checkpoint: ``--resume`` continues from there."""


class Running(Protocol):
    """A started source: it journals what it takes until stopped."""

    async def stop(self) -> None:
        """Stop taking messages; answer those in hand (listeners reply only after the journal commit)."""

    def senders(self, now: float) -> int:
        """Peers that sent something in the last moment (monotonic ``now``): the commit waits for that many."""


class Reader(Protocol):
    """What a source can read in bulk, from a position on (``huitong backfill``)."""

    what: str  # identifies the backfill: another `what` while one is unfinished is refused
    channel: str
    unit: str  # what an origin is, for the progress bar: file, row, resource

    def remaining(self, after: Position) -> int:
        """Origins still to read, for the progress bar."""

    def read(self, after: Position) -> Iterator[Read]: ...

    def origin_of(self, source: str) -> str:
        """A journaled message's source as the report names its origin."""


@dataclass(frozen=True, slots=True)
class Context:
    """What a source driver is given by the wiring: its channel, the journal, the scheduler for polls."""

    spec: ChannelSpec
    journal: Journal
    scheduler: AsyncIOScheduler
    profile: Rules | None  # the channel's observation profile (HL7 v2 sources)


@dataclass(frozen=True, slots=True)
class Bulk:
    """What a backfill asks of a source: another root than the channel's, a range of watermark values."""

    path: Path | None = None
    since: str | None = None
    until: str | None = None


def range_what(since: str | None, until: str | None) -> str:
    """A range backfill's `what` (database and FHIR sources): ``since..until``, either side possibly empty."""
    return f"{since or ''}..{until or ''}"


def range_recall(what: str) -> Bulk:
    """The range a recorded `what` was made from (``--resume`` without saying it again)."""
    since, _, until = what.partition("..")
    return Bulk(since=since or None, until=until or None)


@dataclass(frozen=True, slots=True)
class Component:
    spec: type[Any]
    start: Callable[[Context], Awaitable[Running]]  # the started source (raises ChannelStartError)
    format: Callable[[Any], str]  # hl7v2, xml, fhir or json: how the channel's messages are decoded and mapped
    reader: Callable[[ChannelSpec, EngineConfig, Bulk], Reader] | None = None
    recall: Callable[[str], Bulk] | None = None  # a recorded backfill's `what` as the request that made it


class ChannelStartError(Exception):
    """A channel that passed validation still could not start (port taken, TLS key unreadable); says which."""


_COMPONENTS: dict[type[Any], Component] = {}


def register(component: Component) -> None:
    _COMPONENTS[component.spec] = component


def component_of(source: Any) -> Component:
    return _COMPONENTS[type(source)]


def rules_for(config: EngineConfig, source: Any) -> Rules | None:
    """The observation rules of the source's profile (HL7 v2 sources that name one)."""
    name = getattr(source, "profile", None)
    profile = config.profiles.get(name) if name else None
    if profile is None:
        return None
    return {
        (r.system, r.code): ObservationRule(r.label, frozenset(r.units) if r.units is not None else None, r.min, r.max)
        for r in profile.observations
    }


class Poller(Protocol):
    async def poll(self) -> None: ...

    async def close(self) -> None: ...


class Polling:
    """A poller run now and every ``seconds``, one run at a time; a run the store refused is redone at the next."""

    def __init__(self, context: Context, poller: Poller, seconds: float) -> None:
        self.context, self.poller, self.job = context, poller, f"poll:{context.spec.channel}"
        self._stopping = False
        context.scheduler.add_job(
            self._run, "interval", seconds=seconds, id=self.job, max_instances=1, coalesce=True,
            next_run_time=datetime.now(),
        )

    async def _run(self) -> None:
        if self._stopping:
            return
        try:
            await self.poller.poll()
        except Exception as exc:  # the store failed: nothing of this round was committed, the next poll redoes it
            log.error("poll failed; retrying at the next poll", channel=self.context.spec.channel, error=str(exc))

    async def stop(self) -> None:
        self._stopping = True
        job = self.context.scheduler.get_job(self.job)
        if job is not None:
            job.remove()
        await self.poller.close()

    def senders(self, now: float) -> int:
        return 0

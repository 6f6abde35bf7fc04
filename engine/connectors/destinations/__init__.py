"""Destinations: bytes out to a peer (MLLP, HTTP, FHIR server, files); each reports an Attempt per delivery.

Each destination type is one module here, registering how it is built from its spec; importing the package
registers them all. The engine's own consumers of the outbox (the record, contracts) are stages, in pipeline/stages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from engine.config import ChannelSpec
from engine.domain.delivery import Attempt, Delivery
from engine.domain.mapping import Mapped


class Destination(Protocol):
    async def send(self, delivery: Delivery) -> Attempt: ...

    async def commit(self) -> None:
        """Make what this batch sent durable at the destination; runs before the results are recorded."""

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Context:
    """What building a destination may need besides its spec: its channel, and the channel's mapping to FHIR."""

    channel: ChannelSpec
    to_mapped: Callable[[Delivery], Mapped]


_BUILDERS: dict[type[Any], Callable[[Any, Context], Destination]] = {}


def register(spec: type[Any], build: Callable[[Any, Context], Destination]) -> None:
    _BUILDERS[spec] = build


def build(spec: Any, context: Context) -> Destination:
    return _BUILDERS[type(spec)](spec, context)


from engine.connectors.destinations import fhir, file, http, mllp  # noqa: E402  (they register themselves)

__all__ = ["Context", "Destination", "build", "fhir", "file", "http", "mllp", "register"]

"""Destinations: bytes out to a peer (MLLP, HTTP, FHIR server, files); each reports an Attempt per delivery."""

from __future__ import annotations

from typing import Protocol

from engine.domain.delivery import Attempt, Delivery


class Destination(Protocol):
    async def send(self, delivery: Delivery) -> Attempt: ...

    async def commit(self) -> None:
        """Make what this batch sent durable at the destination; runs before the results are recorded."""

    async def close(self) -> None: ...

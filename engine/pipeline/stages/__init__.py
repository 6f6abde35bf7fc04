"""Stages: the engine's own consumers of the outbox, fed like destinations but writing into the store.

A stage takes a channel's deliveries as a destination does (``send`` is pure: it maps or parses), and stores what
they produce in the transaction that records their results (``write``), so a crash leaves both or neither:
the record stage (FHIR resources into the unified health record, the person resolved, the care loop run) and the
contract stage (family-doctor contract documents into the contract register and the record).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from sqlalchemy import Connection

from engine.domain.delivery import Attempt, Delivery, Result


@runtime_checkable
class Stage(Protocol):
    async def send(self, delivery: Delivery) -> Attempt: ...

    async def commit(self) -> None: ...

    def write(self, conn: Connection, results: list[Result]) -> list[Result]:
        """Store what the batch produced, in the transaction that records the results; returns the results,
        changed for deliveries that failed here."""

    async def close(self) -> None: ...

"""Stages: the engine's own consumers of the outbox, fed like destinations but writing into the store.

A stage takes a channel's deliveries as a destination does (``send`` is pure: it maps or parses), and stores what
they produce in the transaction that records their results (``write``), so a crash leaves both or neither:
the record stage (FHIR resources into the unified health record, the person resolved, the care loop run) and the
contract stage (family-doctor contract documents into the contract register and the record).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import Connection

from engine.config import ChannelSpec
from engine.domain.delivery import Attempt, Delivery, Result
from engine.domain.mapping import Mapped
from engine.domain.retry import RetryPolicy
from engine.pipeline.care_loop import CareLoop
from engine.store.persons import PersonResolver


@runtime_checkable
class Stage(Protocol):
    async def send(self, delivery: Delivery) -> Attempt: ...

    async def commit(self) -> None: ...

    def write(self, conn: Connection, results: list[Result]) -> list[Result]:
        """Store what the batch produced for these results, in the transaction that records them; returns the
        results, changed for deliveries that failed here. A paced worker passes a batch in parts, one transaction
        each (engine/runtime/pacing.py), so a part writes its own deliveries only."""

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Context:
    """What building a stage needs besides its spec: the channel, its mapping, the MPI, the care loop."""

    channel: ChannelSpec
    to_mapped: Callable[[Delivery], Mapped]
    resolver: PersonResolver
    care: CareLoop
    policy: RetryPolicy


_BUILDERS: dict[type[Any], Callable[[Any, Context], Stage]] = {}


def register(spec: type[Any], build: Callable[[Any, Context], Stage]) -> None:
    _BUILDERS[spec] = build


def is_stage(spec: Any) -> bool:
    """Whether a destination spec names a stage (run where the record is written: the record process, if any)."""
    return type(spec) in _BUILDERS


def build(spec: Any, context: Context) -> Stage:
    return _BUILDERS[type(spec)](spec, context)


from engine.pipeline.stages import contracts, record  # noqa: E402  (they register themselves)

__all__ = ["Context", "Stage", "build", "contracts", "is_stage", "record", "register"]

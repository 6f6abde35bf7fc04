"""The record stage: each message mapped to FHIR and written into the unified health record.

Mapping happens at send (pure, in the event loop); the record is written by ``write``, inside the
transaction that marks the deliveries SENT, so a crash leaves either both or neither. A batch is recorded in one
go; if that fails, each message is recorded on its own, so the one the record cannot take fails alone (retried
by the stage's policy, then DEAD with the reason) and its neighbours are recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog
from sqlalchemy import Connection

from engine.config import RecordDestination
from engine.domain.delivery import Attempt, Delivery, Result, settle_failure
from engine.domain.formats.fhir import FhirError
from engine.domain.formats.hl7v2 import HL7Error
from engine.domain.formats.xml import XmlError
from engine.domain.mapping import Mapped, MappingError, NoMapping
from engine.domain.masking import mask_text
from engine.domain.outcome import DeliveryStatus
from engine.domain.record import by_patient
from engine.domain.retry import RetryPolicy
from engine.pipeline import stages
from engine.pipeline.care_loop import CareLoop
from engine.pipeline.record import Provenance, apply
from engine.store.persons import PersonResolver

Mapper = Callable[[Delivery], Mapped]
log = structlog.get_logger("huitong.record")


class RecordStage:
    def __init__(
        self,
        channel: str,
        source_system: str,
        mapper: Mapper,
        resolver: PersonResolver,
        loop: CareLoop,
        policy: RetryPolicy,
    ) -> None:
        self.channel = channel
        self.policy = policy
        self.loop = loop
        self.source_system = source_system
        self.mapper = mapper
        self.resolver = resolver
        # by outbox row id: the message, one part per patient it carries (record.by_patient)
        self._pending: dict[int, list[tuple[Mapped, Provenance]]] = {}

    async def send(self, delivery: Delivery) -> Attempt:
        try:
            mapped = self.mapper(delivery)
        except NoMapping as exc:
            return Attempt(False, error=str(exc), skipped=True)
        except (MappingError, XmlError, HL7Error, FhirError) as exc:
            # Retrying cannot help until the mapping or the message is fixed: DEAD, then reprocess.
            return Attempt(False, error=f"mapping failed: {exc}", retry=False)
        provenance = Provenance(self.source_system, delivery.message_id, self.channel)
        self._pending[delivery.id] = [(part, provenance) for part in by_patient.split(mapped)]
        # Values the mapping left out are said in the delivery's response (huitong messages show).
        return Attempt(
            True, response="\n".join(["mapped with notes:", *mapped.notes]).encode() if mapped.notes else None
        )

    async def commit(self) -> None:
        return None

    def write(self, conn: Connection, results: list[Result]) -> list[Result]:
        mapped = {r.id: self._pending.pop(r.id) for r in results if r.id in self._pending}
        sent = [r.id for r in results if r.id in mapped and r.status == DeliveryStatus.SENT]
        now = time.time()
        if not sent:
            return results
        batch_error = self._record(conn, [part for i in sent for part in mapped[i]], now)
        if batch_error is None:
            return results
        failed = {}
        for i in sent:  # one at a time, to find the message the record cannot take
            error = self._record(conn, mapped[i], now)
            if error is not None:
                failed[i] = error
        if not failed:  # the batch met another writer (a deadlock, a key it had just written): each alone went in
            log.warning("record batch failed; recorded message by message", channel=self.channel, error=batch_error)
            return results
        log.error("record write failed", channel=self.channel, messages=len(failed), error=next(iter(failed.values())))
        return [
            settle_failure(r, f"cannot record: {failed[r.id]}", self.policy, now) if r.id in failed else r
            for r in results
        ]

    def _record(self, conn: Connection, items: list[tuple[Mapped, Provenance]], now: float) -> str | None:
        """Record the messages in a savepoint; None, or the reason it failed (masked), everything undone."""
        savepoint = conn.begin_nested()
        try:
            summaries = apply(conn, items, now, self.resolver)
            self.loop.after_record(conn, items, summaries, now)
        except Exception as exc:
            savepoint.rollback()
            return mask_text(f"{type(exc).__name__}: {exc}")
        savepoint.commit()
        return None

    async def close(self) -> None:
        return None


def build(spec: RecordDestination, context: stages.Context) -> RecordStage:
    channel = context.channel
    return RecordStage(
        channel.channel, channel.source_system, context.to_mapped, context.resolver, context.care, context.policy
    )


stages.register(RecordDestination, build)

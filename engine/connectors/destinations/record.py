"""The record destination: each message mapped to FHIR and written into the unified health record.

Mapping happens at send (pure, in the event loop); the record is written by ``write``, inside the
transaction that marks the deliveries SENT, so a crash leaves either both or neither.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Connection

from engine.domain.formats.fhir import FhirError
from engine.domain.formats.hl7v2 import HL7Error
from engine.domain.formats.xml import XmlError
from engine.domain.mapping import Mapped, MappingError
from engine.pipeline.care_loop import CareLoop
from engine.pipeline.delivery import Attempt
from engine.pipeline.record import Provenance, apply
from engine.store.outbox import Delivery, Result
from engine.store.persons import PersonResolver

Mapper = Callable[[Delivery], Mapped]


class RecordDestination:
    def __init__(
        self, channel: str, source_system: str, mapper: Mapper, resolver: PersonResolver, loop: CareLoop
    ) -> None:
        self.channel = channel
        self.loop = loop
        self.source_system = source_system
        self.mapper = mapper
        self.resolver = resolver
        self._pending: dict[int, tuple[Mapped, Provenance]] = {}  # by outbox row id

    async def send(self, delivery: Delivery) -> Attempt:
        try:
            mapped = self.mapper(delivery)
        except (MappingError, XmlError, HL7Error, FhirError) as exc:
            # Retrying cannot help until the mapping or the message is fixed: DEAD, then reprocess.
            return Attempt(False, error=f"mapping failed: {exc}", retry=False)
        self._pending[delivery.id] = (mapped, Provenance(self.source_system, delivery.message_id, self.channel))
        return Attempt(True)

    async def commit(self) -> None:
        return None

    def write(self, conn: Connection, results: list[Result]) -> list[Result]:
        sent = [self._pending.pop(r.id) for r in results if r.id in self._pending and r.status == "SENT"]
        self._pending.clear()
        if sent:
            now = time.time()
            summaries = apply(conn, sent, now, self.resolver)
            self.loop.after_record(conn, sent, summaries, now)
        return results

    async def close(self) -> None:
        return None

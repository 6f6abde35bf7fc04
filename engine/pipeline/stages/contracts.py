"""The contract stage: family-doctor contract XML into the contract register and the record.

Reading happens at send (pure: the document is parsed and checked against the XSD); the register and the record
are written by ``write``, inside the transaction that marks the deliveries SENT. A paced record worker writes a
batch in parts (engine/runtime/pacing.py), so each part takes only its own deliveries' documents. A snapshot the
register refuses (the sender reused a version for other content, or the step is impossible) marks its delivery
DEAD with the reason, to be looked at and reprocessed; a resend or an older version is simply SENT, having
changed nothing.
"""

from __future__ import annotations

import dataclasses
import time

import structlog
from sqlalchemy import Connection

from engine.config import ContractDestination
from engine.domain.contract import Contract, ContractReader, ContractXmlError, Result
from engine.domain.delivery import Attempt, Delivery
from engine.domain.delivery import Result as Outcome
from engine.pipeline import stages
from engine.pipeline.care_events import CareEvents
from engine.pipeline.contracts import apply_contracts
from engine.pipeline.record import Provenance
from engine.store.persons import PersonResolver

log = structlog.get_logger("huitong.contract")

_REFUSED = (Result.CONFLICT, Result.REJECTED)


class ContractStage:
    def __init__(
        self, channel: str, reader: ContractReader, resolver: PersonResolver, events: CareEvents, vendor: str | None
    ) -> None:
        self.channel = channel
        self.vendor = vendor
        self.reader = reader
        self.resolver = resolver
        self.events = events
        self._pending: dict[int, tuple[tuple[Contract, ...], Provenance]] = {}

    async def send(self, delivery: Delivery) -> Attempt:
        try:
            found = self.reader.read(delivery.raw, vendor=self.vendor)
        except ContractXmlError as exc:
            return Attempt(False, error=f"not a contract document: {exc}", retry=False)
        source = found[0].source_system if found else self.channel
        self._pending[delivery.id] = (found, Provenance(source, delivery.message_id, self.channel))
        return Attempt(True)

    async def commit(self) -> None:
        return None

    def write(self, conn: Connection, results: list[Outcome]) -> list[Outcome]:
        out = []
        now = time.time()
        for result in results:
            pending = self._pending.pop(result.id, None)
            if pending is None or result.status != "SENT":
                out.append(result)
                continue
            found, provenance = pending
            applied = apply_contracts(conn, [(c, provenance) for c in found], now, self.resolver, self.events)
            for a in applied:
                log.info(
                    "contract",
                    channel=self.channel,
                    contract=a.contract_id,
                    version=a.version,
                    result=a.result.value,
                    change=a.kind.value,
                )
            refused = [a for a in applied if a.result in _REFUSED]
            if refused:
                reason = "; ".join(f"contract {a.contract_id} v{a.version}: {a.reason}" for a in refused)
                result = dataclasses.replace(result, status="DEAD", error=reason)
            out.append(result)
        return out

    async def close(self) -> None:
        return None


def build(spec: ContractDestination, context: stages.Context) -> ContractStage:
    care = context.care
    assert care.contracts is not None  # the loader reads the contract schema when a channel has this destination
    return ContractStage(context.channel.channel, care.contracts, context.resolver, care.events, spec.vendor)


stages.register(ContractDestination, build)

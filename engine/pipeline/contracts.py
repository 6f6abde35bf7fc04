"""Contracts from the public-health system into the register and the record, each change passed on once.

A contract document holds snapshots, not events: each is compared with the version held (events.apply), so a
resend, a poll that returns the same list again, or an older version arriving late changes nothing and pushes
nothing. An applied snapshot is audited (``contract.signed``, ``contract.terminated``, … with version, status and
person), files the resident's Patient, EpisodeOfCare and CareTeam in the unified record (the
MPI finds the person), becomes the version held, and is journaled for every contract-events channel, all in the
caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection

from engine.domain.contract import Contract, ContractEvent, EventKind, Result, apply, kind_of
from engine.domain.contract.uhr import record_resources
from engine.domain.mapping import Mapped
from engine.pipeline import record
from engine.pipeline.care_events import CareEvents
from engine.pipeline.record import Provenance
from engine.store import audit, contracts
from engine.store.persons import PersonResolver

MAPPING = "contract"


@dataclass(frozen=True, slots=True)
class Applied:
    """What one snapshot did: APPLIED (with the event kind and the person), or why it changed nothing."""

    contract_id: str
    version: int
    result: Result
    kind: EventKind
    person_id: str | None = None
    reason: str = ""


def apply_contracts(
    conn: Connection,
    items: Sequence[tuple[Contract, Provenance]],
    now: float,
    resolver: PersonResolver,
    events: CareEvents,
) -> list[Applied]:
    out = []
    for contract, provenance in items:
        held = contracts.held(conn, contract.source_system, contract.contract_id)
        kind = kind_of(held, contract)
        event = ContractEvent(contract.contract_id, kind, contract.version, datetime.fromtimestamp(now, UTC), contract)
        outcome = apply(held, event)
        if not outcome.applied:
            out.append(Applied(contract.contract_id, contract.version, outcome.result, kind, reason=outcome.reason))
            continue
        mapped = Mapped(MAPPING, str(contract.version), tuple(record_resources(contract)))
        [summary] = record.apply(conn, [(mapped, provenance)], now, resolver)
        assert summary.person_id is not None  # the mapped resources start with the resident's Patient
        contracts.keep(conn, contract, summary.person_id, now)
        detail = {"version": contract.version, "status": contract.status.value, "person": summary.person_id}
        audit.record(
            conn,
            f"contract.{kind.value.lower()}",
            f"contract:{contract.source_system}|{contract.contract_id}",
            detail,
            actor=provenance.channel,
            at=now,
        )
        events.contract_changed(conn, contract, kind, summary.person_id, now)
        out.append(Applied(contract.contract_id, contract.version, Result.APPLIED, kind, summary.person_id))
    return out

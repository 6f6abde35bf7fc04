"""Contract, service and care-task changes as messages for the channels that pass them on.

Like the MPI's changes (mpi_events.py): each change is journaled, status RECEIVED, in the transaction that makes
it, for every channel whose source subscribes (``contract-events``, ``service-events``, ``task-events``), already
rendered in the form the receiving system takes (an ADT^A31, a FHIR transaction, service-record XML, JSON). The
daemon's sweep then routes it to the channel's destinations: durable, retried, in order per person where the
destination asks, visible in ``huitong messages``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

import orjson
from sqlalchemy import Connection

from engine.config import ContractEventsSource, EngineConfig, ServiceEventsSource, TaskEventsSource
from engine.domain.care.task_fhir import TaskChange, fhir_task, task_json
from engine.domain.contract import Contract, EventKind, LocalId, Status
from engine.domain.contract.push import ORDER_TAG_SYSTEM, emr_transaction, his_a31
from engine.domain.contract.services import ServiceRecord, ServiceRules, remaining, service_records, service_xml
from engine.domain.contract.snapshot import to_json
from engine.domain.formats.fhir.transaction import transaction_bundle
from engine.domain.mapping.result import RESIDENT_ID_SYSTEM, Resource
from engine.domain.record.precedence import Rules
from engine.store import contracts, journal
from engine.store import persons as person_store
from engine.store.journal import JournalEntry
from engine.views.assessment import resources_of
from engine.views.record_view import person_view

SOURCE = "care"


def order_key(resident_id: str) -> str:
    """The per-person order key of a non-HL7 message (process.person_key reads it back); not identifying."""
    return hashlib.blake2b(resident_id.encode(), digest_size=12).hexdigest()


def _control_id(*parts: object) -> str:
    """MSH-10 (ST, 20): the same change always gets the same id, so a receiver can spot a resend."""
    return hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=10).hexdigest()


def _stamp(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def numbers_in(conn: Connection, person_id: str, system: str) -> list[tuple[str, str]]:
    """The person's patient numbers (identifier system, value) that one system gave them, as its own channel
    registered them (the MPI linked them to the person); the resident ID is not one of them."""
    numbers = person_store.identifiers_from(conn, person_id, system)
    return [(kind, value) for kind, value in numbers if kind != RESIDENT_ID_SYSTEM]


def _pid3_ids(numbers: Sequence[tuple[str, str]], system: str) -> list[LocalId]:
    """PID-3 repetitions: the assigning authority as the HIS sent it (our identifier system ends with it)."""
    prefix = f"urn:huitong:id:{system}:"
    return [LocalId(kind.removeprefix(prefix), value) for kind, value in numbers]


@dataclass
class CareEvents:
    """Who gets which change, and in what form; built once from the configuration."""

    contracts: Mapping[str, ContractEventsSource] = field(default_factory=dict)
    services: Sequence[str] = ()
    tasks: Mapping[str, TaskEventsSource] = field(default_factory=dict)
    node: str = ""
    rules: ServiceRules | None = None  # service matching: data return, and the services left for the HIS (ZFD-11)
    precedence: Mapping[str, Rules] = field(default_factory=dict)
    routes: Mapping[str, frozenset[str]] = field(default_factory=dict)  # channel -> institutions it takes; absent: all

    @classmethod
    def of(cls, config: EngineConfig) -> CareEvents:
        running = {name: spec.source for name, spec in config.channels.items() if spec.enabled}
        contract_channels = {n: s for n, s in running.items() if isinstance(s, ContractEventsSource)}
        services = [n for n, s in running.items() if isinstance(s, ServiceEventsSource)]
        rules = config.service_rules
        orgs = config.orgs  # loaded whenever a channel names organisations
        routes = {
            name: frozenset().union(*(orgs.rollup(code) for code in codes))
            for name, source in running.items()
            if orgs is not None and (codes := getattr(source, "organisations", None))
        }
        return cls(
            contract_channels,
            services,
            {n: s for n, s in running.items() if isinstance(s, TaskEventsSource)},
            config.node,
            rules,
            config.record.precedence,
            routes,
        )

    def _takes(self, channel: str, contract: Contract) -> bool:
        """Whether the channel wants changes of this contract: its institution is one the channel routes, or below."""
        wanted = self.routes.get(channel)
        return wanted is None or contract.organisation_code in wanted

    def contract_changed(
        self, conn: Connection, contract: Contract, kind: EventKind, person_id: str, now: float
    ) -> None:
        # Counted from the resident's whole record: once per change, however many HIS channels take it.
        services_left = cache(lambda: self._remaining(conn, contract, person_id, date.fromtimestamp(now)))
        entries = [
            self._contract_entry(conn, channel, source, contract, kind, person_id, now, services_left)
            for channel, source in self.contracts.items()
            if self._takes(channel, contract)
        ]
        if entries:
            journal.append(conn, entries, self.node)

    def _contract_entry(
        self,
        conn: Connection,
        channel: str,
        source: ContractEventsSource,
        contract: Contract,
        kind: EventKind,
        person_id: str,
        now: float,
        services_left: Callable[[], dict[str, int] | None],
    ) -> JournalEntry:
        key = order_key(contract.resident.resident_id)
        system = source.receiver_system
        numbers = numbers_in(conn, person_id, system) if system else []
        if source.format == "hl7v2":
            control = _control_id(channel, contract.source_system, contract.contract_id, contract.version)
            raw = his_a31(
                contract,
                patient_ids=_pid3_ids(numbers, system) if system else (),
                control_id=control,
                timestamp=datetime.fromtimestamp(now).astimezone(),
                sending_app=source.sending_application,
                sending_facility=source.sending_facility,
                receiving_app=source.receiving_application,
                receiving_facility=source.receiving_facility,
                on=date.fromtimestamp(now),
                remaining=services_left(),
                charset=source.encoding,
            )
            return JournalEntry(
                channel, SOURCE, now, raw, message_type="ADT^A31", control_id=control, charset=source.encoding
            )
        body: dict[str, Any]
        if source.format == "fhir":
            body = emr_transaction(contract, key, numbers[0] if numbers else None)
        else:
            body = {
                "event": f"contract.{kind.value.lower()}",
                "at": _stamp(now),
                "person": person_id,
                "order_key": key,
                "contract": to_json(contract),
            }
        return JournalEntry(
            channel, SOURCE, now, orjson.dumps(body), message_type=f"contract.{kind.value.lower()}", charset="utf-8"
        )

    def _remaining(self, conn: Connection, contract: Contract, person_id: str, on: date) -> dict[str, int] | None:
        """Services left per item this contract year, from everything the resident's record shows."""
        if self.rules is None:
            return None
        resources = resources_of(person_view(conn, person_id, self.precedence))
        return remaining(contract, service_records(contract, resources, self.rules), on)

    def services_delivered(
        self, conn: Connection, found: Sequence[tuple[Contract, Sequence[ServiceRecord]]], now: float
    ) -> None:
        """One service-record XML document (services.service_xml) per service-events channel, holding the records
        of the contracts that channel routes."""
        entries = []
        for channel in self.services:
            records = [r for contract, rs in found if self._takes(channel, contract) for r in rs]
            if records:
                raw = service_xml(records)
                entries.append(JournalEntry(channel, SOURCE, now, raw, message_type="ServiceRecords", charset="utf-8"))
        if entries:
            journal.append(conn, entries, self.node)

    def tasks_changed(self, conn: Connection, changes: Sequence[TaskChange], now: float) -> None:
        """Each task state change, for the task-events channels that take its new state."""
        persons = list(dict.fromkeys(c.person_id for c in changes))
        residents = person_store.first_values(conn, persons, RESIDENT_ID_SYSTEM)
        doctors = {
            person: (c.doctor.doctor_id, c.doctor.name)
            for person, held in contracts.of_persons(conn, persons).items()
            for c in held
            if c.status is Status.ACTIVE
        }
        entries = []
        for channel, source in self.tasks.items():
            for change in changes:
                if change.task.state.value not in source.states:
                    continue
                resident = residents.get(change.person_id)
                key = order_key(resident or change.person_id)
                if source.format == "fhir":
                    task = fhir_task(
                        change.task,
                        resident_id=resident,
                        person_id=change.person_id,
                        doctor=doctors.get(change.person_id),
                    )
                    body = transaction_bundle(
                        [Resource("task", change.task.id, task)], source_system="huitong", message_id=0
                    )
                    body["meta"] = {"tag": [{"system": ORDER_TAG_SYSTEM, "code": key}]}
                else:
                    body = {**task_json(change), "order_key": key}
                kind = f"task.{change.task.state.value.lower()}"
                entries.append(
                    JournalEntry(channel, SOURCE, now, orjson.dumps(body), message_type=kind, charset="utf-8")
                )
        if entries:
            journal.append(conn, entries, self.node)

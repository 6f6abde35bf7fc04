"""The family-doctor loop's side of the record: what follows when the record changes.

Built once from the configuration and handed to the record-side destinations: the contract reader for the
``contract`` destination, the service rules for data return (数据回流), and the channels that pass contract,
service and task changes on (care_events.py). Everything runs in the transaction that writes the record, so a
service is returned exactly when its visit is recorded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection

from engine.config import EngineConfig
from engine.domain.care import CareRules, TaskState
from engine.domain.care.task_fhir import TaskChange
from engine.domain.contract import ContractReader, Status
from engine.domain.contract.services import ServiceRules, service_records, with_tasks
from engine.domain.mapping import Mapped
from engine.domain.mapping.bundle import rewrite_references
from engine.domain.record.precedence import Rules
from engine.pipeline.care_events import CareEvents
from engine.pipeline.care_tasks import refresh
from engine.pipeline.record import AppliedSummary, Provenance
from engine.store import contracts

_NEVER_IN_FORCE = (Status.PENDING, Status.CANCELLED)


@dataclass
class CareLoop:
    events: CareEvents = field(default_factory=CareEvents)
    contracts: ContractReader | None = None
    services: ServiceRules | None = None  # None: no service-events channel, nothing to return
    care_rules: CareRules | None = None  # None when the mappings have no care rules (no tasks kept)
    precedence: Mapping[str, Rules] = field(default_factory=dict)

    @classmethod
    def of(cls, config: EngineConfig) -> CareLoop:
        events = CareEvents.of(config)
        services = events.rules if events.services else None
        return cls(events, config.contracts, services, config.rules.care, config.record.precedence)

    def after_record(
        self,
        conn: Connection,
        items: Sequence[tuple[Mapped, Provenance]],
        summaries: Sequence[AppliedSummary],
        now: float,
    ) -> None:
        """The persons' care tasks brought up to date, then the services of contracted residents returned to public
        health naming the tasks they closed; each change passed on (same transaction as the record write)."""
        persons = list(dict.fromkeys(s.person_id for s in summaries if s.person_id is not None))
        changes = self.refresh_tasks(conn, persons, date.fromtimestamp(now), now) if self.care_rules and persons else []
        if self.services is not None:
            closed: dict[str, list[str]] = {}
            for change in changes:
                task = change.task
                if task.state is TaskState.DONE and change.before is not TaskState.DONE and task.evidence is not None:
                    closed.setdefault(task.evidence.resource, []).append(task.id)
            self._return_services(conn, self.services, items, summaries, closed, now)

    def refresh_tasks(self, conn: Connection, persons: Sequence[str], on: date, now: float) -> list[TaskChange]:
        """Recompute the persons' tasks as of ``on``; pass each state change on to the task-events channels."""
        assert self.care_rules is not None
        changes = refresh(conn, persons, on, now, self.care_rules, precedence=self.precedence)
        if changes and self.events.tasks:
            self.events.tasks_changed(conn, changes, now)
        return changes

    def _return_services(
        self,
        conn: Connection,
        rules: ServiceRules,
        items: Sequence[tuple[Mapped, Provenance]],
        summaries: Sequence[AppliedSummary],
        closed: Mapping[str, Sequence[str]],
        now: float,
    ) -> None:
        persons = [s.person_id for s in summaries if s.person_id is not None]
        held = contracts.of_persons(conn, persons) if persons else {}
        for (mapped, provenance), summary in zip(items, summaries, strict=True):
            found = [c for c in held.get(summary.person_id or "", ()) if c.status not in _NEVER_IN_FORCE]
            found = [c for c in found if c.source_system != provenance.source_system]  # not its own data back
            if not found:
                continue
            resources = _as_recorded(mapped, summary, provenance)
            returned = [(c, with_tasks(service_records(c, resources, rules), closed)) for c in found]
            if any(records for _, records in returned):
                self.events.services_delivered(conn, returned, now)


def _as_recorded(mapped: Mapped, summary: AppliedSummary, provenance: Provenance) -> list[dict[str, Any]]:
    """The message's resources under the ids the record gave them (stable across messages), tagged with their
    source, so a service record names evidence the record can show and the same visit always gets the same id."""
    out = []
    for resource in mapped.resources:
        body = rewrite_references(resource.body, summary.ids)
        stored = summary.ids.get(f"{resource.type}/{resource.body.get('id')}")
        if stored:
            body["id"] = stored.partition("/")[2]
        body["meta"] = {**(body.get("meta") or {}), "source": provenance.source_system}
        out.append(body)
    return out

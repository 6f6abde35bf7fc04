"""A resident's file for the console: the 360° view (record_view), the family-doctor contracts the register holds,
and the care tasks the record calls for, all as JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from engine.domain.care.task_fhir import task_fields
from engine.domain.contract import Contract
from engine.domain.instants import local_iso
from engine.domain.record.precedence import Rules
from engine.store import care_tasks, contracts
from engine.views.record_view import person_view, view_json


def contract_json(c: Contract) -> dict[str, Any]:
    return {
        "contract": c.contract_id,
        "source_system": c.source_system,
        "version": c.version,
        "status": c.status.value,
        "organisation": c.organisation_code,
        "team": {"id": c.team.team_id, "name": c.team.name},
        "doctor": c.doctor.name,
        "period": {"start": c.period.start.isoformat(), "end": c.period.end.isoformat()},
        "signed_on": c.signed_on.isoformat() if c.signed_on else None,
        "packages": [p.name for p in c.packages],
        "labels": list(c.labels),
        "terminated_on": c.termination.on.isoformat() if c.termination else None,
    }


def resident_file(conn: Connection, person: str, precedence: Mapping[str, Rules]) -> dict[str, Any]:
    """Everything the console shows of one (surviving) person."""
    view = person_view(conn, person, precedence)
    held = contracts.of_persons(conn, [person]).get(person, [])
    tasks = care_tasks.of_persons(conn, [person]).get(person, [])
    return {
        **view_json(view),
        "contracts": [contract_json(c) for c in sorted(held, key=lambda c: c.period.start)],
        "tasks": [
            {**task_fields(t.person_id, t.task), "updated_at": local_iso(t.updated_at)}
            for t in tasks  # by window start
        ],
    }

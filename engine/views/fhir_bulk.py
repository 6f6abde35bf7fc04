"""Bulk Data answers: family-doctor teams as FHIR Groups, and an export job's status manifest.

A Group is a team of the contract register (engine/store/contract_teams.py): ``actual`` persons, its members the
enterprise Patients (``Patient/<person id>``) of the residents contracted with it now. Only teams whose id is a
valid FHIR id are served (the registry's ``339901101-T01`` is).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection

from engine.store import contract_teams
from engine.store.bulk_exports import Job
from engine.store.contract_teams import Team
from engine.views.fhir import instant

_FHIR_ID = re.compile(r"^[A-Za-z0-9.-]{1,64}$")
# The FHIR tag of a resource sent without some of its elements (here: a Group in a search, without its members).
SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED"}


def group(team: Team, *, members: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Group",
        "id": team.team_id,
        "identifier": [
            {"system": f"urn:huitong:id:{system}:team", "value": team.team_id} for system in sorted(team.source_systems)
        ],
        "active": True,
        "type": "person",
        "actual": True,
        "code": {"text": "residents contracted with the family-doctor team (家庭医生签约居民)"},
        "name": team.name,
        "quantity": len(team.members),
    }
    if members:
        body["member"] = [{"entity": {"reference": f"Patient/{p}"}} for p in sorted(team.members)]
    else:
        body["meta"] = {"tag": [SUBSETTED]}
    return body


def groups(conn: Connection) -> list[dict[str, Any]]:
    """Every team as a Group without its members (a read gives them)."""
    return [group(t, members=False) for i, t in sorted(contract_teams.teams(conn).items()) if _FHIR_ID.match(i)]


def team(conn: Connection, group_id: str) -> Team | None:
    return contract_teams.teams(conn, group_id).get(group_id) if _FHIR_ID.match(group_id) else None


def searchset(base: str, found: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(found),
        "link": [{"relation": "self", "url": f"{base}/Group"}],
        "entry": [{"fullUrl": f"{base}/Group/{g['id']}", "resource": g, "search": {"mode": "match"}} for g in found],
    }


def manifest(job: Job, files: str) -> dict[str, Any]:
    """The complete job's manifest; ``files`` is the URL its file names are under."""
    return {
        "transactionTime": instant(job.transaction_time),
        "request": job.request,
        "requiresAccessToken": True,
        "output": [{"type": o["type"], "url": f"{files}/{o['name']}", "count": o["count"]} for o in job.output],
        "error": [],
    }


_BULK = "http://hl7.org/fhir/uv/bulkdata"
SYSTEM_OPERATIONS = [{"name": "export", "definition": f"{_BULK}/OperationDefinition/export"}]
PATIENT_OPERATIONS = [{"name": "export", "definition": f"{_BULK}/OperationDefinition/patient-export"}]
GROUP_CAPABILITY = {
    "type": "Group",
    "documentation": "family-doctor teams and their contracted residents; search takes no parameters",
    "interaction": [{"code": "read"}, {"code": "search-type"}],
    "operation": [{"name": "export", "definition": f"{_BULK}/OperationDefinition/group-export"}],
}

"""A contract as the unified health record holds it: the resident's Patient as the contracting system knows them,
the EpisodeOfCare (type family-doctor contract) with its CareTeam, and ``generalPractitioner`` while in force.

The same EpisodeOfCare and CareTeam the EMR gets (push.emr_resources), except that they point at the record's own
Patient (``Patient/resident``, which the record files under the enterprise person) instead of by identifier.
"""

from __future__ import annotations

from typing import Any

from engine.domain.mapping.result import MRN_TYPE, RESIDENT_ID_SYSTEM, Resource
from engine.domain.mpi import resident_id

from .model import Contract, Status
from .push import emr_resources, identifier_system

__all__ = ["PATIENT", "record_resources"]

PATIENT = "Patient/resident"
_V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
_GENDER = {"M": "male", "F": "female"}


def _patient(contract: Contract, practitioner: dict[str, Any] | None) -> dict[str, Any]:
    resident = contract.resident
    identifiers: list[dict[str, Any]] = [
        {
            "system": RESIDENT_ID_SYSTEM,
            "value": resident.resident_id,
            "type": {"coding": [{"system": _V2_0203, "code": "NNCHN"}]},
        }
    ]
    identifiers += [
        {
            "system": identifier_system(contract, local.system),
            "value": local.value,
            "type": {"coding": [{"system": _V2_0203, "code": MRN_TYPE}]},
        }
        for local in resident.local_ids
    ]
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": PATIENT.partition("/")[2],
        "identifier": identifiers,
        "name": [{"family": resident.name, "text": resident.name, "use": "official"}],
    }
    parsed = resident_id.parse(resident.resident_id)
    if parsed is not None and parsed.valid:  # sex and birth date as the number states them, for the MPI's checks
        patient["gender"] = _GENDER[parsed.sex or ""] if parsed.sex else "unknown"
        if parsed.birth_date:
            patient["birthDate"] = parsed.birth_date
    if practitioner is not None:
        patient["generalPractitioner"] = [practitioner]
    return patient


def record_resources(contract: Contract) -> list[Resource]:
    """The resources one contract version files in the record; keys are the contract's, so a new version of the
    contract replaces its own EpisodeOfCare and CareTeam, and the Patient is the contracting system's."""
    episode, team, *_ = emr_resources(contract)
    local = {"reference": PATIENT, "display": contract.resident.name}
    episode = {**episode, "patient": local}
    team = {**team, "subject": local}
    practitioner = episode["careManager"] if contract.status is Status.ACTIVE else None
    key = f"{contract.source_system}|{contract.contract_id}"
    return [
        Resource("contract", "", _patient(contract, practitioner)),
        Resource("contract", key, episode),
        Resource("contract", key, team),
    ]

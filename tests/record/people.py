"""Mapped messages built by hand, as the ADT mapping would produce them, for invented people."""

from __future__ import annotations

from typing import Any

from engine.domain.mapping.result import MRN_TYPE, RESIDENT_ID_SYSTEM, Event, Mapped, Resource
from engine.pipeline.record import Provenance

HIS = "his.county-people-hospital"
PHS = "phs.county"
HIS_MRN = "urn:oid:2.16.156.10011.0.1.his"
PHS_MRN = "urn:oid:2.16.156.10011.0.1.phs"


def resident(value: str) -> dict[str, Any]:
    return {"system": RESIDENT_ID_SYSTEM, "value": value}


def mrn(system: str, value: str) -> dict[str, Any]:
    return {"type": {"coding": [{"code": MRN_TYPE}]}, "system": system, "value": value}


def patient(*identifiers: dict[str, Any], **fields: Any) -> Resource:
    body = {"resourceType": "Patient", "id": "pat-1", "identifier": list(identifiers), **fields}
    return Resource("patient", "", body)


def encounter(key: str, start: str, display: str = "门诊", local: str = "enc-1") -> Resource:
    body = {
        "resourceType": "Encounter",
        "id": local,
        "status": "finished",
        "class": {"code": "AMB", "display": display},
        "subject": {"reference": "Patient/pat-1"},
        "period": {"start": start},
    }
    return Resource("encounter", key, body)


def condition(display: str, onset: str, key: str = "", local: str = "cond-1") -> Resource:
    body = {
        "resourceType": "Condition",
        "id": local,
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10", "display": display}]},
        "subject": {"reference": "Patient/pat-1"},
        "encounter": {"reference": "Encounter/enc-1"},
        "onsetDateTime": onset,
    }
    return Resource("condition", key, body)


def message(*resources: Resource, events: tuple[Event, ...] = (), mapping: str = "hl7v2/adt") -> Mapped:
    return Mapped(mapping, "1+3fa2c1d0", tuple(resources), events)


def merge(surviving: list[dict[str, Any]], retired: list[dict[str, Any]]) -> Event:
    return Event("patient.merge", {"surviving": surviving, "retired": retired})


def source(system: str, message_id: int, channel: str = "his-adt") -> Provenance:
    return Provenance(system, message_id, channel)


# 王建国: an invented resident of the county, known to the HIS and to the public-health system.
WANG_ID = "330781196803140016"
WANG_HIS = mrn(HIS_MRN, "H0012345")
WANG_PHS = mrn(PHS_MRN, "P-88001")
WANG_NAME = [{"text": "王建国", "family": "王", "given": ["建国"]}]
HIS_ADDRESS = [{"text": "浙江省金华市兰溪市兰江街道解放路18号"}]
PHS_ADDRESS = [{"text": "浙江省金华市兰溪市游埠镇洋港村3组"}]

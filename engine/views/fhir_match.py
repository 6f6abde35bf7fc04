"""``Patient/$match`` (FHIR R4 Patient-match): the MPI's candidates for a Patient, graded.

The request is a Parameters resource: ``resource`` (the Patient to match), ``onlyCertainMatches`` and ``count``.
The matching is the operator's ``huitong mpi search`` (engine/pipeline/mpi_search.py), handed in by the daemon:
blocked candidates and persons holding the phone and name, scored by the Fellegi–Sunter model after the
identity rules. Each match is the person's enterprise Patient with ``search.score`` (the model's probability,
1 or 0 where an identity rule decided) and the match-grade extension (the MPI's grade: certain, probable,
possible, certainly-not).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection

from engine.domain.mpi import features
from engine.domain.mpi.matcher import PersonScore
from engine.domain.record.precedence import Rules
from engine.views.fhir import BadRequest
from engine.views.fhir_patient import merged_patient

MATCH_GRADE = "http://hl7.org/fhir/StructureDefinition/match-grade"
DEFAULT_COUNT = 10


@dataclass(frozen=True, slots=True)
class MatchRequest:
    row: dict[str, Any]  # the MPI's features of the Patient
    only_certain: bool
    count: int


def request(body: bytes, max_count: int) -> MatchRequest:
    """The Parameters of a $match POST, checked: each refusal names the parameter."""
    try:
        parameters = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is no JSON: {exc}") from None
    if not isinstance(parameters, dict) or parameters.get("resourceType") != "Parameters":
        raise BadRequest("the body must be a Parameters resource (resource, onlyCertainMatches, count)")
    given: dict[str, Any] = {}
    listed = parameters.get("parameter") or []
    if not isinstance(listed, list):
        raise BadRequest("parameter: a list of the parameters resource, onlyCertainMatches, count")
    for p in listed:
        name = p.get("name") if isinstance(p, dict) else None
        if name not in ("resource", "onlyCertainMatches", "count"):
            raise BadRequest(f"parameter {name!r} is not one of $match's: resource, onlyCertainMatches, count")
        if name in given:
            raise BadRequest(f"parameter {name} is given twice")
        given[name] = p
    patient = given.get("resource", {}).get("resource")
    if not isinstance(patient, dict) or patient.get("resourceType") != "Patient":
        raise BadRequest("parameter resource: a Patient resource is required")
    only = given.get("onlyCertainMatches", {}).get("valueBoolean", False)
    count = given.get("count", {}).get("valueInteger", DEFAULT_COUNT)
    if not isinstance(only, bool):
        raise BadRequest("parameter onlyCertainMatches: a valueBoolean")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= max_count:
        raise BadRequest(f"parameter count: a valueInteger from 1 to {max_count}")
    try:
        row = features.from_patient(patient)
    except (AttributeError, TypeError, LookupError):  # a list where an object belongs, or the other way round
        raise BadRequest("parameter resource: the Patient's identifier, name, telecom or address is no FHIR") from None
    if not any(row.get(c) for c in ("id_raw", "name", "phone")):
        raise BadRequest("parameter resource: the Patient needs a resident ID, a name or a phone to match by")
    return MatchRequest(row, only, count)


def bundle(
    conn: Connection, base: str, scores: Sequence[PersonScore], asked: MatchRequest, precedence: Mapping[str, Rules]
) -> dict[str, Any]:
    """The searchset Bundle: best first; with onlyCertainMatches, the one certain match or nothing (FHIR: no
    results when several could be it)."""
    chosen = list(scores[: asked.count])
    if asked.only_certain:
        certain = [s for s in scores if s.grade_name == "certain"]
        chosen = certain if len(certain) == 1 else []
    entries = [
        {
            "fullUrl": f"{base}/Patient/{s.person_id}",
            "resource": merged_patient(conn, s.person_id, precedence),
            "search": {
                "extension": [{"url": MATCH_GRADE, "valueCode": s.grade_name}],
                "mode": "match",
                "score": round(s.probability, 6),
            },
        }
        for s in chosen
    ]
    return {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}

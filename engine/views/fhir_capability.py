"""The CapabilityStatement: exactly the interactions and search parameters engine/views/fhir.py serves."""

from __future__ import annotations

from typing import Any

from engine.domain import fhir_search
from engine.views import fhir_bulk
from engine.views.fhir import PER_PATIENT, TYPES
from engine.views.fhir_audit import SEARCH_PARAMETERS as AUDIT_PARAMETERS

_COMMON = [
    {"name": "_id", "type": "token"},
    {"name": "_lastUpdated", "type": "date", "documentation": "when the version was recorded"},
    {"name": "_count", "type": "number", "documentation": "page size"},
    {"name": "_offset", "type": "number", "documentation": "the page's first match (the next link sets it)"},
    {"name": "_sort", "type": "special", "documentation": "_id, _lastUpdated or a date parameter; - for descending"},
    {"name": "_summary", "type": "special", "documentation": "true, text, data, count or false"},
    {"name": "_elements", "type": "special", "documentation": "top-level elements to answer"},
]

_AUDIT_EVENT = {  # the trail of reads (engine/views/fhir_audit.py): needs <context>/AuditEvent.read
    "type": "AuditEvent",
    "interaction": [{"code": "read"}, {"code": "search-type"}],
    "searchParam": [*({"name": n, "type": t} for n, t in AUDIT_PARAMETERS.items()), *_COMMON[2:4]],
}


def _references(kind: str) -> list[str]:
    return [f"{kind}:{name}" for name, t in fhir_search.PARAMETERS[kind].items() if t == "reference"]


# The enterprise Patient's operations (views/fhir_patient.py, views/fhir_match.py), and Provenance
# (views/fhir_provenance.py).
_PATIENT_OPERATIONS = {
    "operation": [
        {"name": "everything", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything"},
        {"name": "match", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-match"},
        *fhir_bulk.PATIENT_OPERATIONS,
    ]
}
_TASK = {
    "type": "Task",
    "documentation": "care tasks (the family doctor's worklist), recomputed by the care loop: no versions",
    "interaction": [{"code": "read"}, {"code": "search-type"}],
    "searchParam": [
        {"name": "patient", "type": "reference"},
        {"name": "status", "type": "token"},
        {"name": "code", "type": "token", "documentation": "the care rule"},
        {"name": "_id", "type": "token"},
        *_COMMON[2:4],
    ],
}
_PROVENANCE = {
    "type": "Provenance",
    "interaction": [{"code": "read"}, {"code": "search-type"}],
    "searchParam": [{"name": "target", "type": "reference", "documentation": "Type/id or Type/id/_history/n"}],
}


def capability_statement(base: str) -> dict[str, Any]:
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-12-06",
        "kind": "instance",
        "software": {"name": "Huitong"},
        "implementation": {"description": "the unified health record, read-only", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "resource": [
                    {
                        "type": kind,
                        "interaction": [{"code": c} for c in ("read", "vread", "history-instance", "search-type")],
                        "versioning": "versioned",
                        "readHistory": True,
                        "searchParam": [
                            *({"name": name, "type": param_type} for name, param_type in params.items()),
                            *([{"name": "patient", "type": "reference"}] if kind in PER_PATIENT else []),
                            *_COMMON,
                        ],
                        "searchInclude": _references(kind),
                        "searchRevInclude": [r for other in TYPES for r in _references(other)],
                        **(_PATIENT_OPERATIONS if kind == "Patient" else {}),
                    }
                    for kind, params in ((k, fhir_search.PARAMETERS[k]) for k in TYPES)
                ]
                + [_TASK, _PROVENANCE, _AUDIT_EVENT, fhir_bulk.GROUP_CAPABILITY],
                "operation": fhir_bulk.SYSTEM_OPERATIONS,
            }
        ],
    }

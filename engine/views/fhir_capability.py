"""The CapabilityStatement: exactly the interactions and search parameters engine/views/fhir.py serves."""

from __future__ import annotations

from typing import Any

from engine.domain import fhir_search
from engine.views import fhir_bulk
from engine.views.fhir import PER_PATIENT, TYPES

_PAGING = [
    {"name": "_count", "type": "number", "documentation": "page size"},
    {"name": "_offset", "type": "number", "documentation": "the page's first match (the next link sets it)"},
]


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
                            *_PAGING,
                        ],
                        **({"operation": fhir_bulk.PATIENT_OPERATIONS} if kind == "Patient" else {}),
                    }
                    for kind, params in ((k, fhir_search.PARAMETERS[k]) for k in TYPES)
                ]
                + [fhir_bulk.GROUP_CAPABILITY],
                "operation": fhir_bulk.SYSTEM_OPERATIONS,
            }
        ],
    }

"""The CapabilityStatement: exactly the interactions and search parameters engine/views/fhir.py serves."""

from __future__ import annotations

from typing import Any

from engine.domain import fhir_search
from engine.views.fhir import PER_PATIENT, TYPES
from engine.views.fhir_audit import SEARCH_PARAMETERS as AUDIT_PARAMETERS

_PAGING = [
    {"name": "_count", "type": "number", "documentation": "page size"},
    {"name": "_offset", "type": "number", "documentation": "the page's first match (the next link sets it)"},
]

_AUDIT_EVENT = {  # the trail of reads (engine/views/fhir_audit.py): needs <context>/AuditEvent.read
    "type": "AuditEvent",
    "interaction": [{"code": "read"}, {"code": "search-type"}],
    "searchParam": [*({"name": n, "type": t} for n, t in AUDIT_PARAMETERS.items()), *_PAGING],
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
                            *_PAGING,
                        ],
                    }
                    for kind, params in ((k, fhir_search.PARAMETERS[k]) for k in TYPES)
                ]
                + [_AUDIT_EVENT],
            }
        ],
    }

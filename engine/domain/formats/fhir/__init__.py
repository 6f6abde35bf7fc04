"""FHIR R4 JSON as it arrives from outside: checked enough to journal it with a type, an id and, when refused,
a reason that names the field (``entry[3].resource: missing resourceType``), never a value.

Deeper validation (profiles, cardinalities) belongs to the mapping stage; here we only make sure the payload is
a FHIR resource or Bundle a later stage can read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = [
    "BUNDLE_TYPES",
    "MAX_FHIR_BYTES",
    "FhirError",
    "FhirPayload",
    "bundle_resources",
    "operation_outcome",
    "read_fhir",
    "read_resource",
]

MAX_FHIR_BYTES = 20 * 1024 * 1024
BUNDLE_TYPES = frozenset({"transaction", "batch", "collection", "searchset"})
_TYPE = re.compile(r"^[A-Z][A-Za-z]{1,63}$")


class FhirError(ValueError):
    """Why a FHIR payload was refused; names field paths, never values from the payload."""


@dataclass(frozen=True, slots=True)
class FhirPayload:
    resource: dict[str, Any]
    message_type: str  # resourceType, or "Bundle^<type>"
    control_id: str  # resource id, or the Bundle's id or identifier value; "" when it has none


def _check_resource(value: Any, where: str) -> dict[str, Any]:
    prefix = f"{where}: " if where else ""
    if not isinstance(value, dict):
        raise FhirError(f"{prefix}expected a JSON object (a FHIR resource), got {_kind(value)}")
    kind = value.get("resourceType")
    if kind is None:
        raise FhirError(f"{prefix}missing resourceType")
    if not isinstance(kind, str) or not _TYPE.match(kind):
        raise FhirError(f"{prefix}resourceType must be a resource type name such as Patient")
    return value


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(type(value), "a number")


def read_resource(resource: Any, where: str = "") -> dict[str, Any]:
    """``resource`` if it is a JSON object with a resourceType (a Bundle's entries are checked too)."""
    found = _check_resource(resource, where)
    if found["resourceType"] != "Bundle":
        return found
    prefix = f"{where}." if where else ""
    entries = found.get("entry", [])
    if not isinstance(entries, list):
        raise FhirError(f"{prefix}entry: expected an array, got {_kind(entries)}")
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise FhirError(f"{prefix}entry[{i}]: expected an object, got {_kind(entry)}")
        request = entry.get("request", {})
        method = request.get("method") if isinstance(request, dict) else None
        if "resource" not in entry and method == "DELETE":
            continue  # a transaction's delete carries no resource
        if "resource" not in entry:
            raise FhirError(f"{prefix}entry[{i}]: missing resource")
        _check_resource(entry["resource"], f"{prefix}entry[{i}].resource")
    return found


def read_fhir(data: bytes, *, max_bytes: int = MAX_FHIR_BYTES) -> FhirPayload:
    """The payload's resource, type and control id; raises FhirError for anything a later stage cannot read."""
    if len(data) > max_bytes:
        raise FhirError(f"FHIR payload of {len(data)} bytes exceeds the limit of {max_bytes} bytes")
    if not data.strip():
        raise FhirError("empty FHIR payload")
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise FhirError(f"invalid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    resource = read_resource(value)
    kind = resource["resourceType"]
    if kind == "Bundle":
        bundle_type = resource.get("type")
        if bundle_type not in BUNDLE_TYPES:
            got = f"'{bundle_type}'" if isinstance(bundle_type, str) else "missing"
            raise FhirError(f"type: expected one of {', '.join(sorted(BUNDLE_TYPES))}, got {got}")
        return FhirPayload(resource, f"Bundle^{bundle_type}", _bundle_id(resource))
    return FhirPayload(resource, kind, _text(resource.get("id")))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _bundle_id(bundle: dict[str, Any]) -> str:
    if _text(bundle.get("id")):
        return str(bundle["id"])
    identifier = bundle.get("identifier")
    return _text(identifier.get("value")) if isinstance(identifier, dict) else ""


def bundle_resources(resource: dict[str, Any]) -> list[dict[str, Any]]:
    """The resources of a Bundle's entries (search outcomes left out), or the resource itself."""
    if resource.get("resourceType") != "Bundle":
        return [resource]
    out = []
    for entry in resource.get("entry", []):
        found = entry.get("resource")
        mode = entry.get("search", {}).get("mode") if isinstance(entry.get("search"), dict) else None
        if isinstance(found, dict) and mode != "outcome":
            out.append(found)
    return out


def operation_outcome(severity: str, code: str, diagnostics: str) -> dict[str, Any]:
    """An OperationOutcome with one issue: how a FHIR server explains an answer."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}],
    }

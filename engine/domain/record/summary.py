"""How the record reads to a person: sections of the 360° view, a date and one line of text per resource."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# (section, resource types), in the order the view shows them
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("encounters", ("Encounter",)),
    ("problems", ("Condition",)),
    ("medications", ("MedicationRequest", "MedicationStatement")),
    ("allergies", ("AllergyIntolerance",)),
    ("results", ("DiagnosticReport", "Observation")),
    ("immunizations", ("Immunization",)),
    ("referrals and orders", ("ServiceRequest",)),
    ("care plans and episodes", ("CarePlan", "EpisodeOfCare")),
)
# Demographics in the order people read them; other fields follow alphabetically.
DEMOGRAPHICS = (
    "name",
    "gender",
    "birthDate",
    "identifier",
    "telecom",
    "address",
    "maritalStatus",
    "generalPractitioner",
)
SECTION_OF = {kind: name for name, kinds in SECTIONS for kind in kinds}

# Where each type keeps the time the fact is about; the first present wins.
_DATES = (
    "period.start",
    "effectiveDateTime",
    "effectivePeriod.start",
    "occurrenceDateTime",
    "onsetDateTime",
    "onsetPeriod.start",
    "authoredOn",
    "issued",
    "recordedDate",
    "dateAsserted",
    "created",
)
_CONCEPTS = ("code", "medicationCodeableConcept", "vaccineCode", "type", "class", "category")


def demographic_order(fields: list[str]) -> list[str]:
    known = [f for f in DEMOGRAPHICS if f in fields]
    return known + sorted(f for f in fields if f not in DEMOGRAPHICS)


def _path(body: Mapping[str, Any], path: str) -> Any:
    value: Any = body
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def when(body: Mapping[str, Any]) -> str:
    """The date (FHIR dateTime text) the resource is about, or "" when it has none."""
    return next((str(v) for v in (_path(body, p) for p in _DATES) if v), "")


def concept(value: Any) -> str:
    """Readable text of a CodeableConcept or Coding (text, else the first display, else code)."""
    if isinstance(value, list):
        return "; ".join(t for t in (concept(v) for v in value) if t)
    if not isinstance(value, Mapping):
        return "" if value is None else str(value)
    if value.get("text"):
        return str(value["text"])
    if value.get("display"):
        return str(value["display"])
    for coding in value.get("coding") or ():
        text = coding.get("display") or coding.get("code")
        if text:
            return str(text)
    return str(value.get("code") or "")


def _quantity(value: Mapping[str, Any]) -> str:
    return f"{value.get('value', '')} {value.get('unit') or value.get('code') or ''}".strip()


def what(body: Mapping[str, Any]) -> str:
    """One line: the resource's code display, with an observation's value and an encounter's class."""
    text = next((t for t in (concept(body.get(k)) for k in _CONCEPTS) if t), body.get("resourceType", ""))
    if body.get("resourceType") == "Encounter" and body.get("type") and body.get("class"):
        text = f"{concept(body['class'])} · {text}"
    if "valueQuantity" in body:
        text += f" = {_quantity(body['valueQuantity'])}"
    elif "valueString" in body:
        text += f" = {body['valueString']}"
    elif "valueCodeableConcept" in body:
        text += f" = {concept(body['valueCodeableConcept'])}"
    return text


def describe(value: Any) -> str:
    """A demographic value as text: names, addresses, contact points, identifiers, concepts, references."""
    if isinstance(value, list):
        return "; ".join(describe(v) for v in value)
    if not isinstance(value, Mapping):
        return str(value)
    if "family" in value or "given" in value:  # HumanName
        return str(value.get("text") or (value.get("family", "") + "".join(value.get("given") or ())))
    if "line" in value or "city" in value or "district" in value:  # Address
        parts = [value.get(k) for k in ("state", "city", "district")] + list(value.get("line") or ())
        return str(value.get("text") or "".join(p for p in parts if p))
    if "system" in value and "value" in value:
        system = str(value["system"])
        # an Identifier's system is a URI; a ContactPoint's is a word (phone, email)
        return f"{system}|{value['value']}" if ":" in system else f"{system} {value['value']}"
    if "reference" in value:
        return str(value.get("display") or value["reference"])
    return concept(value) or str(value.get("text", ""))

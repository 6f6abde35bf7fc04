"""Reading the few facts care rules need out of FHIR R4 dicts, whatever system sent them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime
from functools import lru_cache
from typing import Any

Resource = Mapping[str, Any]

# Where each resource type keeps the date the fact is about; the first present wins.
_DATE_FIELDS = (
    ("effectiveDateTime",),
    ("effectivePeriod", "start"),
    ("period", "start"),
    ("occurrenceDateTime",),
    ("performedDateTime",),
    ("performedPeriod", "start"),
    ("onsetDateTime",),
    ("recordedDate",),
    ("issued",),
    ("authoredOn",),
)
# FHIR mg/dL -> mmol/L for glucose; the only conversion the rules need so far.
_GLUCOSE_MG_DL_TO_MMOL_L = 1 / 18.016


@lru_cache(maxsize=8192)
def parse_date(text: Any) -> date | None:
    """A FHIR date or dateTime as a calendar date; partial dates (2026, 2026-05) take the first day.

    Cached: the rules read the same few dates of a person's record many times over in one task refresh. A text
    that is no date (another system's FHIR may hold 2017-02-29, or a number) is None: the fact has no date to go by."""
    if not isinstance(text, str) or not text:
        return None
    try:
        if len(text) == 4:
            return date(int(text), 1, 1)
        if len(text) == 7:
            return date(int(text[:4]), int(text[5:7]), 1)
        if len(text) == 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        return None


def when(resource: Resource) -> date | None:
    """The date the resource is about: when measured, met, given or recorded."""
    for path in _DATE_FIELDS:
        value: Any = resource
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, str):
            return parse_date(value)
    return None


def sort_key(resource: Resource) -> str:
    """Full timestamp text for ordering readings within one day (ISO text sorts in time order)."""
    for path in _DATE_FIELDS:
        value: Any = resource
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, str):
            return value
    return ""


def codes(concept: Any) -> list[str]:
    """Every code in a CodeableConcept (or a list of them), system ignored: local and national codes mix."""
    concepts = concept if isinstance(concept, list) else [concept]
    return [c["code"] for cc in concepts if isinstance(cc, dict) for c in cc.get("coding", []) if c.get("code")]


def texts(concept: Any) -> list[str]:
    """The text and displays of a CodeableConcept (or list): local systems often only agree on words."""
    concepts = concept if isinstance(concept, list) else [concept]
    out = []
    for cc in concepts:
        if not isinstance(cc, dict):
            continue
        out.extend([cc["text"]] if cc.get("text") else [])
        out.extend(c["display"] for c in cc.get("coding", []) if c.get("display"))
    return out


def ref(resource: Resource) -> str:
    """`Type/id`, the form references take."""
    return f"{resource.get('resourceType')}/{resource.get('id')}"


def of_type(resources: Iterator[Resource] | list[Resource], kind: str) -> list[Resource]:
    return [r for r in resources if r.get("resourceType") == kind]


def age_in_years(birth: date, on: date) -> int:
    """Completed years, as the specification counts age (a child is '6' until the 7th birthday)."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def quantity(value: Any, unit_to: str | None = None) -> float | None:
    """A valueQuantity as a number in `unit_to`, converting glucose mg/dL when asked for mmol/L."""
    if not isinstance(value, dict) or not isinstance(value.get("value"), int | float):
        return None
    number = float(value["value"])
    unit = value.get("code") or value.get("unit")
    if unit_to == "mmol/L" and unit == "mg/dL":
        return round(number * _GLUCOSE_MG_DL_TO_MMOL_L, 2)
    return number

"""The FHIR search parameters of a resource, as the rows of the search index (pure: no store, no clock).

The index is kept at write time, one table per parameter type as HAPI FHIR's JPA server does, so a search is an
index lookup and never a scan of JSON. ``patient`` is no row here: every resource of the record already carries
its enterprise person (record_resources.person_id, indexed and re-pointed by merges).

``SEARCH`` names each served type's parameters after FHIR R4's own (their names, types and element paths), so a
stock client's query means here what it means on any R4 server. A path is dotted; ``x[x]`` is a choice element
(``effective[x]``: effectiveDateTime, effectivePeriod, ...); lists are followed at every step.

Names are indexed in the MPI's forms (domain/mpi/names.py): the one written form (simplified characters,
Latin upper-case) and the toneless pinyin key, each for the whole name and for the given name, so 張偉, 张伟,
"Zhang Wei" and "伟" find the same Patient. A search value is normalised by the same functions (`name_forms`).

Dates are indexed as the range they cover (low, high), written "YYYY-MM-DDTHH:MM:SS" as stated (the offset is
dropped: the county's sources all write local time), so "1968" covers the whole year; the text sorts as time.
Quantities are indexed as (system, code, value); references as the "Type/id" they point at, after the record
gave the message's local ids their stored ones.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.domain.mpi import names


@dataclass(frozen=True, slots=True)
class Param:
    """One search parameter: its FHIR type and the element paths it indexes."""

    kind: str  # token | string | date | quantity | reference
    paths: tuple[str, ...]


def _p(kind: str, *paths: str) -> Param:
    return Param(kind, paths)


_SUBJECT = {"subject": _p("reference", "subject"), "encounter": _p("reference", "encounter")}

# type -> parameter -> Param: what the index holds, and so what a search may ask (the CapabilityStatement's list)
SEARCH: dict[str, dict[str, Param]] = {
    "Patient": {
        "identifier": _p("token", "identifier"),
        "name": _p("string", "name"),
        "birthdate": _p("date", "birthDate"),
        "gender": _p("token", "gender"),
        "phone": _p("token", "telecom"),
        "telecom": _p("token", "telecom"),
        "address": _p("string", "address"),
        "general-practitioner": _p("reference", "generalPractitioner"),
    },
    "Observation": {
        "code": _p("token", "code"),
        "category": _p("token", "category"),
        "status": _p("token", "status"),
        "date": _p("date", "effective[x]"),
        "value-quantity": _p("quantity", "valueQuantity"),
        **_SUBJECT,
    },
    "Condition": {
        "code": _p("token", "code"),
        "category": _p("token", "category"),
        "clinical-status": _p("token", "clinicalStatus"),
        "onset-date": _p("date", "onset[x]"),
        "recorded-date": _p("date", "recordedDate"),
        **_SUBJECT,
    },
    "Encounter": {
        "type": _p("token", "type"),
        "class": _p("token", "class"),
        "status": _p("token", "status"),
        "date": _p("date", "period"),
        "subject": _p("reference", "subject"),
        "service-provider": _p("reference", "serviceProvider"),
    },
    "DiagnosticReport": {
        "code": _p("token", "code"),
        "category": _p("token", "category"),
        "status": _p("token", "status"),
        "date": _p("date", "effective[x]"),
        "result": _p("reference", "result"),
        **_SUBJECT,
    },
    "MedicationRequest": {
        "code": _p("token", "medicationCodeableConcept"),
        "status": _p("token", "status"),
        "intent": _p("token", "intent"),
        "authoredon": _p("date", "authoredOn"),
        **_SUBJECT,
    },
    "MedicationDispense": {
        "code": _p("token", "medicationCodeableConcept"),
        "status": _p("token", "status"),
        "whenhandedover": _p("date", "whenHandedOver"),
        "prescription": _p("reference", "authorizingPrescription"),
        "subject": _p("reference", "subject"),
    },
    "MedicationAdministration": {
        "code": _p("token", "medicationCodeableConcept"),
        "status": _p("token", "status"),
        "effective-time": _p("date", "effective[x]"),
        "request": _p("reference", "request"),
        "subject": _p("reference", "subject"),
    },
    "Immunization": {
        "vaccine-code": _p("token", "vaccineCode"),
        "status": _p("token", "status"),
        "date": _p("date", "occurrence[x]"),
    },
    "AllergyIntolerance": {
        "code": _p("token", "code"),
        "category": _p("token", "category"),
        "clinical-status": _p("token", "clinicalStatus"),
        "date": _p("date", "recordedDate"),
    },
    "Procedure": {
        "code": _p("token", "code"),
        "status": _p("token", "status"),
        "date": _p("date", "performed[x]"),
        **_SUBJECT,
    },
    "ServiceRequest": {
        "code": _p("token", "code"),
        "category": _p("token", "category"),
        "status": _p("token", "status"),
        "intent": _p("token", "intent"),
        "authored": _p("date", "authoredOn"),
        "requisition": _p("token", "requisition"),
        **_SUBJECT,
    },
    "DocumentReference": {
        "type": _p("token", "type"),
        "category": _p("token", "category"),
        "status": _p("token", "status"),
        "date": _p("date", "date"),
        "subject": _p("reference", "subject"),
    },
    "EpisodeOfCare": {
        "type": _p("token", "type"),
        "status": _p("token", "status"),
        "date": _p("date", "period"),
        "care-manager": _p("reference", "careManager"),
        "organization": _p("reference", "managingOrganization"),
    },
    "CareTeam": {
        "category": _p("token", "category"),
        "status": _p("token", "status"),
        "date": _p("date", "period"),
        "participant": _p("reference", "participant.member"),
        "subject": _p("reference", "subject"),
    },
    "Appointment": {
        "service-type": _p("token", "serviceType"),
        "status": _p("token", "status"),
        "date": _p("date", "start"),
        "actor": _p("reference", "participant.actor"),
    },
    "Specimen": {
        "type": _p("token", "type"),
        "status": _p("token", "status"),
        "collected": _p("date", "collection.collected[x]"),
        "subject": _p("reference", "subject"),
    },
}
PARAMETERS: dict[str, dict[str, str]] = {kind: {n: p.kind for n, p in ps.items()} for kind, ps in SEARCH.items()}

_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?)?)?")
_REFERENCE = re.compile(r"^[A-Z][A-Za-z]+/[^/]+$")


@dataclass(slots=True)
class Entries:
    """One resource's index rows: tokens (param, system, value), strings (param, value), dates (param, low, high),
    quantities (param, system, code, value), references (param, "Type/id")."""

    tokens: set[tuple[str, str, str]] = field(default_factory=set)
    strings: set[tuple[str, str]] = field(default_factory=set)
    dates: set[tuple[str, str, str]] = field(default_factory=set)
    quantities: set[tuple[str, str, str, float]] = field(default_factory=set)
    references: set[tuple[str, str]] = field(default_factory=set)


def date_range(text: str) -> tuple[str, str] | None:
    """The instants a FHIR date, dateTime or instant covers, at its precision; None when it is no date."""
    m = _DATE.match(text or "")
    if m is None:
        return None
    year, month, day, hour, minute, second = m.groups()
    try:
        if month is None:
            return f"{year}-01-01T00:00:00", f"{year}-12-31T23:59:59"
        last = calendar.monthrange(int(year), int(month))[1]
        if not 1 <= int(month) <= 12 or (day is not None and not 1 <= int(day) <= last):
            return None
    except (ValueError, calendar.IllegalMonthError):
        return None
    if day is None:
        return f"{year}-{month}-01T00:00:00", f"{year}-{month}-{last:02d}T23:59:59"
    if hour is None:
        return f"{year}-{month}-{day}T00:00:00", f"{year}-{month}-{day}T23:59:59"
    if int(hour) > 23 or int(minute) > 59 or int(second or 0) > 59:
        return None
    if second is None:
        return f"{year}-{month}-{day}T{hour}:{minute}:00", f"{year}-{month}-{day}T{hour}:{minute}:59"
    instant = f"{year}-{month}-{day}T{hour}:{minute}:{second}"
    return instant, instant


def name_forms(text: str) -> set[str]:
    """The forms a name is indexed and searched under: its written form and its pinyin key."""
    return {form for form in (names.clean(text), names.pinyin_key(text)) if form}


def string_forms(param: str, text: str) -> set[str]:
    """The forms a string search value is compared in: a name's as `name_forms`, any other string's written form."""
    if param == "name":
        return name_forms(text)
    written = names.clean(text)
    return {written} if written else set()


def phone(value: str) -> str:
    """A phone number as digits only, so "138-0000 1234" and "13800001234" meet."""
    return "".join(ch for ch in value if ch.isdigit())


def entries(body: dict[str, Any], ids: Mapping[str, str] | None = None) -> Entries:
    """The index rows of one resource (a type without parameters has none). ``ids`` gives the stored "Type/id"
    of a reference the message wrote with its local id (the record's rewrite of the body)."""
    out = Entries()
    for name, param in SEARCH.get(str(body.get("resourceType")), {}).items():
        for value in (v for path in param.paths for v in _at(body, path.split("."))):
            _INDEX[param.kind](out, name, value, ids or {})
    return out


def _at(node: Any, steps: list[str]) -> Iterator[Any]:
    """The values at a dotted path, following lists; ``x[x]`` yields every xSomething present."""
    if isinstance(node, list):
        for item in node:
            yield from _at(item, steps)
        return
    if not steps:
        if node is not None and node != "":
            yield node
        return
    if not isinstance(node, dict):
        return
    step, rest = steps[0], steps[1:]
    if step.endswith("[x]"):
        stem = step[:-3]
        for key, value in node.items():
            if key.startswith(stem) and key[len(stem) : len(stem) + 1].isupper():
                yield from _at(value, rest)
    else:
        yield from _at(node.get(step), rest)


def _token(out: Entries, name: str, value: Any, ids: Mapping[str, str]) -> None:
    if isinstance(value, (str, bool)):
        out.tokens.add((name, "", str(value).lower() if isinstance(value, bool) else value))
    elif isinstance(value, dict) and "coding" in value:
        for coding in value.get("coding") or []:
            _token(out, name, coding, ids)
    elif isinstance(value, dict) and value.get("code"):  # a Coding
        out.tokens.add((name, str(value.get("system") or ""), str(value["code"])))
    elif isinstance(value, dict) and value.get("value"):  # an Identifier or a ContactPoint
        system, text = str(value.get("system") or ""), str(value["value"])
        if name == "phone":
            if system == "phone":
                out.tokens.add((name, "", phone(text)))
        else:
            out.tokens.add((name, system, phone(text) if system == "phone" else text))


def _string(out: Entries, name: str, value: Any, ids: Mapping[str, str]) -> None:
    if isinstance(value, str):
        out.strings.update((name, form) for form in string_forms(name, value))
    elif name == "name" and isinstance(value, dict):  # a HumanName: whole, as parts, and the given name alone
        given = "".join(str(g) for g in value.get("given") or [])
        written = str(value.get("text") or f"{value.get('family') or ''}{given}")
        for text in (written, names.split(written)[1], given):
            out.strings.update((name, form) for form in name_forms(text))
    elif isinstance(value, dict):  # an Address: its text and each part, so a search by district or town finds it
        parts = [value.get("text"), *(value.get("line") or []), value.get("city"), value.get("district")]
        for text in [*parts, value.get("state"), value.get("postalCode")]:
            if text:
                out.strings.update((name, form) for form in string_forms(name, str(text)))


def _date(out: Entries, name: str, value: Any, ids: Mapping[str, str]) -> None:
    if isinstance(value, str):
        covered = date_range(value)
        if covered is not None:
            out.dates.add((name, *covered))
    elif isinstance(value, dict) and ("start" in value or "end" in value):  # a Period
        start = date_range(str(value.get("start") or ""))
        end = date_range(str(value.get("end") or ""))
        if start or end:
            # An open end is "still going": the index holds it as far as time goes.
            out.dates.add((name, start[0] if start else "0000", end[1] if end else "9999"))


def _quantity(out: Entries, name: str, value: Any, ids: Mapping[str, str]) -> None:
    number = value.get("value") if isinstance(value, dict) else None
    if isinstance(number, (int, float)) and not isinstance(number, bool):
        code = str(value.get("code") or value.get("unit") or "")
        out.quantities.add((name, str(value.get("system") or ""), code, float(number)))


def _reference(out: Entries, name: str, value: Any, ids: Mapping[str, str]) -> None:
    target = value.get("reference") if isinstance(value, dict) else None
    if isinstance(target, str) and _REFERENCE.match(target):
        out.references.add((name, ids.get(target, target)))


_INDEX = {"token": _token, "string": _string, "date": _date, "quantity": _quantity, "reference": _reference}

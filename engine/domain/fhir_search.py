"""The FHIR search parameters of a resource, as the rows of the search index (pure: no store, no clock).

The index is kept at write time, one table per parameter type as HAPI FHIR's JPA server does, so a search is an
index lookup and never a scan of JSON. ``patient`` is no row here: every resource of the record already carries
its enterprise person (record_resources.person_id, indexed and re-pointed by merges).

Names are indexed in the MPI's forms (domain/mpi/names.py): the one written form (simplified characters,
Latin upper-case) and the toneless pinyin key, each for the whole name and for the given name, so 張偉, 张伟,
"Zhang Wei" and "伟" find the same Patient. A search value is normalised by the same functions (`name_forms`).

Dates are indexed as the range they cover (low, high), written "YYYY-MM-DDTHH:MM:SS" as stated (the offset is
dropped: the county's sources all write local time), so "1968" covers the whole year; the text sorts as time.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from typing import Any

from engine.domain.mpi import names

# type -> parameter -> kind: what the index holds, and so what a search may ask (the CapabilityStatement's list)
PARAMETERS: dict[str, dict[str, str]] = {
    "Patient": {
        "identifier": "token",
        "name": "string",
        "birthdate": "date",
        "gender": "token",
        "phone": "token",
        "telecom": "token",
    },
    "Observation": {"code": "token", "date": "date"},
    "Condition": {"code": "token", "onset-date": "date"},
    "Encounter": {"type": "token", "date": "date"},
}

_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?)?)?")


@dataclass(slots=True)
class Entries:
    """One resource's index rows: tokens (param, system, value), strings (param, value), dates (param, low, high)."""

    tokens: set[tuple[str, str, str]] = field(default_factory=set)
    strings: set[tuple[str, str]] = field(default_factory=set)
    dates: set[tuple[str, str, str]] = field(default_factory=set)


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


def phone(value: str) -> str:
    """A phone number as digits only, so "138-0000 1234" and "13800001234" meet."""
    return "".join(ch for ch in value if ch.isdigit())


def entries(body: dict[str, Any]) -> Entries:
    """The index rows of one resource (a resource of a type without parameters has none)."""
    out = Entries()
    kind = body.get("resourceType")
    if kind == "Patient":
        _patient(body, out)
    elif kind == "Observation":
        _codes(out, "code", body.get("code"))
        _date(out, "date", body, "effective")
    elif kind == "Condition":
        _codes(out, "code", body.get("code"))
        _date(out, "onset-date", body, "onset")
    elif kind == "Encounter":
        for concept in body.get("type") or []:
            _codes(out, "type", concept)
        _period(out, "date", body.get("period"))
    return out


def _patient(body: dict[str, Any], out: Entries) -> None:
    for ident in body.get("identifier") or []:
        if isinstance(ident, dict) and ident.get("value"):
            out.tokens.add(("identifier", ident.get("system") or "", str(ident["value"])))
    for name in body.get("name") or []:
        if not isinstance(name, dict):
            continue
        given = "".join(str(g) for g in name.get("given") or [])
        written = name.get("text") or f"{name.get('family') or ''}{given}"
        for text in (str(written), names.split(str(written))[1], given):
            out.strings.update(("name", form) for form in name_forms(text))
    if body.get("gender"):
        out.tokens.add(("gender", "", str(body["gender"])))
    if body.get("birthDate"):
        _range(out, "birthdate", str(body["birthDate"]))
    for point in body.get("telecom") or []:
        if not isinstance(point, dict) or not point.get("value"):
            continue
        system, value = point.get("system") or "", str(point["value"])
        if system == "phone":
            value = phone(value)
            out.tokens.add(("phone", "", value))
        out.tokens.add(("telecom", system, value))


def _codes(out: Entries, param: str, concept: Any) -> None:
    if isinstance(concept, dict):
        for coding in concept.get("coding") or []:
            if isinstance(coding, dict) and coding.get("code"):
                out.tokens.add((param, coding.get("system") or "", str(coding["code"])))


def _date(out: Entries, param: str, body: dict[str, Any], prefix: str) -> None:
    for suffix in ("DateTime", "Instant"):
        if body.get(prefix + suffix):
            _range(out, param, str(body[prefix + suffix]))
    _period(out, param, body.get(prefix + "Period"))


def _period(out: Entries, param: str, period: Any) -> None:
    if not isinstance(period, dict):
        return
    start = date_range(str(period.get("start") or ""))
    end = date_range(str(period.get("end") or ""))
    if start or end:
        # An open end is "still going": the index holds it as far as time goes.
        out.dates.add((param, start[0] if start else "0000", end[1] if end else "9999"))


def _range(out: Entries, param: str, text: str) -> None:
    covered = date_range(text)
    if covered is not None:
        out.dates.add((param, *covered))

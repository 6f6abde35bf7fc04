"""The record as FHIR R4: read, vread, history and search answers, built from the store's rows.

What may be asked is what engine/domain/fhir_search.py indexes (its PARAMETERS), plus ``patient`` on the
clinical types (the enterprise person, or a Patient resource of that person) and ``_count``/``_offset`` paging.
Anything else is refused with ``BadRequest``: a client that asks what we cannot answer must not get a wider
answer than it asked for.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import orjson
from fhir.resources.R4B import get_fhir_model_class
from sqlalchemy import Connection

from engine.domain import fhir_search
from engine.store import fhir_read, record
from engine.store.fhir_read import Condition, Stored

TYPES = tuple(fhir_search.PARAMETERS)
PER_PATIENT = tuple(t for t in TYPES if t != "Patient")
_PAGING = {"_count", "_offset", "_format", "_summary", "_elements", "_total"}
_DATE_TESTS = {  # prefix -> (test on the index's low/high, which ends of the asked range it binds)
    "eq": ("low >= ? AND high <= ?", (0, 1)),
    "gt": ("high > ?", (1,)),
    "ge": ("high >= ?", (0,)),
    "lt": ("low < ?", (0,)),
    "le": ("low <= ?", (1,)),
}


Enterprise = Callable[[Connection, str], "tuple[str, dict[str, Any]] | None"]


class BadRequest(ValueError):
    """A request we refuse (400): the message says which parameter and why."""


def resource(stored: Stored) -> dict[str, Any]:
    """The stored body with the record's meta: version, when it was written, which source said it."""
    body = orjson.loads(stored.body)
    body["meta"] = {
        **(body.get("meta") or {}),
        "versionId": str(stored.version),
        "lastUpdated": instant(stored.at),
        "source": stored.source_system,
    }
    if stored.type == "Patient":  # one source's Patient of the person: the enterprise Patient is the main one
        enterprise = {"other": {"reference": f"Patient/{stored.person_id}"}, "type": "refer"}
        body["link"] = [*(body.get("link") or []), enterprise]
    return body


def answered(stored: Stored) -> dict[str, Any] | orjson.Fragment:
    """What a Bundle entry answers: ``resource(stored)``, or, when the stored body has no meta of its own and no
    link to add (not a Patient), those same bytes with the meta spliced in before the closing brace: orjson writes
    a Fragment as it is, so a $everything of 200 resources skips 200 parses and re-encodings (~60% of its time)."""
    if stored.type == "Patient" or b'"meta"' in stored.body:
        return resource(stored)
    meta = orjson.dumps(
        {"meta": {"versionId": str(stored.version), "lastUpdated": instant(stored.at), "source": stored.source_system}}
    )
    return orjson.Fragment(stored.body.rstrip()[:-1] + b"," + meta[1:])


def instant(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def history_bundle(base: str, versions: Sequence[Stored]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "history",
        "total": len(versions),
        "entry": [
            {
                "fullUrl": f"{base}/{s.type}/{s.id}",
                "resource": resource(s),
                "request": {"method": "POST", "url": s.type}
                if s.version == 1
                else {"method": "PUT", "url": f"{s.type}/{s.id}"},
                "response": {"status": "201 Created" if s.version == 1 else "200 OK"},
            }
            for s in versions
        ],
    }


def search(
    conn: Connection,
    base: str,
    kind: str,
    query: Sequence[tuple[str, str]],
    max_count: int,
    bound: str | None = None,
    enterprise: Enterprise | None = None,
) -> tuple[dict[str, Any], list[Stored]]:
    """A searchset Bundle (``total``, a page of ``_count``, at most ``max_count``, a next link) and every stored
    resource it holds (matches, then what ``_include``/``_revinclude`` added). ``bound``: the one person whose
    resources the reader may see (a patient-bound token). ``enterprise``: the Patient a reference to a person reads
    as (views/fhir_patient.py), which an _include of that reference adds."""
    if kind not in TYPES:
        raise BadRequest(f"{kind} cannot be searched here; the types served are {', '.join(TYPES)}")
    count, offset = paging(query, max_count)
    shape = Shape.of(kind, query)
    persons: list[str] | None = None
    groups: list[list[Condition]] = []
    order: list[fhir_read.Order] = []
    includes: list[tuple[str, str, str]] = []
    for name, value in query:
        if name in _PAGING:
            continue
        if name == "_sort":
            order = _order(kind, value)
        elif name in ("_include", "_revinclude"):
            includes.append((name, *_include(kind, name, value)))
        elif name == "patient" and kind in PER_PATIENT:
            found = {p for v in values_of(name, value) if (p := person(conn, v)) is not None}
            persons = sorted(found if persons is None else found & set(persons))
        else:
            groups.append(_conditions(conn, kind, name, value))
    if bound is not None:
        persons = [bound] if persons is None or bound in persons else []
    if shape.summary == "count":
        count = 0
    total, page = fhir_read.search(conn, kind, persons, groups, count, offset, order)
    extra, people = _included(conn, page, includes, max_count, bound, enterprise)
    asked = [(n, v) for n, v in query if n not in ("_offset", "_format")]
    links = [{"relation": "self", "url": _url(base, kind, asked, count, offset)}]
    if offset + count < total and count:
        links.append({"relation": "next", "url": _url(base, kind, asked, count, offset + count)})
    if offset and count:
        links.append({"relation": "previous", "url": _url(base, kind, asked, count, max(0, offset - count))})
    entries = [(s, "match") for s in page] + [(s, "include") for s in extra]
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
        "entry": [
            {
                "fullUrl": f"{base}/{s.type}/{s.id}",
                "resource": answered(s) if mode != "match" or shape.whole else shape.apply(resource(s)),
                "search": {"mode": mode},
            }
            for s, mode in entries
        ]
        + [
            {"fullUrl": f"{base}/Patient/{body['id']}", "resource": body, "search": {"mode": "include"}}
            for body in people
        ],
    }, [*page, *extra]


@dataclass(frozen=True, slots=True)
class Shape:
    """What of each matched resource is answered: ``_summary`` (true, text, data, count, false) or ``_elements``.
    A resource answered in part carries the SUBSETTED tag, as FHIR asks."""

    kind: str
    summary: str = "false"
    elements: frozenset[str] = frozenset()

    @staticmethod
    def of(kind: str, query: Sequence[tuple[str, str]]) -> Shape:
        asked = dict(query)
        summary = asked.get("_summary", "false")
        if summary not in ("true", "text", "data", "count", "false"):
            raise BadRequest(f"_summary: true, text, data, count or false, not {summary!r}")
        elements = frozenset(e.strip() for e in asked.get("_elements", "").split(",") if e.strip())
        if any(not _ELEMENT.match(e) for e in elements):
            raise BadRequest("_elements: a comma-separated list of element names (e.g. code,value)")
        if elements and summary != "false":
            raise BadRequest("_summary and _elements cannot be asked together")
        return Shape(kind, summary, elements)

    @property
    def whole(self) -> bool:
        """Whether every element is answered (``apply`` is the identity)."""
        return not self.elements and self.summary in ("false", "count")

    def apply(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.elements:  # with the mandatory elements, as FHIR asks, so the answer is still a valid resource
            keep = self.elements | required_elements(self.kind)
        elif self.summary == "true":
            keep = summary_elements(self.kind)
        elif self.summary == "text":
            keep = frozenset({"text", *required_elements(self.kind)})
        elif self.summary == "data":
            keep = frozenset(k for k in body if k != "text")
        else:
            return body
        out = {k: v for k, v in body.items() if k in _ALWAYS or _element(k) in keep or k in keep}
        meta = out["meta"] = dict(out.get("meta") or {})
        meta["tag"] = [*(meta.get("tag") or []), SUBSETTED]
        return out


SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED"}
_ALWAYS = {"resourceType", "id", "meta"}
_ELEMENT = re.compile(r"^[a-z][A-Za-z]{0,63}$")


def _element(key: str) -> str:
    """A choice element's name as _elements states it: valueQuantity -> value."""
    for i, ch in enumerate(key):
        if ch.isupper():
            return key[:i]
    return key


@functools.cache
def _fields(kind: str) -> dict[str, dict[str, Any]]:
    """Each element of an R4 type with its definition's flags (summary, required), from fhir.resources' models."""
    model = get_fhir_model_class(kind)
    return {
        (f.alias or name): dict(f.json_schema_extra or {})  # type: ignore[arg-type]
        for name, f in model.model_fields.items()
        if isinstance(f.json_schema_extra, dict) and f.json_schema_extra.get("element_property")
    }


def summary_elements(kind: str) -> frozenset[str]:
    return frozenset(name for name, flags in _fields(kind).items() if flags.get("summary_element_property"))


def required_elements(kind: str) -> frozenset[str]:
    return frozenset(name for name, flags in _fields(kind).items() if flags.get("element_required"))


def _url(base: str, kind: str, asked: list[tuple[str, str]], count: int, offset: int) -> str:
    params = [(n, v) for n, v in asked if n != "_count"] + [("_count", str(count))]
    if offset:
        params.append(("_offset", str(offset)))
    return f"{base}/{kind}?{urlencode(params)}"


def paging(query: Sequence[tuple[str, str]], max_count: int) -> tuple[int, int]:
    values = dict(query)
    if values.get("_format", "json") not in ("json", "application/json", "application/fhir+json"):
        raise BadRequest("_format: only JSON is served")
    count = _number("_count", values.get("_count"), 20)
    if count > max_count:
        raise BadRequest(f"_count: at most {max_count}")
    return count, _number("_offset", values.get("_offset"), 0)


def _number(name: str, value: str | None, default: int) -> int:
    if value is None:
        return default
    if not value.isascii() or not value.isdigit():
        raise BadRequest(f"{name}: a whole number of 0 or more, not {value!r}")
    if len(value) > 9:
        raise BadRequest(f"{name}: at most 999999999")
    return int(value)


def values_of(name: str, value: str) -> list[str]:
    values = [v for v in value.split(",") if v]
    if "\x00" in value:
        raise BadRequest(f"{name}: a value may not hold a NUL character")
    if not values:
        raise BadRequest(f"{name}: a value is required")
    return values


def person(conn: Connection, reference: str) -> str | None:
    """The enterprise person a ``patient`` value names: a person id or one of its Patient resources."""
    ident = reference.removeprefix("Patient/")
    return fhir_read.person_of_patient(conn, ident) or record.surviving(conn, ident)


def _patient_targets(conn: Connection, person_id: str) -> list[str]:
    """What a reference to this person may read in the record: the person, or a person merged into it."""
    return [f"Patient/{p}" for p in record.merged_persons(conn, person_id)]


def _order(kind: str, value: str) -> list[fhir_read.Order]:
    out = []
    for key in values_of("_sort", value):
        descending, name = key.startswith("-"), key.removeprefix("-")
        if name == "_id":
            out.append(fhir_read.by_id(descending))
        elif name == "_lastUpdated":
            out.append(fhir_read.by_last_updated(descending))
        elif fhir_search.PARAMETERS[kind].get(name) == "date":
            out.append(fhir_read.by_date(name, descending))
        else:
            dates = [n for n, t in fhir_search.PARAMETERS[kind].items() if t == "date"]
            raise BadRequest(f"_sort: {kind} sorts by _id, _lastUpdated or {', '.join(dates)}, not {name!r}")
    return out


def _include(kind: str, name: str, value: str) -> tuple[str, str]:
    """(type, reference parameter) of an _include (this type's) or _revinclude (another type's, pointing here)."""
    source, _, rest = value.partition(":")
    param, _, target = rest.partition(":")
    if source not in TYPES or fhir_search.PARAMETERS[source].get(param) != "reference":
        raise BadRequest(f"{name}: Type:parameter with a reference parameter of a served type, not {value!r}")
    if name == "_include" and source != kind:
        raise BadRequest(f"_include: {value!r} names {source}, but this search is of {kind}")
    if target and target not in TYPES:
        raise BadRequest(f"{name}: {target} is no type served here")
    return source, param


def _included(
    conn: Connection,
    page: list[Stored],
    includes: list[tuple[str, str, str]],
    limit: int,
    bound: str | None,
    enterprise: Enterprise | None,
) -> tuple[list[Stored], list[dict[str, Any]]]:
    """The stored resources ``_include`` and ``_revinclude`` add to a page, each once and none already on it, and
    the enterprise Patients an ``_include`` of a reference to a person adds (without ``enterprise``: that
    person's stored Patient resources)."""
    if not page or not includes:
        return [], []
    seen = {s.id for s in page}
    found: list[Stored] = []
    people: dict[str, dict[str, Any]] = {}
    for name, kind, param in includes:
        ids: list[str] = []
        if name == "_include":
            for target in fhir_read.targets(conn, [s.id for s in page], param):
                kind_of, _, ident = target.partition("/")
                if kind_of != "Patient" or fhir_read.type_of(conn, ident) is not None:
                    ids.append(ident)
                elif enterprise is not None:
                    if (made := enterprise(conn, ident)) is not None and bound in (None, made[0]):
                        people.setdefault(made[1]["id"], made[1])
                elif (survivor := record.surviving(conn, ident)) is not None:
                    ids += [r.id for r in record.patients(conn, [survivor])]
        else:
            pointed = {f"{s.type}/{s.id}" for s in page}
            for s in page:
                if s.type == "Patient":
                    pointed.update(_patient_targets(conn, s.person_id))
            ids = fhir_read.referring(conn, kind, param, sorted(pointed), limit)
        for s in fhir_read.currents(conn, sorted(set(ids) - seen)):
            if bound in (None, s.person_id):
                seen.add(s.id)
                found.append(s)
    return found, list(people.values())


def _conditions(conn: Connection, kind: str, name: str, value: str) -> list[Condition]:
    param, _, modifier = name.partition(":")
    values = values_of(name, value)
    if param == "_id" and not modifier:
        return [fhir_read.resource_id(v) for v in values]
    if param == "_lastUpdated" and not modifier:
        return [_last_updated(kind, v) for v in values]
    param_type = fhir_search.PARAMETERS[kind].get(param)
    if param_type is None or modifier:
        supported = ", ".join(
            [*fhir_search.PARAMETERS[kind], *(["patient"] if kind in PER_PATIENT else []), "_id", "_lastUpdated"]
        )
        raise BadRequest(f"{name} is not a search parameter served for {kind}; these are: {supported}")
    if param_type == "token":
        return [_token(kind, param, v) for v in values]
    if param_type == "string":
        return [
            fhir_read.string_prefix(kind, param, f) for v in values for f in sorted(fhir_search.string_forms(param, v))
        ] or [fhir_read.string_prefix(kind, param, value)]
    if param_type == "quantity":
        return [_quantity(kind, param, v) for v in values]
    if param_type == "reference":
        return [fhir_read.reference(kind, param, _targets(conn, param, v)) for v in values]
    return [_date(kind, param, v) for v in values]


def _token(kind: str, param: str, value: str) -> Condition:
    system, bar, code = value.partition("|")
    if not bar:
        return fhir_read.token(kind, param, None, value)
    if param == "phone" or (param == "telecom" and system == "phone"):
        code = fhir_search.phone(code)
    return fhir_read.token(kind, param, system, code)


def _targets(conn: Connection, param: str, value: str) -> list[str]:
    """The stored "Type/id"s a reference value may mean: ``Type/id``, a full URL ending so, or a bare id; a
    person's (or a Patient resource's) stands for the person and everyone merged into it."""
    parts = value.rstrip("/").split("/")
    kind, ident = (parts[-2], parts[-1]) if len(parts) >= 2 else (None, parts[-1])
    if kind is not None and kind not in TYPES:
        raise BadRequest(f"{param}: {value!r} is no reference to a type served here")
    if kind in (None, "Patient"):
        found = person(conn, ident)
        if found is not None:
            return _patient_targets(conn, found)
    return [f"{kind or fhir_read.type_of(conn, ident) or 'Patient'}/{ident}"]


def _quantity(kind: str, param: str, value: str) -> Condition:
    """``[prefix]number[|system|code]``; eq is "within the stated precision", ap within 10%, as FHIR says."""
    number, _, unit = value.partition("|")
    system, _, code = unit.partition("|")
    prefix, text = (number[:2], number[2:]) if number[:2].isalpha() else ("eq", number)
    if not _NUMBER.match(text) or prefix not in ("eq", "ne", "gt", "ge", "lt", "le", "ap"):
        raise BadRequest(f"{param}: {value!r} is no quantity search ([prefix]number[|system|code])")
    amount = float(text)
    half = 0.5 * 10 ** -(len(text.partition(".")[2]) if "." in text else 0)
    if prefix in ("eq", "ne", "ap"):
        spread = abs(amount) * 0.1 if prefix == "ap" else half
        test = "value >= ? AND value < ?" if prefix != "ne" else "(value < ? OR value >= ?)"
        return fhir_read.quantity(kind, param, test, [amount - spread, amount + spread], system, code or None)
    return fhir_read.quantity(kind, param, _COMPARE[prefix], [amount], system, code or None)


_NUMBER = re.compile(r"^-?\d{1,15}(\.\d{1,15})?$")
_COMPARE = {"gt": "value > ?", "ge": "value >= ?", "lt": "value < ?", "le": "value <= ?"}


def _date(kind: str, param: str, value: str) -> Condition:
    prefix, text = (value[:2], value[2:]) if value[:2].isalpha() else ("eq", value)
    covered = fhir_search.date_range(text)
    if prefix not in _DATE_TESTS or covered is None or len(text) > 35:
        raise BadRequest(f"{param}: {value!r} is no date search (eq, gt, ge, lt or le, then a FHIR date)")
    test, ends = _DATE_TESTS[prefix]
    return fhir_read.date(kind, param, test, [covered[i] for i in ends])


def _last_updated(kind: str, value: str) -> Condition:
    """``_lastUpdated`` against when each resource's version was recorded: an offset in the value is honoured (the
    meta.lastUpdated we answer is UTC); a value without one is the server's local time."""
    prefix, text = (value[:2], value[2:]) if value[:2].isalpha() else ("eq", value)
    covered = fhir_search.date_range(text)
    if prefix not in _DATE_TESTS or covered is None or len(text) > 35:
        raise BadRequest(f"_lastUpdated: {value!r} is no date search (eq, gt, ge, lt or le, then a FHIR date)")
    zone = _ZONE.search(text[10:])
    offset = None if zone is None else datetime.fromisoformat("2000-01-01T00:00:00" + zone[0].replace("Z", "+00:00"))
    low, high = (datetime.fromisoformat(c).replace(tzinfo=offset.tzinfo if offset else None) for c in covered)
    bounds = (low.timestamp(), high.timestamp() + 1)  # the last second covered, to its end
    test = _LAST_UPDATED[prefix]
    return fhir_read.last_updated(kind, test[0], [bounds[i] for i in test[1]])


_ZONE = re.compile(r"(Z|[+-]\d{2}:\d{2})$")
_LAST_UPDATED = {
    "eq": ("updated_at >= ? AND updated_at < ?", (0, 1)),
    "gt": ("updated_at >= ?", (1,)),
    "ge": ("updated_at >= ?", (0,)),
    "lt": ("updated_at < ?", (0,)),
    "le": ("updated_at < ?", (1,)),
}

"""The record as FHIR R4: read, vread, history and search answers, built from the store's rows.

What may be asked is what engine/domain/fhir_search.py indexes (its PARAMETERS), plus ``patient`` on the
clinical types (the enterprise person, or a Patient resource of that person) and ``_count``/``_offset`` paging.
Anything else is refused with ``BadRequest``: a client that asks what we cannot answer must not get a wider
answer than it asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import orjson
from sqlalchemy import Connection

from engine.domain import fhir_search
from engine.store import fhir_read, record
from engine.store.fhir_read import Condition, Stored

TYPES = tuple(fhir_search.PARAMETERS)
PER_PATIENT = tuple(t for t in TYPES if t != "Patient")
_PAGING = {"_count", "_offset", "_format"}
_DATE_TESTS = {  # prefix -> (test on the index's low/high, which ends of the asked range it binds)
    "eq": ("low >= ? AND high <= ?", (0, 1)),
    "gt": ("high > ?", (1,)),
    "ge": ("high >= ?", (0,)),
    "lt": ("low < ?", (0,)),
    "le": ("low <= ?", (1,)),
}


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
) -> tuple[dict[str, Any], list[Stored]]:
    """A searchset Bundle (``total``, a page of ``_count``, at most ``max_count``, a next link) and its page.
    ``bound``: the one person whose resources the reader may see (a patient-bound token)."""
    if kind not in TYPES:
        raise BadRequest(f"{kind} cannot be searched here; the types served are {', '.join(TYPES)}")
    count, offset = paging(query, max_count)
    persons: list[str] | None = None
    groups: list[list[Condition]] = []
    for name, value in query:
        if name in _PAGING:
            continue
        if name == "patient" and kind in PER_PATIENT:
            found = {p for v in _values(name, value) if (p := person(conn, v)) is not None}
            persons = sorted(found if persons is None else found & set(persons))
            continue
        groups.append(_conditions(kind, name, value))
    if bound is not None:
        persons = [bound] if persons is None or bound in persons else []
    total, page = fhir_read.search(conn, kind, persons, groups, count, offset)
    asked = [(n, v) for n, v in query if n not in ("_offset", "_format")]
    links = [{"relation": "self", "url": _url(base, kind, asked, count, offset)}]
    if offset + count < total and count:
        links.append({"relation": "next", "url": _url(base, kind, asked, count, offset + count)})
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
        "entry": [
            {"fullUrl": f"{base}/{s.type}/{s.id}", "resource": resource(s), "search": {"mode": "match"}} for s in page
        ],
    }, page


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


def _values(name: str, value: str) -> list[str]:
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


def _conditions(kind: str, name: str, value: str) -> list[Condition]:
    param, _, modifier = name.partition(":")
    param_type = fhir_search.PARAMETERS[kind].get(param)
    if param_type is None or modifier:
        supported = ", ".join([*fhir_search.PARAMETERS[kind], *(["patient"] if kind in PER_PATIENT else [])])
        raise BadRequest(f"{name} is not a search parameter served for {kind}; these are: {supported}")
    values = _values(name, value)
    if param_type == "token":
        return [_token(kind, param, v) for v in values]
    if param_type == "string":
        return [fhir_read.string_prefix(kind, param, f) for v in values for f in sorted(fhir_search.name_forms(v))]
    return [_date(kind, param, v) for v in values]


def _token(kind: str, param: str, value: str) -> Condition:
    system, bar, code = value.partition("|")
    if not bar:
        return fhir_read.token(kind, param, None, value)
    if param == "phone":
        code = fhir_search.phone(code)
    return fhir_read.token(kind, param, system, code)


def _date(kind: str, param: str, value: str) -> Condition:
    prefix, text = (value[:2], value[2:]) if value[:2].isalpha() else ("eq", value)
    covered = fhir_search.date_range(text)
    if prefix not in _DATE_TESTS or covered is None or len(text) > 35:
        raise BadRequest(f"{param}: {value!r} is no date search (eq, gt, ge, lt or le, then a FHIR date)")
    test, ends = _DATE_TESTS[prefix]
    return fhir_read.date(kind, param, test, [covered[i] for i in ends])

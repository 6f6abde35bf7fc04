"""The enterprise Patient and ``Patient/$everything``: the person the record's references name, as FHIR.

References in the record name the enterprise person (``Observation.subject = Patient/<person id>``), so
``Patient/<person id>`` must read. It answers the merged view ``huitong record show`` prints (each field by
``record.precedence``, identifiers of every source), computed on read like that view, with ``Patient.link``:

- ``seealso`` to each source system's own Patient resource (which links back with ``refer``, see
  views/fhir.resource);
- ``replaces`` to each person merged into it, with the merge's instant (extension ``merged-at``): the merge
  history. An unmerged person stands on its own again and is no longer linked.

A retired person's id answers an inactive Patient whose only content is ``link`` ``replaced-by`` the survivor,
as FHIR's Patient.link defines it, so a reference written before the merge still leads to the person.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import orjson
from sqlalchemy import Connection

from engine.domain.record.precedence import Rules, SourceVersion, merge
from engine.store import fhir_patient, record
from engine.views.fhir import BadRequest, answered, instant, paging

MERGED_AT = "https://huitong.invalid/fhir/StructureDefinition/merged-at"
_EVERYTHING = {"_count", "_offset", "_format", "_since", "_type"}


def enterprise(conn: Connection, ident: str, precedence: Mapping[str, Rules]) -> tuple[str, dict[str, Any]] | None:
    """(the surviving person, the Patient ``Patient/<ident>`` reads as), or None when ``ident`` is no person."""
    survivor = record.surviving(conn, ident)
    if survivor is None:
        return None
    if survivor != ident:
        return survivor, _replaced(ident, survivor, fhir_patient.retired_at(conn, ident))
    return survivor, merged_patient(conn, survivor, precedence)


def merged_patient(conn: Connection, person: str, precedence: Mapping[str, Rules]) -> dict[str, Any]:
    sources = fhir_patient.patients(conn, person)
    versions = [SourceVersion(s.source_system, s.at, orjson.loads(s.body)) for s in sources]
    body = merge("Patient", person, versions, precedence.get("Patient", {})).body
    retired = set(record.merged_persons(conn, person)[1:])
    merges = [
        m
        for p in [person, *sorted(retired)]
        for m in record.merges_into(conn, p)
        if m.undone_at is None and m.retired in retired
    ]
    body["link"] = [
        *({"other": {"reference": f"Patient/{s.id}", "display": s.source_system}, "type": "seealso"} for s in sources),
        *(
            {
                "extension": [{"url": MERGED_AT, "valueInstant": instant(m.at)}],
                "other": {"reference": f"Patient/{m.retired}"},
                "type": "replaces",
            }
            for m in sorted(merges, key=lambda m: m.at)
        ),
    ]
    if not body["link"]:
        del body["link"]
    times = [s.at for s in sources] + [m.at for m in merges]
    if times:
        body["meta"] = {"lastUpdated": instant(max(times))}
    return body


def _replaced(retired: str, survivor: str, at: float | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Patient",
        "id": retired,
        "active": False,
        "link": [{"other": {"reference": f"Patient/{survivor}"}, "type": "replaced-by"}],
    }
    if at is not None:
        body["meta"] = {"lastUpdated": instant(at)}
    return body


def everything(
    conn: Connection,
    base: str,
    person: str,
    query: Sequence[tuple[str, str]],
    max_count: int,
    precedence: Mapping[str, Rules],
    readable: Callable[[str], bool],
) -> dict[str, Any]:
    """A searchset Bundle of the person's whole record, paged: the enterprise Patient first, then the source
    Patients, then every other resource; ``_since`` keeps resources recorded since an instant (the enterprise
    Patient always comes), ``_type`` some types. ``readable``: the types the token may read."""
    for name, _ in query:
        if name not in _EVERYTHING:
            raise BadRequest(f"{name} is not a parameter of $everything; these are: {', '.join(sorted(_EVERYTHING))}")
    count, offset = paging(query, max_count)
    asked = dict(query)
    since = _since(asked["_since"]) if "_since" in asked else None
    wanted = _types(asked["_type"]) if "_type" in asked else None
    types = [t for t in (wanted if wanted is not None else fhir_patient.types_of(conn, person)) if readable(t)]
    first = 1 if wanted is None or "Patient" in wanted else 0  # the enterprise Patient: position 0
    skip = max(offset - first, 0)
    size = count - (first if offset == 0 else 0)
    stored_total, page = fhir_patient.everything(conn, person, types, since, max(size, 0), skip)
    total = stored_total + first
    entries = []
    if first and offset == 0 and count:
        entries.append({"fullUrl": f"{base}/Patient/{person}", "resource": merged_patient(conn, person, precedence)})
    entries += [{"fullUrl": f"{base}/{s.type}/{s.id}", "resource": answered(s)} for s in page]
    for entry in entries:
        entry["search"] = {"mode": "match"}
    kept = [(n, v) for n, v in query if n not in ("_count", "_offset")]
    links = [{"relation": "self", "url": _url(base, person, kept, count, offset)}]
    if count and offset + count < total:
        links.append({"relation": "next", "url": _url(base, person, kept, count, offset + count)})
    return {"resourceType": "Bundle", "type": "searchset", "total": total, "link": links, "entry": entries}


def _url(base: str, person: str, kept: list[tuple[str, str]], count: int, offset: int) -> str:
    params = [*kept, ("_count", str(count))] + ([("_offset", str(offset))] if offset else [])
    return f"{base}/Patient/{person}/$everything?{urlencode(params)}"


def _since(value: str) -> float:
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        at = None
    if at is None or at.tzinfo is None or "T" not in value:
        raise BadRequest(f"_since: {value!r} is no FHIR instant (e.g. 2026-07-01T00:00:00+08:00 or ...Z)")
    return at.timestamp()


def _types(value: str) -> list[str]:
    types = [t for t in value.split(",") if t]
    if not types or not all(t.isascii() and t.isalpha() and t[:1].isupper() and len(t) < 64 for t in types):
        raise BadRequest(f"_type: {value!r} is no list of resource types (e.g. Observation,Condition)")
    return types

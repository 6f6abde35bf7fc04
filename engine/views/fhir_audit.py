"""The FHIR API's audit trail as AuditEvent (R4): who read which resident's data, how, and when.

Each ``fhir.read`` row of the audit table (engine/store/audit.py) is one AuditEvent, its id the row's: the
reader (``agent``: the token, or the user of a user-level token), the resident (``entity`` with
``Patient/<person id>``, as the record's references name a person), the query (``entity.query``, base64 as R4
has it) and the interaction (``subtype``). The engine's other audit rows (MPI decisions, merges, prunes, tokens)
are read with ``huitong audit``. Search takes ``patient``, ``date`` (when it was recorded), ``agent`` and paging.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Connection

from engine.domain import fhir_search
from engine.store import audit, record
from engine.store.audit import Entry
from engine.views.fhir import BadRequest, instant, paging, person, values_of  # the record's paging and values

READ_ACTION = "fhir.read"
ACTOR_SYSTEM = "urn:huitong:audit-actor"  # token:<id> or user:<name>, as the audit trail names the reader
SEARCH_PARAMETERS = {"patient": "reference", "date": "date", "agent": "token"}
_CONTROL = {"_count", "_offset", "_format"}
_SUBTYPE = {"read": "read", "vread": "vread", "history": "history-instance", "search": "search-type"}
_TERMINOLOGY = "http://terminology.hl7.org/CodeSystem"


def audit_event(entry: Entry) -> dict[str, Any]:
    interaction = str(entry.detail.get("interaction", ""))
    query = str(entry.detail.get("query", ""))
    return {
        "resourceType": "AuditEvent",
        "id": str(entry.id),
        "meta": {"versionId": "1", "lastUpdated": instant(entry.at)},
        "type": {"system": f"{_TERMINOLOGY}/audit-event-type", "code": "rest", "display": "RESTful Operation"},
        "subtype": [
            {"system": "http://hl7.org/fhir/restful-interaction", "code": _SUBTYPE.get(interaction, "operation")}
        ],
        "action": "R",
        "recorded": instant(entry.at),
        "outcome": "0",
        "agent": [
            {
                "who": {"identifier": {"system": ACTOR_SYSTEM, "value": entry.actor}, "display": entry.actor},
                **({"altId": str(entry.detail["token"])} if entry.detail.get("token") else {}),
                "requestor": True,
            }
        ],
        "source": {
            "observer": {"display": "Huitong FHIR API"},
            "type": [{"system": f"{_TERMINOLOGY}/security-source-type", "code": "4", "display": "Application Server"}],
        },
        "entity": [
            {
                "what": {"reference": f"Patient/{entry.target}"},
                "type": {"system": f"{_TERMINOLOGY}/audit-entity-type", "code": "1", "display": "Person"},
                "role": {"system": f"{_TERMINOLOGY}/object-role", "code": "1", "display": "Patient"},
            },
            {
                "type": {"system": f"{_TERMINOLOGY}/audit-entity-type", "code": "2", "display": "System Object"},
                "role": {"system": f"{_TERMINOLOGY}/object-role", "code": "24", "display": "Query"},
                "query": base64.b64encode(query.encode()).decode(),
            },
        ],
    }


def read(conn: Connection, ident: str, bound: str | None) -> dict[str, Any] | None:
    """The AuditEvent, if it is one and the reader may see it (a patient-bound token: its patient's only)."""
    found = audit.entry(conn, int(ident)) if ident.isascii() and ident.isdigit() and len(ident) < 19 else None
    if found is None or found.action != READ_ACTION:
        return None
    if bound is not None and found.target not in record.merged_persons(conn, bound):
        return None
    return audit_event(found)


def search(
    conn: Connection, base: str, query: Sequence[tuple[str, str]], max_count: int, bound: str | None
) -> dict[str, Any]:
    """A searchset Bundle of AuditEvents, newest first, paged as every search here is."""
    count, offset = paging(query, max_count)
    targets: set[str] | None = None if bound is None else set(record.merged_persons(conn, bound))
    actors: set[str] | None = None
    since: float | None = None
    until: float | None = None
    for name, value in query:
        if name in _CONTROL:
            continue
        if name not in SEARCH_PARAMETERS:
            raise BadRequest(f"{name} is not a search parameter served for AuditEvent; these are: patient, date, agent")
        values = values_of(name, value)
        if name == "patient":
            found = {p for v in values if (s := person(conn, v)) is not None for p in record.merged_persons(conn, s)}
            targets = found if targets is None else targets & found
        elif name == "agent":
            actors = set(values) if actors is None else actors & set(values)
        else:
            low, high = _moments(value)
            since = low if since is None or low is None else max(since, low)
            until = high if until is None or high is None else min(until, high)
    total, page = audit.search(
        conn,
        targets=None if targets is None else sorted(targets),
        actors=None if actors is None else sorted(actors),
        actions=[READ_ACTION],
        since=since,
        until=until,
        limit=count,
        offset=offset,
    )
    asked = [(n, v) for n, v in query if n not in _CONTROL] + [("_count", str(count))]

    def url(at: int) -> str:
        return f"{base}/AuditEvent?{urlencode([*asked, *([('_offset', str(at))] if at else [])])}"

    links = [{"relation": "self", "url": url(offset)}]
    if count and offset + count < total:
        links.append({"relation": "next", "url": url(offset + count)})
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
        "entry": [
            {"fullUrl": f"{base}/AuditEvent/{e.id}", "resource": audit_event(e), "search": {"mode": "match"}}
            for e in page
        ],
    }


def _moments(value: str) -> tuple[float | None, float | None]:
    """The epoch seconds a ``date`` search covers, [since, until): the asked date's own range per its prefix.
    The date is local time (the server's), as the CLI prints the trail."""
    prefix, text = (value[:2], value[2:]) if value[:2].isalpha() else ("eq", value)
    covered = fhir_search.date_range(text) if len(text) <= 35 else None
    if prefix not in ("eq", "gt", "ge", "lt", "le") or covered is None:
        raise BadRequest(f"date: {value!r} is no date search (eq, gt, ge, lt or le, then a FHIR date)")
    try:
        low, high = (datetime.fromisoformat(t).timestamp() for t in covered)
    except (OverflowError, ValueError, OSError):
        raise BadRequest(f"date: {value!r} is outside the dates this server counts") from None
    end = high + 1  # the covered range's last second, inclusive
    return {"eq": (low, end), "gt": (end, None), "ge": (low, None), "lt": (None, low), "le": (None, end)}[prefix]

"""Provenance resources, built on read from record_versions: one per version of each resource of the record.

``Provenance/<resource id>-<version>`` says of that version: ``target`` the version itself
(``Observation/<id>/_history/<version>``), ``recorded`` when the record wrote it, ``activity`` CREATE (version 1)
or UPDATE, ``agent`` the source system that said it (author) and the Huitong channel that received it
(assembler), ``entity`` the journaled message (source: identifier ``urn:huitong:message`` = the journal id that
``huitong messages`` shows, the message's control id as display), and the mapping that made it with its version
(extension ``mapping``: ``name`` and ``version``; none for FHIR that came as it was). Nothing is stored for it:
a version's provenance never changes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from engine.store import fhir_provenance
from engine.store.fhir_provenance import Origin
from engine.views.fhir import BadRequest, instant

MAPPING = "https://huitong.invalid/fhir/StructureDefinition/mapping"
MESSAGE_SYSTEM = "urn:huitong:message"
SOURCE_SYSTEM = "urn:huitong:source-system"
CHANNEL_SYSTEM = "urn:huitong:channel"
_PARTICIPANT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
_ID = re.compile(r"^([A-Za-z0-9.]{1,54})-([0-9]{1,9})$")
_TARGET = re.compile(r"^([A-Z][A-Za-z]{1,63})/([A-Za-z0-9.-]{1,64})(?:/_history/([0-9]{1,9}))?$")


def read(conn: Connection, ident: str) -> Origin | None:
    """The version ``Provenance/<ident>`` speaks of, or None."""
    m = _ID.match(ident)
    found = fhir_provenance.origins(conn, m[1], version=int(m[2])) if m else []
    return found[0] if found else None


def search(conn: Connection, base: str, query: Sequence[tuple[str, str]]) -> tuple[list[Origin], str]:
    """The versions ``target`` names (a resource: all its versions, newest first; a version: that one), and
    the target's type (the caller checks the token may read it)."""
    for name, _ in query:
        if name != "target":
            raise BadRequest(f"{name} is not a search parameter served for Provenance; these are: target")
    targets = [v for n, v in query if n == "target"]
    if len(targets) != 1:
        raise BadRequest("target: Provenance is searched by one target, e.g. target=Observation/<id>")
    m = _TARGET.match(targets[0].removeprefix(f"{base}/"))
    if m is None:
        raise BadRequest(f"target: {targets[0]!r} is no reference Type/id or Type/id/_history/version")
    kind, ident, version = m[1], m[2], m[3]
    return fhir_provenance.origins(conn, ident, kind, int(version) if version else None), kind


def bundle(base: str, found: Sequence[Origin]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(found),
        "entry": [
            {
                "fullUrl": f"{base}/Provenance/{o.resource_id}-{o.version}",
                "resource": provenance(o),
                "search": {"mode": "match"},
            }
            for o in found
        ],
    }


def provenance(origin: Origin) -> dict[str, Any]:
    o = origin
    recorded = instant(o.at)
    agents = [_agent("author", SOURCE_SYSTEM, o.source_system, o.source_system)]
    if o.channel:
        agents.append(_agent("assembler", CHANNEL_SYSTEM, o.channel, f"Huitong channel {o.channel}"))
    body: dict[str, Any] = {
        "resourceType": "Provenance",
        "id": f"{o.resource_id}-{o.version}",
        "meta": {"versionId": "1", "lastUpdated": recorded},
        "target": [{"reference": f"{o.type}/{o.resource_id}/_history/{o.version}"}],
        "recorded": recorded,
        "activity": {"coding": [{"system": _OPERATION, "code": "CREATE" if o.version == 1 else "UPDATE"}]},
        "agent": agents,
    }
    if o.mapping:
        parts = [("name", o.mapping), ("version", o.mapping_version)]
        body["extension"] = [{"url": MAPPING, "extension": [{"url": k, "valueString": v} for k, v in parts if v]}]
    if o.message_id is not None:
        what: dict[str, Any] = {"identifier": {"system": MESSAGE_SYSTEM, "value": str(o.message_id)}}
        if o.control_id:
            what["display"] = f"message {o.message_id}, control id {o.control_id}"
        body["entity"] = [{"role": "source", "what": what}]
    return body


def _agent(role: str, system: str, value: str, display: str) -> dict[str, Any]:
    return {
        "type": {"coding": [{"system": _PARTICIPANT, "code": role}]},
        "who": {"identifier": {"system": system, "value": value}, "display": display},
    }

"""One message's FHIR resources as one transaction Bundle that can be sent again without creating duplicates.

Every resource is a conditional update on its first identifier (``PUT Patient?identifier=sys|val``): the first
send creates it, a replay updates it (a new version, never a second resource). A resource without an identifier
gets one from its source key (or, failing that, a digest of its content). References between the message's
resources point at ``urn:uuid:`` full URLs derived from the source system, the message id and the local id, so
the server resolves them inside the transaction, and the same message always yields the same Bundle.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import orjson

from engine.domain.mapping.bundle import full_url, rewrite_references
from engine.domain.mapping.result import Resource

KEY_SYSTEM_PREFIX = "urn:huitong:key:"
def _digest(body: dict[str, Any]) -> str:
    content = {k: v for k, v in body.items() if k not in ("id", "meta")}
    return hashlib.blake2b(orjson.dumps(content, option=orjson.OPT_SORT_KEYS), digest_size=16).hexdigest()


def _search_escape(text: str) -> str:
    """FHIR search escaping for a token part, then URL encoding."""
    for special in ("\\", "|", ",", "$"):
        text = text.replace(special, "\\" + special)
    return quote(text, safe=":/")


def conditional_url(resource_type: str, identifier: dict[str, Any]) -> str:
    system = str(identifier.get("system", ""))
    value = str(identifier.get("value", ""))
    return f"{resource_type}?identifier={_search_escape(system)}|{_search_escape(value)}"


def transaction_bundle(resources: Sequence[Resource], *, source_system: str, message_id: int) -> dict[str, Any]:
    """The transaction Bundle for one message's resources (see the module doc)."""
    urls: dict[str, str] = {}
    for i, res in enumerate(resources):
        local = f"{res.type}/{res.body.get('id') or i}"
        urls[local] = full_url(source_system, message_id, local)
    entries = []
    for i, res in enumerate(resources):
        body = copy.deepcopy(res.body)
        local = f"{res.type}/{body.pop('id', None) or i}"
        meta = body.get("meta")
        if isinstance(meta, dict):
            meta = {k: v for k, v in meta.items() if k not in ("versionId", "lastUpdated")}
            if meta:
                body["meta"] = meta
            else:
                del body["meta"]
        identifiers = body.get("identifier")
        if not isinstance(identifiers, list) or not identifiers or not isinstance(identifiers[0], dict):
            identifiers = [{"system": KEY_SYSTEM_PREFIX + source_system, "value": res.key or _digest(res.body)}]
            body["identifier"] = identifiers
        body = rewrite_references(body, urls)
        entries.append(
            {
                "fullUrl": urls[local],
                "resource": body,
                "request": {"method": "PUT", "url": conditional_url(res.type, identifiers[0])},
            }
        )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}

"""Mapped results as one FHIR Bundle: local ids become urn:uuid full URLs, references follow."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from .result import Mapped

_NAMESPACE = uuid.UUID("6f1c2d0e-8a5b-4d7e-9c3f-2b1a0e9d8c7b")  # Huitong's own uuid5 namespace


def full_url(*parts: object) -> str:
    """A stable ``urn:uuid:`` for one resource, from what identifies it (source, message, ``Type/local id``)."""
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, '|'.join(str(p) for p in parts))}"


def rewrite_references(node: Any, table: dict[str, str]) -> Any:
    """A copy of ``node`` with every ``reference`` found in ``table`` replaced."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                out[key] = table.get(value, value)
            else:
                out[key] = rewrite_references(value, table)
        return out
    if isinstance(node, list):
        return [rewrite_references(v, table) for v in node]
    return node


def to_bundle(results: Sequence[tuple[str, Mapped]], bundle_type: str = "collection") -> dict[str, Any]:
    """One Bundle for (seed, Mapped) pairs; the seed (e.g. a message's control ID) keeps full URLs stable."""
    entries = []
    for seed, mapped in results:
        urls = {}
        for r in mapped.resources:
            local = f"{r.type}/{r.body['id']}"
            urls[local] = full_url(seed, mapped.mapping, local)
        for r in mapped.resources:
            url = urls[f"{r.type}/{r.body['id']}"]
            body = rewrite_references(r.body, urls)
            body["id"] = url.removeprefix("urn:uuid:")
            entries.append({"fullUrl": url, "resource": body})
    return {"resourceType": "Bundle", "type": bundle_type, "entry": entries}

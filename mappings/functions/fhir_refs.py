"""``refs(rule)`` gives reference strings; FHIR wants Reference objects. This hook wraps them.

(The mapping language has no way to turn a list of strings into a list of {reference: ...} objects.)
"""

from __future__ import annotations

from typing import Any

_KEYS = ("result", "specimen", "supportingInfo", "basedOn", "hasMember")


def wrap_references(resource: dict[str, Any], reader: Any) -> dict[str, Any]:
    for key in _KEYS:
        items = resource.get(key)
        if items:
            resource[key] = [{"reference": r} if isinstance(r, str) else r for r in items]
    return resource

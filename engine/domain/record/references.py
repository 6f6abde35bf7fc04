"""Local ids of a mapped message become the record's ids, in the body and in the references between resources.

Works on the serialised JSON: the record stores bytes anyway, and one regular-expression pass over them is
several times cheaper than walking the resource as Python objects.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

_REFERENCE = re.compile(rb'"reference":"([A-Z][A-Za-z]+/[^"/]+)"')


def rewrite(body: dict[str, Any], new_id: str, ids: Mapping[str, str]) -> bytes:
    """The resource as JSON with id ``new_id`` and every reference "Type/local" found in ``ids`` replaced.

    ``ids`` maps "Type/<local id>" to "Type/<stored id>"; references it does not know are left as they are.
    """
    return repoint(orjson.dumps({**body, "id": new_id}), ids)


def repoint(raw: bytes, targets: Mapping[str, str]) -> bytes:
    """Replace the references named in ``targets`` ("Patient/<old>" → "Patient/<new>") in serialised JSON."""
    if not targets or b'"reference":"' not in raw:
        return raw
    return _REFERENCE.sub(lambda m: b'"reference":"%s"' % targets.get(m[1].decode(), m[1].decode()).encode(), raw)

"""When two resources state the same fact: a digest of the content that ignores where it came from.

Two sources that report one fact (the same allergy, the same lab value) give it different ids, meta, narrative
and references to their own local resources. The digest leaves those out, so the record keeps the fact once
and lists both sources as its provenance.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson

# Top-level elements that say where a resource came from or how it is displayed, not what it states.
IGNORED = frozenset({"id", "meta", "text"})
# A relative reference "Type/id" (as orjson writes it): the id is local to a message or a store, the type is not.
_LOCAL_REFERENCE = re.compile(rb'"reference":"([A-Z][A-Za-z]+)/[^"/]+"')


def fact_digest(body: dict[str, Any]) -> str:
    """128-bit BLAKE2b (hex) of the resource without id, meta, narrative and the ids in relative references."""
    canonical = orjson.dumps({k: v for k, v in body.items() if k not in IGNORED}, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(_LOCAL_REFERENCE.sub(rb'"reference":"\1"', canonical), digest_size=16).hexdigest()

"""Which identifiers of a Patient say who the person is, in the order person resolution trusts them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from engine.domain.mapping.result import MRN_TYPE, RESIDENT_ID_SYSTEM

Key = tuple[str, str]  # (system, value)


def key(identifier: Mapping[str, Any]) -> Key | None:
    """(system, value) of a FHIR Identifier, or None when either is missing (it cannot identify anyone)."""
    system, value = identifier.get("system"), identifier.get("value")
    if not system or not value:
        return None
    return str(system), str(value)


def keys(identifiers: Iterable[Mapping[str, Any]]) -> list[Key]:
    """The usable (system, value) pairs, in order, without repeats."""
    out: list[Key] = []
    for identifier in identifiers:
        k = key(identifier)
        if k is not None and k not in out:
            out.append(k)
    return out


def is_resident_id(identifier: Mapping[str, Any]) -> bool:
    return identifier.get("system") == RESIDENT_ID_SYSTEM and bool(identifier.get("value"))


def is_mrn(identifier: Mapping[str, Any]) -> bool:
    codings = (identifier.get("type") or {}).get("coding") or ()
    return any(c.get("code") == MRN_TYPE for c in codings)


def by_trust(identifiers: Iterable[Mapping[str, Any]]) -> tuple[list[Key], list[Key]]:
    """(resident IDs, MRNs): the identifiers that decide the person, strongest first."""
    items = list(identifiers)
    residents = keys(i for i in items if is_resident_id(i))
    mrns = keys(i for i in items if is_mrn(i) and not is_resident_id(i))
    return residents, mrns

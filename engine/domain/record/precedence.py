"""The merged view of one resource that several sources describe (the Patient): per field, whose value wins.

Survivorship, in order: a valid value beats an invalid one (a real birth date, a stated sex, a phone that is
one); then the rules from engine.yaml (``record.precedence``): per resource type, per field (or ``default``), a
list of source-system patterns (fnmatch), first wins. Sources no pattern names come after the named ones, the most
recently recorded first. Identifiers are not a matter of precedence: the merged resource lists every source's.
The result says where each value came from, because an operator must be able to tell ("address: phs.*").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from engine.domain.mpi import contact, dates

Rules = Mapping[str, Sequence[str]]  # field (or "default") -> source-system patterns, first wins
DEFAULT = "default"
UNION = frozenset({"identifier"})
_NOT_MERGED = frozenset({"resourceType", "id", "meta", "text"})


@dataclass(frozen=True, slots=True)
class SourceVersion:
    """One source's current version of the resource."""

    source_system: str
    recorded_at: float
    body: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Merged:
    body: dict[str, Any]
    sources: dict[str, tuple[str, ...]] = field(default_factory=dict)  # field -> source system(s) of its value


def rank(source_system: str, patterns: Sequence[str]) -> int:
    """Position of the first pattern that matches; unlisted sources rank after every listed one."""
    for i, pattern in enumerate(patterns):
        if fnmatchcase(source_system, pattern):
            return i
    return len(patterns)


def merge(resource_type: str, resource_id: str, versions: Sequence[SourceVersion], rules: Rules) -> Merged:
    """One resource from each source's version: per field the best-ranked source that has a value wins."""
    body: dict[str, Any] = {"resourceType": resource_type, "id": resource_id}
    sources: dict[str, tuple[str, ...]] = {}
    newest_first = sorted(versions, key=lambda v: -v.recorded_at)
    names = sorted({k for v in versions for k in v.body if k not in _NOT_MERGED})
    for name in names:
        having = [v for v in newest_first if v.body.get(name) not in (None, "", [], {})]
        if not having:
            continue
        if name in UNION:
            body[name], sources[name] = _union(having, name)
            continue
        patterns = rules.get(name, rules.get(DEFAULT, ()))
        # A valid value beats an invalid one whatever the source; then precedence; sorted() is stable, so among
        # sources of equal rank the most recent stays first.
        winner = sorted(having, key=lambda v: (not valid(name, v.body[name]), rank(v.source_system, patterns)))[0]
        body[name] = winner.body[name]
        sources[name] = (winner.source_system,)
    return Merged(body, sources)


def valid(name: str, value: Any) -> bool:
    """Whether a Patient field's value can be true: a real birth date, a stated sex, a reachable phone."""
    if name == "birthDate":
        return isinstance(value, str) and dates.birth_date(value) is not None
    if name == "gender":
        return value in ("male", "female")
    if name == "telecom":
        return any(
            t.get("system") != "phone" or contact.phone(t.get("value")) is not None
            for t in value
            if isinstance(t, dict)
        )
    return True


def _union(versions: Sequence[SourceVersion], name: str) -> tuple[list[Any], tuple[str, ...]]:
    seen: set[tuple[Any, Any]] = set()
    values: list[Any] = []
    contributors: list[str] = []
    for v in versions:
        for item in v.body[name]:
            key = (item.get("system"), item.get("value")) if isinstance(item, dict) else (None, repr(item))
            if key in seen:
                continue
            seen.add(key)
            values.append(item)
            if v.source_system not in contributors:
                contributors.append(v.source_system)
    return values, tuple(contributors)

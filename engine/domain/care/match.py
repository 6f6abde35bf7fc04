"""Criteria on one resource, compiled from rule data: which resources show a fact, and on what date.

The same matcher decides a label (an active Condition) and closes a task (a blood pressure from any source), so
rules name the fact, never the system that recorded it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from engine.domain.care.fhir import Resource, codes, ref, texts, when

ACTIVE = frozenset({"active", "recurrence", "relapse"})
# Records that say the fact did not happen; they never count.
_VOID = frozenset({"entered-in-error", "cancelled", "not-done", "refuted"})
_CODE_FIELD = {
    "Condition": "code",
    "Observation": "code",
    "Procedure": "code",
    "Encounter": "type",
    "Immunization": "vaccineCode",
    "ServiceRequest": "code",
}
_KEYS = {"resource", "codes", "code_prefixes", "value_codes", "classes", "type_text", "with_condition", "statuses"}


@dataclass(frozen=True)
class Hit:
    """One resource that shows the fact, with its date and what about it matched (for evidence)."""

    resource: Resource
    on: date
    fact: str

    @property
    def ref(self) -> str:
        return ref(self.resource)


@dataclass(frozen=True)
class Matcher:
    resource: str
    codes: frozenset[str] = frozenset()
    code_prefixes: tuple[str, ...] = ()
    value_codes: frozenset[str] = frozenset()
    classes: frozenset[str] = frozenset()
    type_text: tuple[str, ...] = ()
    with_condition: tuple[str, ...] = ()  # Encounter: some Condition recorded at it has one of these prefixes
    statuses: frozenset[str] | None = ACTIVE  # Condition clinicalStatus; None = any

    def hits(self, resources: Sequence[Resource], on: date) -> list[Hit]:
        """Matching resources dated on or before `on`, oldest first (ties by id, so results are stable)."""
        found = []
        coded = bool(self.codes or self.code_prefixes)
        for resource in resources:
            if resource.get("resourceType") != self.resource:
                continue
            # The code first: it rules out most of a person's resources, before their status and date are read.
            code = self._code(resource) if coded else None
            if (coded and code is None) or _void(resource):
                continue
            day = when(resource)
            if day is None or day > on:
                continue
            fact = self._fact(resource, resources, code)
            if fact is not None:
                found.append(Hit(resource, day, fact))
        return sorted(found, key=lambda h: (h.on, h.ref))

    def _fact(self, resource: Resource, resources: Sequence[Resource], code: str | None) -> str | None:
        if self.value_codes and not self.value_codes.intersection(codes(resource.get("valueCodeableConcept"))):
            return None
        if self.classes and (resource.get("class") or {}).get("code") not in self.classes:
            return None
        if self.type_text and not any(w in t for t in texts(resource.get("type")) for w in self.type_text):
            return None
        if self.with_condition and not _diagnosed_at(resource, resources, self.with_condition):
            return None
        if self.resource == "Condition" and self.statuses is not None and _status(resource) not in self.statuses:
            return None
        return f"{self.resource} {code or ' '.join(texts(resource.get('type'))) or resource.get('id')}"

    def _code(self, resource: Resource) -> str | None:
        found = codes(resource.get(_CODE_FIELD.get(self.resource, "code")))
        for component in resource.get("component", []):  # a BP panel carries systolic as a component
            found += codes(component.get("code"))
        for code in found:
            if code in self.codes or code.startswith(self.code_prefixes or ("\0",)):
                return code
        return None


def compile_matcher(spec: Mapping[str, Any]) -> Matcher:
    """A matcher from rule data; unknown keys are errors, so a typo cannot silently widen a rule."""
    unknown = set(spec) - _KEYS
    if unknown or "resource" not in spec:
        known = sorted(_KEYS)
        raise ValueError(f"matcher {dict(spec)}: needs 'resource'; unknown keys {sorted(unknown)}; known {known}")
    statuses = spec.get("statuses", sorted(ACTIVE))
    return Matcher(
        resource=spec["resource"],
        codes=frozenset(str(c) for c in spec.get("codes", [])),
        code_prefixes=tuple(str(c) for c in spec.get("code_prefixes", [])),
        value_codes=frozenset(str(c) for c in spec.get("value_codes", [])),
        classes=frozenset(spec.get("classes", [])),
        type_text=tuple(spec.get("type_text", [])),
        with_condition=tuple(str(c) for c in spec.get("with_condition", [])),
        statuses=None if statuses == "any" else frozenset(statuses),
    )


def hits_any(matchers: Iterable[Matcher], resources: Sequence[Resource], on: date) -> list[Hit]:
    """Hits of any matcher, oldest first, each resource once."""
    seen: dict[str, Hit] = {}
    for matcher in matchers:
        for hit in matcher.hits(resources, on):
            seen.setdefault(hit.ref, hit)
    return sorted(seen.values(), key=lambda h: (h.on, h.ref))


def _status(condition: Resource) -> str:
    """clinicalStatus code; a Condition without one (allowed by R4) is read as active unless it has abated."""
    found = codes(condition.get("clinicalStatus"))
    if found:
        return found[0]
    return "resolved" if any(k.startswith("abatement") for k in condition) else "active"


def _void(resource: Resource) -> bool:
    return resource.get("status") in _VOID or bool(_VOID.intersection(codes(resource.get("verificationStatus"))))


def _diagnosed_at(encounter: Resource, resources: Sequence[Resource], prefixes: tuple[str, ...]) -> bool:
    target = ref(encounter)
    return any(
        r.get("resourceType") == "Condition"
        and (r.get("encounter") or {}).get("reference") == target
        and any(c.startswith(prefixes) for c in codes(r.get("code")))
        for r in resources
    )

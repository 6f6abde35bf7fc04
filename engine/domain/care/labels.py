"""Key-population labels (重点人群) derived from a resident's unified record on a given date, with the evidence.

A label is a fact about the record, not a flag someone set: it is recomputed from Patient, Condition and
Observation whenever it is asked for, and each one says which resource made it true.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from engine.domain.care.fhir import Resource, age_in_years, of_type, parse_date, ref
from engine.domain.care.match import Matcher, compile_matcher


@dataclass(frozen=True)
class Evidence:
    """What made a label (or closed a task): the resource, the fact read from it, and its date."""

    resource: str  # "Condition/c1"
    fact: str  # "Condition I10.x00", "age 67"
    on: date | None = None
    source: str | None = None  # meta.source: which system recorded it


@dataclass(frozen=True)
class Label:
    code: str
    name: str
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class _Criterion:
    """One way to qualify: an age band, or a matching resource (optionally recent)."""

    min_age: int | None = None
    below_age: int | None = None
    matcher: Matcher | None = None
    within_days: int | None = None


@dataclass(frozen=True)
class LabelRule:
    code: str
    name: str
    source: str
    any_of: tuple[_Criterion, ...]


def compile_labels(data: Mapping[str, Any]) -> list[LabelRule]:
    """Label rules from parsed `mappings/care/labels.yaml`."""
    rules = []
    for item in data["labels"]:
        if not item.get("source"):
            raise ValueError(f"label {item.get('code')}: every label names its source")
        rules.append(LabelRule(item["code"], item["name"], item["source"], tuple(map(_criterion, item["any_of"]))))
    return rules


def labels_of(rules: Sequence[LabelRule], resources: Sequence[Resource], on: date) -> list[Label]:
    """The labels the record supports on `on`, in rule order; facts dated after `on` are not yet known."""
    found = []
    for rule in rules:
        evidence = [e for c in rule.any_of for e in _evidence(c, resources, on)]
        if evidence:
            found.append(Label(rule.code, rule.name, tuple(evidence)))
    return found


def birth_date(resources: Sequence[Resource]) -> tuple[date, Resource] | None:
    """The resident's birth date and the Patient giving it (the lowest id if several sources hold one)."""
    for patient in sorted(of_type(list(resources), "Patient"), key=lambda p: str(p.get("id"))):
        born = parse_date(patient.get("birthDate"))
        if born:
            return born, patient
    return None


def _criterion(spec: Mapping[str, Any]) -> _Criterion:
    if "age" in spec:
        return _Criterion(min_age=spec["age"].get("min"), below_age=spec["age"].get("below"))
    return _Criterion(matcher=compile_matcher(spec["match"]), within_days=spec.get("within_days"))


def _evidence(criterion: _Criterion, resources: Sequence[Resource], on: date) -> list[Evidence]:
    if criterion.matcher is None:
        born = birth_date(resources)
        if born is None or born[0] > on:
            return []
        age = age_in_years(born[0], on)
        if (criterion.min_age is not None and age < criterion.min_age) or (
            criterion.below_age is not None and age >= criterion.below_age
        ):
            return []
        return [Evidence(ref(born[1]), f"age {age} (born {born[0].isoformat()})", born[0], _source(born[1]))]
    hits = criterion.matcher.hits(resources, on)
    if criterion.within_days is not None:
        hits = [h for h in hits if h.on >= on - timedelta(days=criterion.within_days)]
    return [Evidence(h.ref, h.fact, h.on, _source(h.resource)) for h in hits]


def _source(resource: Resource) -> str | None:
    return (resource.get("meta") or {}).get("source")

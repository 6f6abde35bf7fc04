"""Measurements against the specification's targets: is a visit's blood pressure or fasting glucose controlled?

Readings come from any source (public-health follow-up, hospital outpatient, lab); a day is judged on the last
reading of each measure that day, so a recheck ten minutes later counts and a morning reading does not outvote it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from engine.domain.care.fhir import Resource, codes, quantity, ref, sort_key
from engine.domain.care.match import Matcher


@dataclass(frozen=True)
class Measure:
    name: str
    codes: frozenset[str]
    unit: str

    def matcher(self) -> Matcher:
        return Matcher(resource="Observation", codes=self.codes)


@dataclass(frozen=True)
class Reading:
    measure: str
    value: float
    unit: str
    on: date
    at: str  # full timestamp text, for ordering within a day
    resource: str  # "Observation/o1"
    source: str | None


@dataclass(frozen=True)
class Control:
    """Uncontrolled when any measure's value reaches its threshold (≥), e.g. BP ≥140 systolic or ≥90 diastolic."""

    name: str
    source: str
    thresholds: tuple[tuple[str, float], ...]  # (measure, uncontrolled at or above)


@dataclass(frozen=True)
class Judgement:
    """One visit day's verdict, with the readings it rests on."""

    control: str
    on: date
    controlled: bool
    readings: tuple[Reading, ...]


def compile_measures(data: Mapping[str, Any]) -> dict[str, Measure]:
    return {
        name: Measure(name, frozenset(str(c) for c in spec["codes"]), spec["unit"])
        for name, spec in data.get("measures", {}).items()
    }


def compile_controls(data: Mapping[str, Any], measures: Mapping[str, Measure]) -> dict[str, Control]:
    controls = {}
    for name, spec in data.get("controls", {}).items():
        thresholds = tuple((m, float(v)) for m, v in spec["uncontrolled_at_or_above"].items())
        missing = [m for m, _ in thresholds if m not in measures]
        if missing or not spec.get("source"):
            raise ValueError(f"control {name}: needs a source; unknown measures {missing}")
        controls[name] = Control(name, spec["source"], thresholds)
    return controls


def readings(measure: Measure, resources: Sequence[Resource], on: date) -> list[Reading]:
    """Every value of the measure up to `on`, oldest first; panels (BP 85354-9) give their components."""
    found = []
    for hit in measure.matcher().hits(resources, on):
        obs = hit.resource
        parts = [obs, *obs.get("component", [])]
        for part in parts:
            if measure.codes.intersection(codes(part.get("code"))):
                value = quantity(part.get("valueQuantity"), measure.unit)
                if value is not None:
                    source = (obs.get("meta") or {}).get("source")
                    found.append(Reading(measure.name, value, measure.unit, hit.on, sort_key(obs), ref(obs), source))
    return sorted(found, key=lambda r: (r.at, r.resource))


def judgements(
    control: Control, measures: Mapping[str, Measure], resources: Sequence[Resource], on: date
) -> list[Judgement]:
    """One verdict per day with any reading of the control's measures, oldest first."""
    last: dict[date, dict[str, Reading]] = {}
    for measure, _ in control.thresholds:
        for reading in readings(measures[measure], resources, on):
            last.setdefault(reading.on, {})[measure] = reading  # readings are in time order: the last one stays
    out = []
    for day in sorted(last):
        taken = last[day]
        uncontrolled = any(m in taken and taken[m].value >= limit for m, limit in control.thresholds)
        out.append(Judgement(control.name, day, not uncontrolled, tuple(taken[m] for m, _ in control.thresholds
                                                                          if m in taken)))
    return out

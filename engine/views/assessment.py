"""A resident's health assessment (健康评估) generated from the unified record, with no manual entry.

The record is read as the person view reads it (merged Patient, every current resource), each resource tagged
with the system that recorded it, then the pure care rules of mappings/care/ judge it. Two renderings follow:
one JSON object for programs and FHIR R4 for other systems (the text for a doctor is the CLI's: cli/record.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection

from engine.domain.care import (
    Assessment,
    CareRules,
    ControlStatus,
    Evidence,
    Period,
    Task,
    assess,
)
from engine.domain.care.fhir import age_in_years, parse_date
from engine.domain.record.precedence import Rules
from engine.views.record_view import PersonView, person_view

CONTROL_NAMES = {"bp": "blood pressure", "fbg": "fasting glucose"}
_NAMESPACE = uuid.UUID("0b7f4f0e-3c55-4d0a-9a51-7f2e6d1c8a24")  # Huitong assessment outputs; never change it
_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
_CARE_CODES = "https://huitong.invalid/fhir/CodeSystem/care"


@dataclass(frozen=True)
class Report:
    """Who was assessed (as the record says) and the assessment; `targets`: each control's (measure, limit, unit)."""

    person: str
    name: str | None
    sex: str | None
    born: date | None
    assessment: Assessment
    targets: Mapping[str, tuple[tuple[str, float, str], ...]]

    @property
    def age(self) -> int | None:
        return age_in_years(self.born, self.assessment.on) if self.born else None


def resources_of(view: PersonView) -> list[dict[str, Any]]:
    """The merged Patient and every current resource, each with meta.source naming the system that recorded it.

    The stored bodies do not carry meta.source; the care rules read it to say where evidence came from. The
    merged Patient's is the system its birth date came from, the one fact (age) the rules read from it.
    """
    born_from = view.patient.sources.get("birthDate") or [None]
    patient = {**view.patient.body, "resourceType": "Patient", "id": view.person, "meta": {"source": born_from[0]}}
    out: list[dict[str, Any]] = [patient]
    for r in [e.resource for e in view.entries] + view.others:
        out.append({**r.body, "meta": {**(r.body.get("meta") or {}), "source": r.sources[0].source_system}})
    return out


def assess_person(
    conn: Connection, person: str, precedence: Mapping[str, Rules], rules: CareRules, on: date
) -> Report:
    """The assessment of `person` on `on`; tasks are planned for the calendar year of `on`."""
    task_rules = rules.tasks
    view = person_view(conn, person, precedence)
    period = Period(date(on.year, 1, 1), date(on.year, 12, 31))
    result = assess(rules.labels, task_rules, resources_of(view), on, period)
    body = view.patient.body
    targets = {
        name: tuple((m, limit, task_rules.measures[m].unit) for m, limit in c.thresholds)
        for name, c in task_rules.controls.items()
    }
    return Report(person, _name(body), body.get("gender"), parse_date(body.get("birthDate")), result, targets)


def _name(patient: Mapping[str, Any]) -> str | None:
    for name in patient.get("name") or []:
        text = name.get("text") or (name.get("family", "") + "".join(name.get("given", [])))
        if text:
            return str(text)
    return None


# -- rendering -----------------------------------------------------------------------------------------------
def _evidence(e: Evidence | None) -> dict[str, Any] | None:
    if e is None:
        return None
    return {"date": e.on.isoformat() if e.on else None, "resource": e.resource, "fact": e.fact, "source": e.source}


_UNITS = {"mm[Hg]": "mmHg"}  # UCUM code -> how people write it


def _num(value: float, unit: str) -> str:
    """Glucose with one decimal, as labs report it (7.0, not 7); whole numbers for blood pressure."""
    return f"{value:.1f}" if unit == "mmol/L" else f"{value:g}"


def values_text(status: ControlStatus) -> str:
    if not status.readings:
        return "not measured"
    unit = status.readings[0].unit
    return "/".join(_num(r.value, r.unit) for r in status.readings) + f" {_UNITS.get(unit, unit)}"


def target_text(status: ControlStatus, limits: tuple[tuple[str, float, str], ...]) -> str:
    """'< 140/90 mmHg' for the measures read (all when none was): the rules' thresholds are 'uncontrolled at ≥'."""
    measured = {r.measure for r in status.readings} or {m for m, _, _ in limits}
    shown = [(v, u) for m, v, u in limits if m in measured]
    if not shown:
        return "-"
    return "< " + "/".join(_num(v, u) for v, u in shown) + f" {_UNITS.get(shown[0][1], shown[0][1])}"


def verdict(status: ControlStatus) -> str:
    return {True: "controlled", False: "UNCONTROLLED", None: "not measured"}[status.controlled]


def _task(t: Task) -> dict[str, Any]:
    return {
        "id": t.id,
        "rule": t.rule,
        "label": t.label,
        "name": t.name,
        "start": t.start.isoformat(),
        "end": t.end.isoformat(),
        "state": t.state.value,
        "evidence": _evidence(t.evidence),
        "trigger": _evidence(t.trigger),
    }


def as_json(report: Report) -> dict[str, Any]:
    """Everything the text shows, as one JSON object."""
    a = report.assessment
    return {
        "person": report.person,
        "on": a.on.isoformat(),
        "name": report.name,
        "sex": report.sex,
        "birth_date": report.born.isoformat() if report.born else None,
        "age": report.age,
        "labels": [{"code": x.code, "name": x.name, "evidence": [_evidence(e) for e in x.evidence]} for x in a.labels],
        "controls": [
            {
                "control": c.control,
                "name": CONTROL_NAMES.get(c.control, c.control),
                "date": c.on.isoformat() if c.on else None,
                "readings": [
                    {"measure": r.measure, "value": r.value, "unit": r.unit, "resource": r.resource, "source": r.source}
                    for r in c.readings
                ],
                "target": target_text(c, report.targets.get(c.control, ())),
                "controlled": c.controlled,
            }
            for c in a.controls
        ],
        "tasks": {"done": [_task(t) for t in a.done], "overdue": [_task(t) for t in a.overdue],
                  "due": [_task(t) for t in a.open]},
        "risks": [{"code": r.code, "reason": r.reason} for r in a.risks],
    }


def as_fhir(report: Report) -> dict[str, Any]:
    """A FHIR R4 `collection` Bundle: a Composition first, then the Flags, Observations and Tasks it lists.

    Why not one ClinicalImpression: R4 models it as a clinician's assessment, with findings but no place for
    service tasks, and this one is computed by rules, not made by a person. A Composition holds the whole report
    in sections a receiver can show as they are, while each fact stays a resource it can use: labels and risks as
    Flags (a population the resident is in; a warning), each control verdict as an Observation with a standard
    interpretation (N/H) derived from the record's readings, each service task as a Task with its window.
    Ids are UUID5 of the person, date and fact, so the same record gives the same Bundle.
    """
    a, subject = report.assessment, {"reference": f"Patient/{report.person}"}
    day = a.on.isoformat()
    entries: list[dict[str, Any]] = []

    def add(resource: dict[str, Any], key: str) -> dict[str, str]:
        rid = str(uuid.uuid5(_NAMESPACE, f"{report.person}|{day}|{key}"))
        entries.append({"fullUrl": f"urn:uuid:{rid}", "resource": {**resource, "id": rid}})
        return {"reference": f"urn:uuid:{rid}"}

    def concept(code: str, display: str) -> dict[str, Any]:
        return {"coding": [{"system": _CARE_CODES, "code": code, "display": display}], "text": display}

    labels = [
        add({"resourceType": "Flag", "status": "active", "category": [{"text": "key population"}],
             "code": concept(x.code, x.name), "subject": subject}, f"label|{x.code}")
        for x in a.labels
    ]
    evidence = [{"reference": e.resource} for x in a.labels for e in x.evidence]
    controls = []
    for c in a.controls:
        if c.controlled is None:
            continue
        name, high = CONTROL_NAMES.get(c.control, c.control), not c.controlled
        controls.append(add({
            "resourceType": "Observation", "status": "final",
            "code": concept(f"{c.control}-control", f"{name} control"), "subject": subject,
            "effectiveDateTime": str(c.on),
            "valueCodeableConcept": {"text": verdict(c).lower()},
            "interpretation": [{"coding": [{"system": _INTERPRETATION, "code": "H" if high else "N",
                                            "display": "High" if high else "Normal"}]}],
            "note": [{"text": f"{values_text(c)}, target {target_text(c, report.targets.get(c.control, ()))}"}],
            "derivedFrom": [{"reference": r.resource} for r in c.readings],
        }, f"control|{c.control}"))
    status = {"DONE": "completed", "DUE": "ready", "OVERDUE": "ready", "LOST": "ready"}
    tasks = []
    for t in (*a.done, *a.overdue, *a.open):
        task: dict[str, Any] = {
            "resourceType": "Task", "identifier": [{"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{t.id}"}],
            "status": status[t.state.value], "businessStatus": {"text": t.state.value}, "intent": "plan",
            "code": concept(t.rule, t.name), "for": subject,
            "executionPeriod": {"start": t.start.isoformat(), "end": t.end.isoformat()},
            "note": [{"text": f"source: {t.source}"}],
        }
        if t.evidence:
            task["output"] = [{"type": {"text": "evidence"}, "valueReference": {"reference": t.evidence.resource}}]
        tasks.append(add(task, f"task|{t.id}"))
    risks = [
        add({"resourceType": "Flag", "status": "active", "category": [{"text": "clinical risk"}],
             "code": concept(r.code, r.reason), "subject": subject}, f"risk|{r.code}")
        for r in a.risks
    ]
    sections: list[dict[str, Any]] = [
        {"title": "labels", "entry": labels + evidence},
        {"title": "control", "entry": controls},
        {"title": "tasks", "entry": tasks},
        {"title": "risk flags", "entry": risks},
    ]
    for section in sections:
        if not section["entry"]:
            section["emptyReason"] = {"text": "nothing to list"}
            del section["entry"]
    composition = {
        "resourceType": "Composition", "status": "final", "type": {"text": "健康评估 health assessment"},
        "subject": subject, "date": day, "author": [{"display": "Huitong care rules (mappings/care)"}],
        "title": f"健康评估 {report.name or report.person} {day}",
        "section": sections,
    }
    rid = str(uuid.uuid5(_NAMESPACE, f"{report.person}|{day}|composition"))
    entries.insert(0, {"fullUrl": f"urn:uuid:{rid}", "resource": {**composition, "id": rid}})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}

"""Service tasks for a resident's labels over a period, and whether the record shows each one done.

Rules are data (`mappings/care/tasks.yaml`); this module turns them into windows and reads the record for the
service that closes each window, from any source. States, evaluated on a given date:

- PLANNED  the window has not opened yet
- DUE      the window is open and nothing closes it yet
- DONE     a closing service is dated inside the window (the evidence names it)
- OVERDUE  the window ended with nothing closing it
- LOST     失访: the N-th (or later) consecutive missed window of the same rule, N = the rule's
           `lost_after_missed`; a rule without it never marks LOST. Bsoft keeps 失访 as a manual status;
           here it is derived, so the doctor sees it before the year is over.

Task ids are UUID5 of (patient, rule, window start, trigger day): the same facts give the same ids, so
re-evaluating is idempotent and a store can upsert by id.
"""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from engine.domain.care.control import Control, Judgement, Measure, compile_controls, compile_measures, judgements
from engine.domain.care.fhir import Resource, age_in_years, of_type, parse_date
from engine.domain.care.labels import Evidence, Label, birth_date
from engine.domain.care.match import Hit, Matcher, compile_matcher, hits_any

_NAMESPACE = uuid.UUID("6f1c1e2a-5b7d-4c1e-9a43-2d8f0c7e9b10")  # Huitong care tasks; never change it


class TaskState(StrEnum):
    PLANNED = "PLANNED"
    DUE = "DUE"
    DONE = "DONE"
    OVERDUE = "OVERDUE"
    LOST = "LOST"


@dataclass(frozen=True)
class Period:
    """The span tasks are planned for (a calendar year, a contract cycle); both ends inclusive."""

    start: date
    end: date


@dataclass(frozen=True)
class Task:
    id: str
    rule: str
    label: str
    name: str
    start: date
    end: date  # inclusive
    state: TaskState
    source: str
    evidence: Evidence | None = None  # what closed it
    trigger: Evidence | None = None  # for follow-on tasks: the uncontrolled reading that created it


@dataclass(frozen=True)
class Offset:
    days: int = 0
    weeks: int = 0
    months: int = 0
    years: int = 0

    def after(self, anchor: date) -> date:
        return _add_months(anchor, self.years * 12 + self.months) + timedelta(days=self.days + 7 * self.weeks)


@dataclass(frozen=True)
class Visit:
    """One visit of a schedule: from `start` (inclusive) to `stop` (exclusive) after the anchor."""

    id: str
    name: str
    start: Offset
    stop: Offset


@dataclass(frozen=True)
class AnchorSource:
    matcher: Matcher
    value_date: bool  # use the Observation's valueDateTime (an LMP, an estimated delivery date)
    shift_days: int


@dataclass(frozen=True)
class TaskRule:
    id: str
    name: str
    label: str
    source: str
    closed_by: tuple[Matcher, ...]
    min_age: int | None = None
    every_months: int | None = None  # periodic: windows of this length from the period start
    anchor: str | None = None  # scheduled: birth_date or a named anchor
    schedule: tuple[Visit, ...] = ()
    after_uncontrolled: str | None = None  # follow-on: a control name
    within_days: int = 14
    lost_after_missed: int | None = None


@dataclass(frozen=True)
class TaskRules:
    rules: tuple[TaskRule, ...]
    measures: Mapping[str, Measure]
    controls: Mapping[str, Control]
    anchors: Mapping[str, tuple[AnchorSource, ...]]


def compile_tasks(data: Mapping[str, Any]) -> TaskRules:
    """Task rules from parsed `mappings/care/tasks.yaml`; a rule without a source is an error."""
    measures = compile_measures(data)
    controls = compile_controls(data, measures)
    anchors = {
        name: tuple(
            AnchorSource(compile_matcher(s["match"]), bool(s.get("value_date")), int(s.get("shift_days", 0)))
            for s in sources
        )
        for name, sources in data.get("anchors", {}).items()
    }
    rules = []
    for item in data["rules"]:
        if not item.get("source"):
            raise ValueError(f"task rule {item.get('id')}: every rule names its source")
        closed_by = tuple(_closing(spec, measures) for spec in item["closed_by"])
        follow = item.get("after_uncontrolled") or {}
        if follow and follow["control"] not in controls:
            raise ValueError(f"task rule {item['id']}: unknown control {follow['control']}")
        anchor = item.get("anchor")
        if anchor and anchor != "birth_date" and anchor not in anchors:
            raise ValueError(f"task rule {item['id']}: unknown anchor {anchor}")
        rules.append(
            TaskRule(
                id=item["id"],
                name=item["name"],
                label=item["label"],
                source=item["source"],
                closed_by=closed_by,
                min_age=item.get("min_age"),
                every_months=(item.get("windows") or {}).get("every_months"),
                anchor=anchor,
                schedule=tuple(
                    Visit(v["id"], v["name"], Offset(**v["from"]), Offset(**v["to"])) for v in item.get("schedule", [])
                ),
                after_uncontrolled=follow.get("control"),
                within_days=int(follow.get("within_days", 14)),
                lost_after_missed=item.get("lost_after_missed"),
            )
        )
    return TaskRules(tuple(rules), measures, controls, anchors)


def tasks_for(
    rules: TaskRules, labels: Sequence[Label], resources: Sequence[Resource], on: date, period: Period
) -> list[Task]:
    """Every task the resident's labels call for in `period`, with its state on `on`."""
    held = {label.code: label for label in labels}
    born = birth_date(resources)
    # Task ids name the patient: without a birth date, the Patient's id still does (never one id for all such).
    ids = [str(p.get("id")) for p in of_type(list(resources), "Patient")]
    patient = str(born[1].get("id")) if born else min(ids, default="unknown")
    tasks: list[Task] = []
    for rule in rules.rules:
        label = held.get(rule.label)
        if label is None or (rule.min_age is not None and (born is None or age_in_years(born[0], on) < rule.min_age)):
            continue
        if rule.every_months:
            windows = _periodic(rule, period, _since(label))
        elif rule.schedule:
            windows = _scheduled(rule, rules, resources, on, born[0] if born else None, period)
        elif rule.after_uncontrolled:
            tasks += _follow_ons(rule, rules, resources, on, period, patient)
            continue
        else:
            raise ValueError(f"task rule {rule.id}: needs windows, a schedule or after_uncontrolled")
        tasks += _states(rule, windows, resources, on, patient)
    return tasks


def _closing(spec: Mapping[str, Any], measures: Mapping[str, Measure]) -> Matcher:
    if "measure" in spec:
        return measures[spec["measure"]].matcher()
    return compile_matcher(spec)


def _since(label: Label) -> date | None:
    """The earliest date the label's evidence shows; windows ending before it were not the doctor's to do."""
    days = [e.on for e in label.evidence if e.on is not None]
    return min(days) if days else None


def _periodic(rule: TaskRule, period: Period, since: date | None) -> list[tuple[str, str, date, date]]:
    windows = []
    step = rule.every_months or 12
    index, start = 0, period.start
    while start <= period.end:
        end = min(_add_months(period.start, step * (index + 1)) - timedelta(days=1), period.end)
        if since is None or end >= since:
            windows.append((f"{rule.id}#{index + 1}", f"{rule.name} ({index + 1})", start, end))
        index += 1
        start = _add_months(period.start, step * index)
    return windows


def _scheduled(
    rule: TaskRule,
    rules: TaskRules,
    resources: Sequence[Resource],
    on: date,
    born: date | None,
    period: Period,
) -> list[tuple[str, str, date, date]]:
    anchor = born if rule.anchor == "birth_date" else _anchor(rules.anchors[rule.anchor or ""], resources, on)
    if anchor is None:
        return []
    windows = []
    for visit in rule.schedule:
        start, end = visit.start.after(anchor), visit.stop.after(anchor) - timedelta(days=1)
        if start <= period.end and end >= period.start:
            windows.append((visit.id, visit.name, start, end))
    return windows


def _anchor(sources: Sequence[AnchorSource], resources: Sequence[Resource], on: date) -> date | None:
    """The latest anchor date any source gives (the current pregnancy, the last delivery)."""
    found = []
    for source in sources:
        for hit in source.matcher.hits(resources, on):
            day = parse_date(hit.resource.get("valueDateTime")) if source.value_date else hit.on
            if day is not None:
                found.append(day + timedelta(days=source.shift_days))
    return max(found) if found else None


def _states(
    rule: TaskRule, windows: list[tuple[str, str, date, date]], resources: Sequence[Resource], on: date, patient: str
) -> list[Task]:
    hits = hits_any(rule.closed_by, resources, on)
    tasks, missed = [], 0
    for key, name, start, end in windows:
        closing = next((h for h in hits if start <= h.on <= end), None)
        if closing is not None:
            state, missed = TaskState.DONE, 0
        elif start > on:
            state = TaskState.PLANNED
        elif end >= on:
            state = TaskState.DUE
        else:
            missed += 1
            lost = rule.lost_after_missed is not None and missed >= rule.lost_after_missed
            state = TaskState.LOST if lost else TaskState.OVERDUE
        tasks.append(
            Task(_id(patient, rule.id, key, start), rule.id, rule.label, name, start, end, state, rule.source,
                 _evidence(closing) if closing else None)
        )
    return tasks


def _follow_ons(
    rule: TaskRule, rules: TaskRules, resources: Sequence[Resource], on: date, period: Period, patient: str
) -> list[Task]:
    """A recheck within N days after each uncontrolled visit day in the period, closed by a later reading."""
    control = rules.controls[rule.after_uncontrolled or ""]
    hits = hits_any(rule.closed_by, resources, on)
    tasks = []
    for verdict in judgements(control, rules.measures, resources, on):
        if verdict.controlled or not period.start <= verdict.on <= period.end:
            continue
        start, end = verdict.on + timedelta(days=1), verdict.on + timedelta(days=rule.within_days)
        closing = next((h for h in hits if start <= h.on <= end), None)
        state = TaskState.DONE if closing else TaskState.DUE if end >= on else TaskState.OVERDUE
        tasks.append(
            Task(_id(patient, rule.id, verdict.on.isoformat(), start), rule.id, rule.label,
                 f"{rule.name} (after {verdict.on.isoformat()})", start, end, state, rule.source,
                 _evidence(closing) if closing else None, _trigger(verdict))
        )
    return tasks


def _trigger(verdict: Judgement) -> Evidence:
    values = ", ".join(f"{r.measure} {r.value:g} {r.unit}" for r in verdict.readings)
    first = verdict.readings[0]
    return Evidence(first.resource, f"{verdict.control} uncontrolled: {values}", verdict.on, first.source)


def _evidence(hit: Hit) -> Evidence:
    return Evidence(hit.ref, hit.fact, hit.on, (hit.resource.get("meta") or {}).get("source"))


def _id(patient: str, rule: str, key: str, start: date) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{patient}|{rule}|{key}|{start.isoformat()}"))


def _add_months(day: date, months: int) -> date:
    """Calendar months later, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    total = day.month - 1 + months
    year, month = day.year + total // 12, total % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))

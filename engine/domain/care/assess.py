"""The facts of a health assessment (健康评估): labels, latest readings against targets, tasks, risk flags.

Pure data for a report or a screen; wording and layout come later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from engine.domain.care.control import Judgement, Reading, judgements
from engine.domain.care.fhir import Resource
from engine.domain.care.labels import Label, LabelRule, labels_of
from engine.domain.care.tasks import Period, Task, TaskRules, TaskState, tasks_for

# Emergency levels in the hypertension follow-up (≥180 systolic or ≥110 diastolic → urgent referral) [S27].
_URGENT_BP = (("systolic_bp", 180.0), ("diastolic_bp", 110.0))


@dataclass(frozen=True)
class ControlStatus:
    """The latest visit day's verdict for one control (bp, fbg); `controlled` is None when never measured."""

    control: str
    on: date | None
    controlled: bool | None
    readings: tuple[Reading, ...]


@dataclass(frozen=True)
class RiskFlag:
    code: str
    reason: str


@dataclass(frozen=True)
class Assessment:
    on: date
    labels: tuple[Label, ...]
    controls: tuple[ControlStatus, ...]
    done: tuple[Task, ...]
    open: tuple[Task, ...]  # DUE
    overdue: tuple[Task, ...]  # OVERDUE and LOST
    risks: tuple[RiskFlag, ...]


def assess(
    label_rules: Sequence[LabelRule], task_rules: TaskRules, resources: Sequence[Resource], on: date, period: Period
) -> Assessment:
    """Everything an assessment states about the resident on `on`, computed from the record alone."""
    labels = labels_of(label_rules, resources, on)
    tasks = tasks_for(task_rules, labels, resources, on, period)
    history = {name: judgements(c, task_rules.measures, resources, on) for name, c in task_rules.controls.items()}
    controls = tuple(_latest(name, days) for name, days in history.items())
    return Assessment(
        on=on,
        labels=tuple(labels),
        controls=controls,
        done=tuple(t for t in tasks if t.state is TaskState.DONE),
        open=tuple(t for t in tasks if t.state is TaskState.DUE),
        overdue=tuple(t for t in tasks if t.state in (TaskState.OVERDUE, TaskState.LOST)),
        risks=tuple(_risks(history, tasks)),
    )


def _latest(name: str, days: list[Judgement]) -> ControlStatus:
    if not days:
        return ControlStatus(name, None, None, ())
    last = days[-1]
    return ControlStatus(name, last.on, last.controlled, last.readings)


def _risks(history: dict[str, list[Judgement]], tasks: Sequence[Task]) -> list[RiskFlag]:
    """Flags the specification ties to referral, plus being lost to follow-up."""
    flags = []
    for name, days in history.items():
        if len(days) >= 2 and not days[-1].controlled and not days[-2].controlled:
            flags.append(RiskFlag(f"{name}-uncontrolled-twice", f"{name}: two uncontrolled visits in a row → refer"))
    bp = history.get("bp") or []
    if bp and any(r.measure == m and r.value >= limit for r in bp[-1].readings for m, limit in _URGENT_BP):
        flags.append(RiskFlag("bp-urgent", "BP ≥180/110 at the latest visit → urgent referral"))
    if any(t.state is TaskState.LOST for t in tasks):
        flags.append(RiskFlag("lost-to-follow-up", "consecutive follow-up windows missed"))
    return flags

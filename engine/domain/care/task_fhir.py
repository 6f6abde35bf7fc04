"""A care task's state change as the family doctor's worklist (FHIR R4 Task) and an SMS/app gateway (plain JSON)
receive it.

The FHIR Task is addressed by its identifier (`urn:huitong:care-task`, the task's stable id), so a receiver can
conditionally update one Task per care task as its state moves; the resident and the doctor are logical
references by identifier, resolved by the receiver against its own Patient and Practitioner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.domain.care.labels import Evidence
from engine.domain.care.tasks import Task, TaskState
from engine.domain.mapping.result import RESIDENT_ID_SYSTEM

TASK_SYSTEM = "urn:huitong:care-task"
CARE_CODES = "https://huitong.invalid/fhir/CodeSystem/care"  # rule codes, as the assessment's FHIR output names them
STATE_CODES = "https://huitong.invalid/fhir/CodeSystem/care-task-state"

# FHIR Task.status per state, and the business status a worklist shows. A planned task (window not yet open) is
# `requested`: real and assigned, with restriction.period saying when it can be done; `ready` is for an open window.
_STATUS: dict[TaskState, tuple[str, str, str]] = {
    TaskState.PLANNED: ("requested", "planned", "window not yet open"),
    TaskState.DUE: ("ready", "due", "due"),
    TaskState.OVERDUE: ("ready", "overdue", "overdue"),
    TaskState.LOST: ("failed", "lost-to-follow-up", "lost to follow-up (失访)"),
    TaskState.DONE: ("completed", "done", "done"),
}


def states_of(status: str) -> list[TaskState]:
    """The task states a FHIR Task.status stands for (ready: due and overdue); none for a status never used."""
    return [state for state, (fhir_status, _, _) in _STATUS.items() if fhir_status == status]


@dataclass(frozen=True)
class TaskChange:
    """A task that is new for the person, or whose state moved from `before`."""

    person_id: str
    task: Task
    before: TaskState | None

    @property
    def kind(self) -> str:
        """'new DUE', 'DUE->DONE': what the change counts as in a summary."""
        state = self.task.state.value
        return f"new {state}" if self.before is None else f"{self.before.value}->{state}"


def fhir_task(task: Task, *, resident_id: str | None, person_id: str, doctor: tuple[str, str] | None) -> dict[str, Any]:
    """The task as a FHIR R4 Task; `doctor` is the owner's (identifier system, value)."""
    status, code, display = _STATUS[task.state]
    window = {"start": task.start.isoformat(), "end": task.end.isoformat()}
    resource: dict[str, Any] = {
        "resourceType": "Task",
        "identifier": [{"system": TASK_SYSTEM, "value": task.id}],
        "status": status,
        "businessStatus": {"coding": [{"system": STATE_CODES, "code": code, "display": display}], "text": display},
        "intent": "order",
        "code": {"coding": [{"system": CARE_CODES, "code": task.rule, "display": task.name}], "text": task.name},
        "description": task.name,
        "for": (
            {"type": "Patient", "identifier": {"system": RESIDENT_ID_SYSTEM, "value": resident_id}}
            if resident_id
            else {"reference": f"Patient/{person_id}"}
        ),
        "executionPeriod": window,
        "restriction": {"period": window},
        "note": [{"text": f"source: {task.source}"}],
    }
    if doctor is not None:
        resource["owner"] = {"type": "Practitioner", "identifier": {"system": doctor[0], "value": doctor[1]}}
    if task.trigger is not None:
        resource["reasonCode"] = {"text": task.trigger.fact}
        resource["reasonReference"] = {"reference": task.trigger.resource}
    if task.state is TaskState.DONE and task.evidence is not None:
        evidence = {"reference": task.evidence.resource, "display": task.evidence.fact}
        resource["focus"] = evidence
        resource["output"] = [{"type": {"text": "evidence"}, "valueReference": evidence}]
    return resource


def task_json(change: TaskChange) -> dict[str, Any]:
    """The change as one JSON object for a gateway that sends SMS or app notices (ids, no personal data)."""
    return {**task_fields(change.person_id, change.task), "before": change.before.value if change.before else None}


def task_fields(person_id: str, task: Task) -> dict[str, Any]:
    """A task as plain JSON: who, which rule, its state, the window it is due in, what closed or triggered it."""
    return {
        "task": task.id,
        "person": person_id,
        "rule": task.rule,
        "label": task.label,
        "name": task.name,
        "state": task.state.value,
        "due": {"start": task.start.isoformat(), "end": task.end.isoformat()},
        "evidence": _evidence(task.evidence),
        "trigger": _evidence(task.trigger),
    }


def _evidence(e: Evidence | None) -> dict[str, Any] | None:
    if e is None:
        return None
    return {"resource": e.resource, "fact": e.fact, "date": e.on.isoformat() if e.on else None, "source": e.source}

"""A care task as the family doctor's worklist receives it (FHIR R4 Task) and as an SMS/app gateway does (JSON)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from engine.domain.care import Evidence, Task, TaskState
from engine.domain.care.task_fhir import TaskChange, fhir_task, task_json

PERSON = "01a206bd8940308394f70dec7d83b87d"
RESIDENT = "360426195803120034"  # 张建华, invented
DOCTOR = ("urn:huitong:id:phs.county:doctor", "D-3604260012")
SOURCE = "高血压患者健康管理服务规范（第三版）随访评估：每年至少4次面对面随访 [S27]"
READING = Evidence("Observation/01a206bdb29bfadb042d1d13a8751530", "Observation 8480-6", date(2026, 5, 25),
                   "his.county-people-hospital")


def follow_up(state: TaskState, evidence: Evidence | None = None) -> Task:
    return Task("5b0f7a52-6c1e-5d7b-9f0e-3a4c2b1d0e9f", "htn-followup", "hypertension", "高血压患者面对面随访 (2)",
                date(2026, 4, 1), date(2026, 6, 30), state, SOURCE, evidence)


def valid(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource, after fhir.resources has accepted it as a FHIR Task."""
    get_fhir_model_class("Task").model_validate(resource)
    return resource


def test_a_due_task_is_ready_for_the_resident_and_owned_by_the_family_doctor() -> None:
    task = valid(fhir_task(follow_up(TaskState.DUE), resident_id=RESIDENT, person_id=PERSON, doctor=DOCTOR))
    assert task["identifier"] == [{"system": "urn:huitong:care-task", "value": "5b0f7a52-6c1e-5d7b-9f0e-3a4c2b1d0e9f"}]
    assert (task["status"], task["intent"], task["businessStatus"]["coding"][0]["code"]) == ("ready", "order", "due")
    assert task["code"]["coding"][0]["code"] == "htn-followup" and task["code"]["text"] == "高血压患者面对面随访 (2)"
    assert task["description"] == "高血压患者面对面随访 (2)"
    assert task["for"] == {"type": "Patient",
                           "identifier": {"system": "urn:oid:2.16.156.10011.1.3", "value": RESIDENT}}
    assert task["owner"] == {"type": "Practitioner", "identifier": {"system": DOCTOR[0], "value": DOCTOR[1]}}
    window = {"start": "2026-04-01", "end": "2026-06-30"}
    assert task["executionPeriod"] == window and task["restriction"] == {"period": window}
    assert "output" not in task and "focus" not in task


def test_an_overdue_task_stays_ready_with_business_status_overdue() -> None:
    task = valid(fhir_task(follow_up(TaskState.OVERDUE), resident_id=RESIDENT, person_id=PERSON, doctor=DOCTOR))
    assert (task["status"], task["businessStatus"]["coding"][0]["code"]) == ("ready", "overdue")


def test_a_lost_task_failed_as_lost_to_follow_up() -> None:
    task = valid(fhir_task(follow_up(TaskState.LOST), resident_id=RESIDENT, person_id=PERSON, doctor=None))
    assert (task["status"], task["businessStatus"]["coding"][0]["code"]) == ("failed", "lost-to-follow-up")
    assert "owner" not in task


def test_a_done_task_is_completed_and_points_at_its_evidence() -> None:
    task = valid(fhir_task(follow_up(TaskState.DONE, READING), resident_id=RESIDENT, person_id=PERSON, doctor=DOCTOR))
    assert task["status"] == "completed"
    reference = {"reference": READING.resource, "display": "Observation 8480-6"}
    assert task["output"] == [{"type": {"text": "evidence"}, "valueReference": reference}]
    assert task["focus"] == reference


def test_without_a_resident_id_the_task_is_for_the_person_of_the_record() -> None:
    task = valid(fhir_task(follow_up(TaskState.DUE), resident_id=None, person_id=PERSON, doctor=None))
    assert task["for"] == {"reference": f"Patient/{PERSON}"}


def test_a_recheck_gives_the_uncontrolled_reading_as_its_reason() -> None:
    trigger = Evidence("Observation/01a206bd", "bp uncontrolled: systolic_bp 156 mm[Hg], diastolic_bp 96 mm[Hg]",
                       date(2026, 5, 22), "phs.county")
    recheck = Task("9d4e", "htn-recheck", "hypertension", "高血压控制不满意2周内随访 (after 2026-05-22)",
                   date(2026, 5, 23), date(2026, 6, 5), TaskState.DUE, SOURCE, None, trigger)
    task = valid(fhir_task(recheck, resident_id=RESIDENT, person_id=PERSON, doctor=DOCTOR))
    assert task["reasonReference"] == {"reference": "Observation/01a206bd"}
    assert "156" in task["reasonCode"]["text"]


@pytest.mark.parametrize("state", list(TaskState))
def test_every_state_makes_a_valid_task(state: TaskState) -> None:
    evidence = READING if state is TaskState.DONE else None
    valid(fhir_task(follow_up(state, evidence), resident_id=RESIDENT, person_id=PERSON, doctor=DOCTOR))


def test_the_gateway_json_names_the_task_the_person_the_change_and_the_evidence() -> None:
    change = TaskChange(PERSON, follow_up(TaskState.DONE, READING), TaskState.DUE)
    assert change.kind == "DUE->DONE"
    assert task_json(change) == {
        "task": "5b0f7a52-6c1e-5d7b-9f0e-3a4c2b1d0e9f",
        "person": PERSON,
        "rule": "htn-followup",
        "label": "hypertension",
        "name": "高血压患者面对面随访 (2)",
        "state": "DONE",
        "before": "DUE",
        "due": {"start": "2026-04-01", "end": "2026-06-30"},
        "evidence": {"resource": READING.resource, "fact": "Observation 8480-6", "date": "2026-05-25",
                     "source": "his.county-people-hospital"},
        "trigger": None,
    }


def test_a_new_task_has_no_state_before() -> None:
    change = TaskChange(PERSON, follow_up(TaskState.DUE), None)
    assert change.kind == "new DUE"
    assert task_json(change)["before"] is None

"""Care tasks kept in the store: `refresh` over a real store whose record was written by `apply`, as delivery does."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine

from engine.domain.care import TaskState
from engine.domain.mapping.result import Mapped, Resource
from engine.pipeline.care_tasks import TaskChange, refresh
from engine.pipeline.record import apply
from engine.store import care_tasks
from engine.store.database import migrate, open_engine
from tests.care.rules import shipped_care
from tests.record.people import HIS, HIS_MRN, PHS, message, mrn, patient, resident, source
from tests.support.mpi import shipped_resolver

# 张建华: an invented resident of the county, born 1958-03-12 (68 in 2026), hypertensive since 2019.
ZHANG_ID = "360426195803120034"
ZHANG_HIS = mrn(HIS_MRN, "H0068001")
ZHANG = {"name": [{"text": "张建华", "family": "张", "given": ["建华"]}], "gender": "male", "birthDate": "1958-03-12"}


def bp(key: str, at: str, systolic: float, diastolic: float) -> Resource:
    """A blood-pressure panel (LOINC 85354-9) with systolic and diastolic components."""

    def part(code: str, value: float) -> dict[str, Any]:
        return {"code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                "valueQuantity": {"value": value, "unit": "mmHg", "code": "mm[Hg]"}}

    body = {
        "resourceType": "Observation",
        "id": key.lower(),
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        "subject": {"reference": "Patient/pat-1"},
        "effectiveDateTime": at,
        "component": [part("8480-6", systolic), part("8462-4", diastolic)],
    }
    return Resource("observation", key, body)


def diagnosis(key: str, code: str, display: str, onset: str, **extra: Any) -> Resource:
    body = {
        "resourceType": "Condition",
        "id": key.lower(),
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": code, "display": display}]},
        "subject": {"reference": "Patient/pat-1"},
        "onsetDateTime": onset,
        **extra,
    }
    return Resource("condition", key, body)


def his(*resources: Resource) -> Mapped:
    """What the county hospital's HIS says about 张建华."""
    return message(patient(resident(ZHANG_ID), ZHANG_HIS, **ZHANG), *resources)


def phs(*resources: Resource, who: str = ZHANG_ID, **person: Any) -> Mapped:
    """What the public-health system says about a resident it knows by resident ID."""
    return message(patient(resident(who), **(person or ZHANG)), *resources, mapping="xml/phs")


class Store:
    """A store with the record path and the task refresh, as the engine runs them."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = open_engine(url)
        migrate(self.engine)
        self.message_id = 0

    def record(self, mapped: Mapped, system: str) -> None:
        self.message_id += 1
        with self.engine.begin() as conn:
            apply(conn, [(mapped, source(system, self.message_id))], time.time(), shipped_resolver())

    def refresh(self, on: str) -> list[TaskChange]:
        with self.engine.begin() as conn:
            return refresh(conn, care_tasks.persons(conn), date.fromisoformat(on), time.time(), shipped_care())

    def tasks(self, state: TaskState | None = None) -> list[care_tasks.StoredTask]:
        with self.engine.connect() as conn:
            return care_tasks.listing(conn, state=state)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """张建华, hypertensive since 2019, with a normal blood pressure from public health in February 2026."""
    yield from hypertensive(store_url)


def hypertensive(store_url: str) -> Iterator[Store]:
    s = Store(store_url)
    s.record(his(diagnosis("D-1", "I10", "原发性高血压", "2019-05-10")), HIS)
    s.record(phs(bp("BP-1", "2026-02-10T09:00:00+08:00", 128, 82)), PHS)
    yield s
    s.engine.dispose()


def states(changes: list[TaskChange]) -> dict[str, tuple[str | None, str]]:
    """rule#window name -> (before, after)."""
    return {c.task.name: (c.before.value if c.before else None, c.task.state.value) for c in changes}


def test_a_hypertensive_resident_gets_quarterly_follow_ups_and_the_annual_check(store: Store) -> None:
    changes = store.refresh("2026-05-20")
    assert states(changes) == {
        "高血压患者面对面随访 (1)": (None, "DONE"),
        "高血压患者面对面随访 (2)": (None, "DUE"),
        "高血压患者面对面随访 (3)": (None, "PLANNED"),
        "高血压患者面对面随访 (4)": (None, "PLANNED"),
        "老年人年度健康管理（健康体检） (1)": (None, "DUE"),
    }
    assert len({c.person_id for c in changes}) == 1
    done = next(c.task for c in changes if c.task.state is TaskState.DONE)
    assert done.evidence is not None and done.evidence.on == date(2026, 2, 10) and done.evidence.source == PHS
    assert done.evidence.resource.startswith("Observation/")
    stored = {s.task.id: s for s in store.tasks()}
    assert {c.task.id for c in changes} == set(stored)
    assert stored[done.id].task == done  # the whole task, evidence included, comes back as it was computed
    due = [s.task.name for s in store.tasks(TaskState.DUE)]
    assert due == ["老年人年度健康管理（健康体检） (1)", "高血压患者面对面随访 (2)"]


def test_refreshing_twice_gives_no_changes_the_second_time(store: Store) -> None:
    assert store.refresh("2026-05-20")
    before = store.tasks()
    assert store.refresh("2026-05-20") == []
    assert store.tasks() == before  # not even rewritten


def test_a_reading_from_another_source_closes_the_due_follow_up_with_its_evidence(store: Store) -> None:
    store.refresh("2026-05-20")
    store.record(his(bp("HIS-BP-7", "2026-05-25T10:15:00+08:00", 132, 84)), HIS)
    changes = store.refresh("2026-05-28")
    assert states(changes) == {"高血压患者面对面随访 (2)": ("DUE", "DONE")}
    (change,) = changes
    evidence = change.task.evidence
    assert evidence is not None and (evidence.on, evidence.source) == (date(2026, 5, 25), HIS)
    assert evidence.resource.startswith("Observation/") and evidence.fact == "Observation 8480-6"
    (stored,) = [s for s in store.tasks(TaskState.DONE) if s.task.id == change.task.id]
    assert stored.task.evidence == evidence


def test_a_window_that_passes_makes_the_task_overdue_and_opens_the_next(store: Store) -> None:
    store.refresh("2026-05-20")
    changes = store.refresh("2026-07-02")
    assert states(changes) == {
        "高血压患者面对面随访 (2)": ("DUE", "OVERDUE"),
        "高血压患者面对面随访 (3)": ("PLANNED", "DUE"),
    }


def test_an_uncontrolled_reading_creates_the_two_week_recheck(store: Store) -> None:
    store.refresh("2026-05-20")
    store.record(phs(bp("BP-2", "2026-05-22T09:30:00+08:00", 156, 96)), PHS)
    changes = store.refresh("2026-05-23")
    assert states(changes) == {
        "高血压患者面对面随访 (2)": ("DUE", "DONE"),
        "高血压控制不满意2周内随访 (after 2026-05-22)": (None, "DUE"),
    }
    recheck = next(c.task for c in changes if c.task.rule == "htn-recheck")
    assert (recheck.start, recheck.end) == (date(2026, 5, 23), date(2026, 6, 5))
    assert recheck.trigger is not None and "156" in recheck.trigger.fact


def test_a_task_whose_label_is_gone_is_kept_as_it_was(store: Store) -> None:
    store.refresh("2026-05-20")
    kept = store.tasks()
    resolved = diagnosis("D-1", "I10", "原发性高血压", "2019-05-10", abatementDateTime="2026-05-21")
    store.record(his(resolved), HIS)
    assert store.refresh("2026-07-02") == []  # no hypertension any more: its tasks stop changing
    hypertension = [s for s in store.tasks() if s.task.label == "hypertension"]
    assert hypertension == [s for s in kept if s.task.label == "hypertension"]


def test_a_window_open_at_the_turn_of_the_year_is_judged_after_it(store: Store) -> None:
    store.refresh("2026-11-20")
    assert [s.task.name for s in store.tasks(TaskState.DUE)] == ["老年人年度健康管理（健康体检） (1)",
                                                                "高血压患者面对面随访 (4)"]
    changes = store.refresh("2027-01-10")
    moved = {c.task.name: (c.before, c.task.state) for c in changes if c.before is not None}
    assert moved == {
        "老年人年度健康管理（健康体检） (1)": (TaskState.DUE, TaskState.LOST),
        "高血压患者面对面随访 (4)": (TaskState.DUE, TaskState.LOST),  # Q3 and Q4 missed: 失访
    }
    assert {c.task.start.year for c in changes if c.before is None} == {2027}


def test_residents_without_a_birth_date_get_tasks_of_their_own(store: Store) -> None:
    # Two residents under severe-mental-disorder management whose records hold no birth date.
    for who, name, gender in (("360426197104150022", "刘桂兰", "female"), ("360426198209300015", "陈志强", "male")):
        smi = diagnosis(f"SMI-{who}", "F20", "精神分裂症", "2020-01-01")
        store.record(phs(smi, who=who, name=[{"text": name}], gender=gender), PHS)
    changes = store.refresh("2026-05-20")
    smi = [c for c in changes if c.task.rule == "smi-followup"]
    assert len({c.person_id for c in smi}) == 2
    assert len({c.task.id for c in smi}) == len(smi) == 8
    assert len([s for s in store.tasks() if s.task.rule == "smi-followup"]) == 8

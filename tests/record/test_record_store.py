"""The record on both backends: versions, coexisting sources, shared facts, resolution, merges."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from sqlalchemy import Engine, select

from engine.pipeline.record import AppliedSummary, apply
from engine.store import record
from engine.store.database import migrate, open_engine
from engine.store.schema import audit, record_identifiers, record_merges, record_persons, record_resources
from tests.record.people import (
    HIS,
    HIS_ADDRESS,
    HIS_MRN,
    PHS,
    PHS_ADDRESS,
    WANG_HIS,
    WANG_ID,
    WANG_NAME,
    WANG_PHS,
    condition,
    encounter,
    merge,
    message,
    mrn,
    patient,
    resident,
    source,
)
from tests.support.mpi import shipped_resolver

NOW = 1_790_000_000.0


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = open_engine(store_url)
    migrate(engine)
    yield engine
    engine.dispose()


def run(engine: Engine, *items, now: float = NOW) -> list[AppliedSummary]:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        return apply(conn, list(items), now, shipped_resolver())


def resources(engine: Engine, person: str) -> list[record.Current]:
    with engine.connect() as conn:
        return record.current(conn, person)


def of_type(engine: Engine, person: str, kind: str) -> list[record.Current]:
    return [r for r in resources(engine, person) if r.type == kind]


def test_a_same_source_update_makes_version_2_and_keeps_version_1(engine: Engine) -> None:
    [first] = run(engine, (message(patient(WANG_HIS), encounter("V001", "2026-03-01T08:00:00+08:00")), source(HIS, 1)))
    changed = encounter("V001", "2026-03-01T08:00:00+08:00", display="住院")
    [second] = run(engine, (message(patient(WANG_HIS), changed), source(HIS, 2)), now=NOW + 60)
    assert (second.person_id, second.versioned) == (first.person_id, 1)
    [enc] = of_type(engine, first.person_id or "", "Encounter")
    with engine.connect() as conn:
        history = record.versions(conn, enc.id)
    assert [(v, body["class"]["display"], src.message_id) for v, body, src in history] == [
        (1, "门诊", 1),
        (2, "住院", 2),
    ]
    assert enc.version == 2


def test_a_resend_of_the_same_content_writes_no_version(engine: Engine) -> None:
    item = (message(patient(WANG_HIS), encounter("V001", "2026-03-01")), source(HIS, 1))
    run(engine, item)
    [again] = run(engine, item)
    assert (again.created, again.versioned, again.unchanged) == (0, 0, 2)


def test_two_sources_keep_their_own_patient_for_one_person(engine: Engine) -> None:
    his = patient(resident(WANG_ID), WANG_HIS, name=WANG_NAME, address=HIS_ADDRESS)
    phs = patient(resident(WANG_ID), WANG_PHS, address=PHS_ADDRESS)
    [a, b] = run(engine, (message(his), source(HIS, 1)), (message(phs), source(PHS, 2, "phs-xml")))
    assert a.person_id == b.person_id
    patients = of_type(engine, a.person_id or "", "Patient")
    assert sorted(p.sources[0].source_system for p in patients) == [HIS, PHS]


def test_an_identical_fact_from_a_second_source_is_kept_once_with_both_provenances(engine: Engine) -> None:
    his = message(patient(resident(WANG_ID)), condition("原发性高血压", "2019-05-10", key="D-778", local="c1"))
    phs = message(patient(resident(WANG_ID)), condition("原发性高血压", "2019-05-10", local="htn"), mapping="xml/phs")
    [_, second] = run(engine, (his, source(HIS, 1)), (phs, source(PHS, 2, "phs-xml")))
    assert second.shared == 1
    [htn] = of_type(engine, second.person_id or "", "Condition")
    assert [(s.source_system, s.message_id, s.mapping) for s in htn.sources] == [
        (HIS, 1, "hl7v2/adt"),
        (PHS, 2, "xml/phs"),
    ]
    assert second.ids["Condition/htn"] == f"Condition/{htn.id}"


def test_references_between_resources_of_a_message_point_at_stored_ids(engine: Engine) -> None:
    [s] = run(
        engine,
        (message(patient(WANG_HIS), encounter("V9", "2026-04-02"), condition("糖尿病", "2026-04-02")), source(HIS, 1)),
    )
    [cond] = of_type(engine, s.person_id or "", "Condition")
    [enc] = of_type(engine, s.person_id or "", "Encounter")
    assert cond.body["subject"] == {"reference": f"Patient/{s.person_id}"}
    assert cond.body["encounter"] == {"reference": f"Encounter/{enc.id}"}
    assert enc.body["id"] == enc.id


def test_the_resident_id_finds_the_person_before_the_mrn(engine: Engine) -> None:
    [by_his] = run(engine, (message(patient(resident(WANG_ID), WANG_HIS)), source(HIS, 1)))
    [by_phs] = run(engine, (message(patient(resident(WANG_ID), WANG_PHS)), source(PHS, 2)))
    [by_mrn] = run(engine, (message(patient(WANG_HIS)), source(HIS, 3)))
    [stranger] = run(engine, (message(patient(mrn(HIS_MRN, "H0099999"))), source(HIS, 4)))
    assert by_his.person_id == by_phs.person_id == by_mrn.person_id
    assert stranger.person_id != by_his.person_id
    with engine.connect() as conn:
        held = {r.value: r.person_id for r in conn.execute(select(record_identifiers))}
    assert held[WANG_PHS["value"]] == by_his.person_id  # every identifier of the Patient is registered


def test_an_mrn_is_matched_on_system_and_value(engine: Engine) -> None:
    [his] = run(engine, (message(patient(mrn(HIS_MRN, "1001"))), source(HIS, 1)))
    [other] = run(engine, (message(patient(mrn("urn:oid:other-hospital", "1001"))), source("his.other", 2)))
    assert his.person_id != other.person_id


def test_later_messages_of_a_batch_find_the_person_an_earlier_one_created(engine: Engine) -> None:
    summaries = run(
        engine,
        (message(patient(WANG_HIS), encounter("V1", "2026-01-01")), source(HIS, 1)),
        (message(patient(WANG_HIS), encounter("V1", "2026-01-01", display="急诊")), source(HIS, 2)),
    )
    assert summaries[0].person_id == summaries[1].person_id
    assert summaries[1].versioned == 1


def test_an_update_that_gives_a_record_another_persons_resident_id_merges_it_into_that_person(engine: Engine) -> None:
    [by_id] = run(engine, (message(patient(resident(WANG_ID))), source(PHS, 1)))
    [by_mrn] = run(engine, (message(patient(WANG_HIS)), source(HIS, 2)))
    assert by_id.person_id != by_mrn.person_id
    [both] = run(engine, (message(patient(resident(WANG_ID), WANG_HIS)), source(HIS, 3)))
    assert both.person_id == by_id.person_id
    with engine.connect() as conn:
        owner = conn.execute(select(record_identifiers.c.person_id).where(record_identifiers.c.value == "H0012345"))
        assert owner.scalar() == by_id.person_id
        assert record.surviving(conn, by_mrn.person_id) == by_id.person_id  # a merge, kept for an unmerge


def test_patient_merge_repoints_identifiers_and_resources_and_keeps_what_moved(engine: Engine) -> None:
    old_mrn = mrn(HIS_MRN, "H0000777")
    [retired] = run(engine, (message(patient(old_mrn), encounter("V-old", "2025-12-01")), source(HIS, 1)))
    [kept] = run(engine, (message(patient(WANG_HIS), encounter("V-new", "2026-02-01")), source(HIS, 2)))
    a40 = message(patient(WANG_HIS), events=(merge([WANG_HIS], [old_mrn]),))
    [merged] = run(engine, (a40, source(HIS, 3)))
    assert (merged.person_id, merged.merged) == (kept.person_id, retired.person_id)
    encounters = of_type(engine, kept.person_id or "", "Encounter")
    assert sorted(e.body["period"]["start"] for e in encounters) == ["2025-12-01", "2026-02-01"]
    with engine.connect() as conn:
        assert (
            conn.execute(select(record_resources).where(record_resources.c.person_id == retired.person_id)).all() == []
        )
        [m] = conn.execute(select(record_merges)).all()
        [entry] = conn.execute(select(audit).where(audit.c.action == "record.merge")).all()
        person = conn.execute(select(record_persons).where(record_persons.c.id == retired.person_id)).one()
    assert orjson.loads(m.identifiers) == [[HIS_MRN, "H0000777"]]
    assert len(orjson.loads(m.resources)) == 2  # the retired person's Patient and encounter
    assert (m.surviving, m.retired, m.message_id) == (kept.person_id, retired.person_id, 3)
    assert "H0000777" not in (entry.detail or "")  # the audit names persons, not identifiers
    assert person.merged_into == kept.person_id
    [after] = run(engine, (message(patient(old_mrn)), source(HIS, 4)))
    assert after.person_id == kept.person_id


def test_a_message_after_a_merge_in_the_same_batch_lands_on_the_survivor(engine: Engine) -> None:
    old_mrn = mrn(HIS_MRN, "H0000777")
    run(engine, (message(patient(old_mrn)), source(HIS, 1)), (message(patient(WANG_HIS)), source(HIS, 2)))
    a40 = message(patient(WANG_HIS), events=(merge([WANG_HIS], [old_mrn]),))
    later = message(patient(old_mrn), encounter("V5", "2026-05-05"))
    [merged, after] = run(engine, (a40, source(HIS, 3)), (later, source(HIS, 4)))
    assert after.person_id == merged.person_id


def test_a_message_without_a_patient_files_nothing(engine: Engine) -> None:
    [s] = run(engine, (message(encounter("V1", "2026-01-01")), source(HIS, 1)))
    assert (s.person_id, s.skipped, s.created) == (None, 1, 0)

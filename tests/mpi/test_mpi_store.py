"""The MPI in the store: arrivals linked or queued, operator decisions that stick, merges that undo exactly."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from sqlalchemy import Connection, Engine

from engine.pipeline.mpi import MpiError, MpiResolver
from engine.pipeline.mpi_batch import dedupe_store
from engine.pipeline.record import AppliedSummary, apply
from engine.store import dbapi, record
from engine.store import mpi as store
from engine.store.database import migrate, open_engine
from tests.mpi._ids import with_check
from tests.record.people import (
    HIS,
    HIS_MRN,
    PHS,
    PHS_MRN,
    condition,
    encounter,
    message,
    mrn,
    patient,
    resident,
    source,
)
from tests.support.mpi import shipped_resolver

NOW = 1_790_000_000.0
LI_ID = with_check("33078119680314001")
LI = {"name": [{"text": "李建国"}], "gender": "male", "birthDate": "1968-03-14"}
LI_PHONE = {"telecom": [{"system": "phone", "value": "13905790001"}]}
EMR = "emr.county-hospital"
EMR_MRN = "urn:oid:2.16.156.10011.0.1.emr"


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = open_engine(store_url)
    migrate(engine)
    yield engine
    engine.dispose()


def arrive(engine: Engine, resolver: MpiResolver, *items: Any, now: float = NOW) -> list[AppliedSummary]:
    with engine.begin() as conn:
        return apply(conn, list(items), now, resolver)


def his_li(**fields: Any) -> Any:
    body = {**LI, **LI_PHONE, **fields}
    return message(patient(resident(LI_ID), mrn(HIS_MRN, "H-1"), **body), encounter("V1", "2026-01-12"))


def phs_li(**fields: Any) -> Any:
    """The public-health system's record of 李建国: no resident ID, a homophone given name."""
    body = {**LI, **LI_PHONE, "name": [{"text": "李健国"}], **fields}
    return message(patient(mrn(PHS_MRN, "P-1"), **body), condition("原发性高血压", "2019-05-10"), mapping="xml/phs")


def doubtful() -> Any:
    """The EMR's patient: a homophone name, a birth date one day off, another phone: likely, not certain."""
    body = {**LI, "name": [{"text": "李健国"}], "birthDate": "1968-03-15"}
    return message(patient(mrn(EMR_MRN, "E-9"), telecom=[{"system": "phone", "value": "13900000000"}], **body))


def records(conn: Connection, person: str) -> list[store.StoredRecord]:
    return store.of_persons(conn, [person])


def audit_actions(conn: Connection) -> list[str]:
    return [r[0] for r in dbapi.fetchall(conn, "SELECT action FROM audit ORDER BY id", [])]


def test_a_patient_from_a_second_source_without_the_id_is_linked_to_the_same_person(engine: Engine) -> None:
    resolver = shipped_resolver()
    [his] = arrive(engine, resolver, (his_li(), source(HIS, 1)))
    [phs] = arrive(engine, resolver, (phs_li(), source(PHS, 2, "phs-xml")))
    assert phs.person_id == his.person_id
    with engine.connect() as conn:
        linked = next(r for r in records(conn, his.person_id) if r.source_system == PHS)
        assert (linked.state, linked.link_source, linked.rule) == ("MATCH", "AUTO", "model")
        assert linked.probability is not None and linked.probability >= 0.99
        assert "mpi.link" in audit_actions(conn)


def test_a_doubtful_patient_becomes_a_new_person_and_waits_for_a_reviewer(engine: Engine) -> None:
    resolver = shipped_resolver()
    [his] = arrive(engine, resolver, (his_li(), source(HIS, 1)))
    [emr] = arrive(engine, resolver, (doubtful(), source(EMR, 2, "emr")))
    assert emr.person_id != his.person_id
    with engine.connect() as conn:
        [review] = store.reviews(conn)
        assert review.candidate == his.person_id
        assert store.by_ids(conn, [review.record_id])[0].state == "REVIEW"


def doubtful_case(engine: Engine) -> tuple[MpiResolver, str, str, store.Review]:
    resolver = shipped_resolver()
    [his] = arrive(engine, resolver, (his_li(), source(HIS, 1)))
    [emr] = arrive(engine, resolver, (doubtful(), source(EMR, 2, "emr")))
    with engine.connect() as conn:
        [review] = store.reviews(conn)
    return resolver, his.person_id, emr.person_id, review


def test_accepting_a_review_merges_the_new_person_into_the_candidate(engine: Engine) -> None:
    resolver, his, emr, review = doubtful_case(engine)
    with engine.begin() as conn:
        assert resolver.accept(conn, review.id, actor="dr.wang", reason="same person, checked ID card", now=NOW) == his
    with engine.connect() as conn:
        assert record.surviving(conn, emr) == his
        assert {r.source_system for r in records(conn, his)} == {HIS, EMR}
        assert store.reviews(conn, None)[0].status == "accepted"
        [(actor, detail)] = dbapi.fetchall(conn, "SELECT actor, detail FROM audit WHERE action = 'mpi.merge'", [])
        assert actor == "dr.wang"
        assert orjson.loads(detail)["why"] == "same person, checked ID card"


def test_a_rejected_review_is_never_matched_automatically_again(engine: Engine) -> None:
    resolver, _, emr, review = doubtful_case(engine)
    with engine.begin() as conn:
        resolver.reject(conn, review.id, actor="dr.wang", reason="different people", now=NOW)
    # The EMR record's update now agrees on everything: automatic re-matching still keeps them apart.
    update = message(patient(mrn(EMR_MRN, "E-9"), resident(LI_ID), **LI, **LI_PHONE))
    [again] = arrive(engine, resolver, (update, source(EMR, 3, "emr")), now=NOW + 60)
    assert again.person_id == emr
    with engine.connect() as conn:
        assert record.surviving(conn, emr) == emr
        assert [r.status for r in store.reviews(conn, None)] == ["rejected"]


def test_an_unmerge_gives_back_exactly_what_the_merge_moved(engine: Engine) -> None:
    resolver = shipped_resolver()
    [his] = arrive(engine, resolver, (his_li(), source(HIS, 1)))
    other = message(patient(mrn(EMR_MRN, "E-2"), name=[{"text": "赵敏"}], gender="female", birthDate="1975-01-02"))
    [emr] = arrive(engine, resolver, (other, source(EMR, 2, "emr")))
    with engine.connect() as conn:
        before = {p: _state(conn, p) for p in (his.person_id, emr.person_id)}
    with engine.begin() as conn:
        merge_id = resolver.merge_persons(conn, his.person_id, emr.person_id, actor="op", reason="test", now=NOW)
    with engine.connect() as conn:
        assert _state(conn, emr.person_id) == ([], [], [])
    with engine.begin() as conn:
        assert resolver.unmerge(conn, merge_id, actor="op", reason="wrong merge", now=NOW) == (
            his.person_id,
            emr.person_id,
        )
    with engine.connect() as conn:
        assert {p: _state(conn, p) for p in before} == before
        assert record.surviving(conn, emr.person_id) == emr.person_id
        with pytest.raises(MpiError, match="already undone"):
            resolver.unmerge(conn, merge_id, actor="op", reason="again", now=NOW)
        assert audit_actions(conn)[-1] == "mpi.unmerge"


def _state(conn: Connection, person: str) -> tuple[list[Any], list[Any], list[Any]]:
    identifiers = dbapi.fetchall(
        conn, "SELECT system, value FROM record_identifiers WHERE person_id = ? ORDER BY 1, 2", [person]
    )
    resources = dbapi.fetchall(conn, "SELECT id FROM record_resources WHERE person_id = ? ORDER BY 1", [person])
    mpi_records = dbapi.fetchall(conn, "SELECT id FROM mpi_records WHERE person_id = ? ORDER BY 1", [person])
    return identifiers, resources, mpi_records


def test_an_unmerged_pair_is_not_merged_again_by_automatic_matching(engine: Engine) -> None:
    resolver = shipped_resolver()
    [his] = arrive(engine, resolver, (his_li(), source(HIS, 1)))
    [phs] = arrive(engine, resolver, (phs_li(), source(PHS, 2, "phs-xml")))
    assert phs.person_id == his.person_id  # linked automatically: the PHS record is its own person no more
    with engine.begin() as conn:
        phs_record = next(r for r in records(conn, his.person_id) if r.source_system == PHS)
        separate = resolver.unlink(conn, phs_record.id, actor="op", reason="a namesake", now=NOW)
    [later] = arrive(engine, resolver, (phs_li(address=[{"text": "兰溪市游埠镇"}]), source(PHS, 3, "phs-xml")))
    assert later.person_id == separate != his.person_id
    with engine.connect() as conn:
        assert store.by_ids(conn, [phs_record.id])[0].link_source == "MANUAL"


def test_linking_a_record_by_hand_moves_it_with_its_resources(engine: Engine) -> None:
    resolver = shipped_resolver()
    [his] = arrive(engine, resolver, (his_li(), source(HIS, 1)))
    stranger = message(
        patient(mrn(EMR_MRN, "E-3"), name=[{"text": "李建"}], gender="male"), encounter("E1", "2026-02-01")
    )
    [emr] = arrive(engine, resolver, (stranger, source(EMR, 2, "emr")))
    assert emr.person_id != his.person_id
    with engine.begin() as conn:
        [emr_record] = records(conn, emr.person_id)
        resolver.link(conn, emr_record.id, his.person_id, actor="op", reason="nickname", now=NOW)
    with engine.connect() as conn:
        assert {r.source_system for r in records(conn, his.person_id)} == {HIS, EMR}
        assert {c.type for c in record.current(conn, his.person_id)} >= {"Encounter"}
        assert record.surviving(conn, emr.person_id) == his.person_id


def test_subscribing_channels_get_each_merge_with_both_persons_identifiers(engine: Engine) -> None:
    base = shipped_resolver()
    resolver = MpiResolver(base.matcher, {"mpi-to-his": frozenset({"merge"})}, "node-a")
    [his] = arrive(engine, resolver, (his_li(), source(HIS, 1)))
    other = message(patient(mrn(EMR_MRN, "E-2"), name=[{"text": "赵敏"}], gender="female"))
    [emr] = arrive(engine, resolver, (other, source(EMR, 2, "emr")))
    with engine.begin() as conn:
        resolver.merge_persons(conn, his.person_id, emr.person_id, actor="op", reason="test", now=NOW)
    with engine.connect() as conn:
        [(channel, kind, status, raw)] = dbapi.fetchall(
            conn, "SELECT channel, message_type, status, raw FROM messages WHERE source = 'mpi'", []
        )
    body = orjson.loads(raw)
    assert (channel, kind, status, body["event"]) == ("mpi-to-his", "mpi.merge", "RECEIVED", "mpi.merge")
    assert body["surviving"]["person"] == his.person_id and body["retired"]["person"] == emr.person_id
    assert {"system": EMR_MRN, "value": "E-2"} in body["surviving"]["identifiers"]


def test_batch_dedupe_merges_persons_that_arrived_apart_and_an_unmerge_undoes_it(engine: Engine) -> None:
    matcher = shipped_resolver().matcher
    strict = MpiResolver(type(matcher)(_never_link(matcher.settings), matcher.model))
    [his] = arrive(engine, strict, (his_li(), source(HIS, 1)))
    [phs] = arrive(engine, strict, (phs_li(), source(PHS, 2, "phs-xml")), now=NOW + 1)
    assert his.person_id != phs.person_id
    with engine.begin() as conn:
        summary = dedupe_store(conn, shipped_resolver(), source=PHS, actor="backfill", now=NOW)
    assert summary.merges == 1
    with engine.connect() as conn:
        assert record.surviving(conn, phs.person_id) == his.person_id


def _never_link(settings: Any) -> Any:
    from dataclasses import replace

    from engine.domain.mpi.settings import Thresholds

    return replace(settings, identity=None, thresholds=Thresholds(link=0.999999999999, review=0.99999999999))

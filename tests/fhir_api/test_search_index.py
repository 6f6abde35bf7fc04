"""The FHIR search index is written with the record, on both backends, and an identifier search uses it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from engine.domain import fhir_search
from engine.domain.mapping.result import Resource
from engine.pipeline.record import AppliedSummary, apply
from engine.store import fhir_index
from engine.store.schema import (
    fhir_search_date,
    fhir_search_quantity,
    fhir_search_reference,
    fhir_search_string,
    fhir_search_token,
    record_resources,
)
from tests.record.people import HIS, HIS_MRN, WANG_HIS, WANG_NAME, condition, encounter, message, patient, source
from tests.support.mpi import shipped_resolver

NOW = 1_790_000_000.0


def run(store: Engine, *items: Any, now: float = NOW) -> list[AppliedSummary]:
    with store.begin() as conn:
        return apply(conn, list(items), now, shipped_resolver())


def index_of(store: Engine, kind: str) -> tuple[set[tuple[Any, ...]], ...]:
    """The (token, string, date, quantity, reference) rows of every resource of one type."""
    ids = select(record_resources.c.id).where(record_resources.c.type == kind).scalar_subquery()
    with store.connect() as conn:
        return tuple(  # type: ignore[return-value]
            {tuple(r)[2:] for r in conn.execute(select(t).where(t.c.resource_id.in_(ids)))}
            for t in (
                fhir_search_token,
                fhir_search_string,
                fhir_search_date,
                fhir_search_quantity,
                fhir_search_reference,
            )
        )


def observation(code: str, when: str) -> Resource:
    body = {
        "resourceType": "Observation",
        "id": "obs-1",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": "Patient/pat-1"},
        "effectiveDateTime": when,
    }
    return Resource("observation", f"OBS-{code}", body)


WANG = patient(
    WANG_HIS,
    name=WANG_NAME,
    gender="male",
    birthDate="1968-03-14",
    telecom=[{"system": "phone", "value": "138-0579 0016"}],
)


def test_a_patient_written_through_the_record_has_its_index_rows(store: Engine) -> None:
    run(store, (message(WANG), source(HIS, 1)))
    tokens, strings, dates, _, _ = index_of(store, "Patient")
    assert tokens == {
        ("identifier", HIS_MRN, "H0012345"),
        ("gender", "", "male"),
        ("phone", "", "13805790016"),
        ("telecom", "phone", "13805790016"),
    }
    assert {v for p, v in strings if p == "name"} >= {"王建国", "wangjianguo", "建国", "jianguo"}
    assert dates == {("birthdate", "1968-03-14T00:00:00", "1968-03-14T23:59:59")}


def test_traditional_and_pinyin_names_meet_the_indexed_form(store: Engine) -> None:
    run(store, (message(WANG), source(HIS, 1)))
    strings = index_of(store, "Patient")[1]
    for query in ("王建國", "Wang Jianguo", "WANG JIANGUO", "建國"):
        assert fhir_search.name_forms(query) & {v for _, v in strings}, query


def test_clinical_resources_index_code_status_date_and_their_references(store: Engine) -> None:
    run(
        store,
        (
            message(
                patient(WANG_HIS),
                encounter("V001", "2026-03-01T08:00:00+08:00"),
                condition("高血压", "2024-05"),
                observation("8480-6", "2026-03-01T08:30:00+08:00"),
            ),
            source(HIS, 1),
        ),
    )
    with store.connect() as conn:
        person = conn.execute(select(record_resources.c.person_id)).scalars().first()
    tokens, strings, dates, quantities, references = index_of(store, "Observation")
    assert tokens == {("code", "http://loinc.org", "8480-6"), ("status", "", "final")}
    assert (strings, quantities) == (set(), set())
    assert dates == {("date", "2026-03-01T08:30:00", "2026-03-01T08:30:00")}
    assert references == {("subject", f"Patient/{person}")}, "the message's local id became the person's"
    assert index_of(store, "Condition")[0] >= {("code", "http://hl7.org/fhir/sid/icd-10", "I10")}
    assert index_of(store, "Condition")[2] == {("onset-date", "2024-05-01T00:00:00", "2024-05-31T23:59:59")}
    assert index_of(store, "Encounter")[2] == {("date", "2026-03-01T08:00:00", "9999")}


def test_a_measured_value_is_indexed_as_a_quantity(store: Engine) -> None:
    measured = observation("8480-6", "2026-03-01")
    ucum = "http://unitsofmeasure.org"
    measured.body["valueQuantity"] = {"value": 152, "unit": "mmHg", "system": ucum, "code": "mm[Hg]"}
    run(store, (message(patient(WANG_HIS), measured), source(HIS, 1)))
    assert index_of(store, "Observation")[3] == {("value-quantity", ucum, "mm[Hg]", 152.0)}


def test_an_address_is_indexed_by_each_of_its_parts(store: Engine) -> None:
    home = {"text": "江西省瑞金市象湖镇红都大道 12 号", "city": "瑞金市", "district": "象湖镇"}
    lives = patient(WANG_HIS, address=[home])
    run(store, (message(lives), source(HIS, 1)))
    addresses = {v for p, v in index_of(store, "Patient")[1] if p == "address"}
    assert addresses == {"江西省瑞金市象湖镇红都大道12号", "瑞金市", "象湖镇"}


def test_a_new_version_replaces_the_rows_of_the_old_one(store: Engine) -> None:
    run(store, (message(patient(WANG_HIS), observation("8480-6", "2026-03-01")), source(HIS, 1)))
    run(store, (message(patient(WANG_HIS), observation("8480-6", "2026-03-02")), source(HIS, 2)), now=NOW + 60)
    assert index_of(store, "Observation")[2] == {("date", "2026-03-02T00:00:00", "2026-03-02T23:59:59")}


def test_an_identifier_search_finds_the_patient_through_the_index(store: Engine) -> None:
    run(store, (message(WANG), source(HIS, 1)))
    with store.connect() as conn:
        [found] = fhir_index.by_token(conn, "Patient", "identifier", "H0012345", HIS_MRN)
        assert conn.execute(select(record_resources.c.type).where(record_resources.c.id == found)).scalar() == "Patient"
        assert fhir_index.by_token(conn, "Patient", "identifier", "H0012345", "urn:other") == []


@pytest.mark.parametrize(
    ("table", "where", "index"),
    [
        ("token", "type = 'Patient' AND param = 'identifier' AND value = 'H0012345' AND system = 'x'", "token_value"),
        ("string", "type = 'Patient' AND param = 'name' AND value_normalised LIKE 'WANG%'", "string_value"),
        ("date", "type = 'Observation' AND param = 'date' AND low >= '2026' AND high <= '2027'", "date_range"),
        ("quantity", "type = 'Observation' AND param = 'value-quantity' AND value > 7.0", "quantity_value"),
        ("reference", "target IN ('Patient/x') AND type = 'Observation' AND param = 'subject'", "reference_target"),
    ],
)
def test_explain_shows_each_search_table_answered_from_its_index(
    store: Engine, table: str, where: str, index: str
) -> None:
    run(store, (message(WANG), source(HIS, 1)))
    sql = f"SELECT resource_id FROM fhir_search_{table} WHERE {where}"
    with store.connect() as conn:
        if store.dialect.name == "sqlite":
            plan = " ".join(str(r[-1]) for r in conn.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
        else:
            conn.execute(text("SET enable_seqscan = off"))  # a table of a few rows is scanned otherwise
            plan = " ".join(r[0] for r in conn.execute(text(f"EXPLAIN {sql}")))
    assert f"ix_fhir_search_{index}" in plan, plan


@pytest.mark.parametrize(
    ("stated", "covered"),
    [
        ("1968", ("1968-01-01T00:00:00", "1968-12-31T23:59:59")),
        ("1968-02", ("1968-02-01T00:00:00", "1968-02-29T23:59:59")),
        ("2026-03-01T08:30:15.250+08:00", ("2026-03-01T08:30:15", "2026-03-01T08:30:15")),
        ("2017-02-29", None),
        ("1968-13", None),
        ("tomorrow", None),
    ],
)
def test_a_date_covers_its_precision(stated: str, covered: tuple[str, str] | None) -> None:
    assert fhir_search.date_range(stated) == covered


def test_the_migration_indexes_the_record_already_on_file(store: Engine) -> None:
    from alembic import command
    from alembic.config import Config

    from engine.store.database import MIGRATIONS

    run(store, (message(WANG, observation("8480-6", "2026-03-01")), source(HIS, 1)))
    before = index_of(store, "Patient"), index_of(store, "Observation")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with store.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0007_outbox_pending_order")
        command.upgrade(cfg, "head")
    assert (index_of(store, "Patient"), index_of(store, "Observation")) == before
    assert before[0][0]


def test_the_planner_gets_statistics_of_the_search_index(store: Engine) -> None:
    from engine.store.database import refresh_statistics

    if store.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's autovacuum keeps its own statistics")
    run(store, (message(WANG, observation("8480-6", "2026-03-01")), source(HIS, 1)))
    refresh_statistics(store)
    with store.connect() as conn:
        analysed = {r[0] for r in conn.execute(text("SELECT idx FROM sqlite_stat1"))}
    assert {"ix_fhir_search_token_value", "ix_fhir_search_reference_target"} <= analysed

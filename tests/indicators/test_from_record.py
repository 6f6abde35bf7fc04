"""Indicators from the unified record: residents built from a real store filled through `apply`, then counted.

The county below has three invented residents, in the record as the HIS and the contract register file them:

- 张国华 (68), hypertensive, contracted with 城关镇卫生院 team T01 for 2026; four follow-ups (with a BP reading)
  in the twelve months to 2026-09-30, the last one controlled; an emergency visit in Q3.
- 李桂英 (66), hypertensive, contracted with 东溪镇中心卫生院 from March 2026; two follow-ups, the last uncontrolled.
- 陈建军 (56), diabetic, a cancelled contract only; his record is held by 白石乡卫生院.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from engine.config.indicators import SHIPPED as DEFINITIONS
from engine.config.indicators import load_indicators
from engine.config.orgs import SHIPPED as REGISTRY
from engine.config.orgs import load_organisations
from engine.config.rules import load_rules
from engine.domain.contract import Contract, Doctor, Period, Status, Team
from engine.domain.contract import Resident as ContractResident
from engine.domain.contract.uhr import record_resources
from engine.domain.indicators import Resident, Row, ServiceFact, Span, compute, parse_period
from engine.domain.indicators.inputs import RecordInputs
from engine.domain.mapping.result import RESIDENT_ID_SYSTEM, Mapped, Resource
from engine.domain.orgs import OrgTree
from engine.pipeline.record import Provenance, apply
from engine.store.database import migrate, open_engine
from engine.views.indicators import resident_of, residents_from_record
from tests.support.mpi import shipped_resolver

MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"
HIS = "his.county-people-hospital"
PHS = "phs.county"
PERIOD = parse_period("2026Q3")

ZHANG = "360426195803120015"
LI = "360426196007040027"
CHEN = "360426197001010032"
CHENGGUAN, DONGXI, BAISHI = "339901101", "339901102", "339901103"


@cache
def load_inputs() -> RecordInputs:
    """The shipped record inputs, compiled as the configuration loader compiles them."""
    rules, errors = load_rules(MAPPINGS)
    assert rules.record_inputs is not None, errors
    return rules.record_inputs


def _ref(kind: str, local: str) -> dict[str, str]:
    return {"reference": f"{kind}/{local}"}


def patient(rid: str, name: str, gender: str, born: str, **fields: Any) -> Resource:
    body = {
        "resourceType": "Patient",
        "id": "pat-1",
        "identifier": [{"system": RESIDENT_ID_SYSTEM, "value": rid}],
        "name": [{"text": name}],
        "gender": gender,
        "birthDate": born,
        **fields,
    }
    return Resource("patient", "", body)


def visit(key: str, day: str, cls: str, org: str | None = None) -> Resource:
    body: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": key,
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": cls},
        "subject": _ref("Patient", "pat-1"),
        "period": {"start": f"{day}T09:00:00+08:00"},
    }
    if org is not None:
        body["serviceProvider"] = {"identifier": {"value": org}}
    return Resource("encounter", key, body)


def diagnosis(key: str, code: str, encounter: str, day: str) -> Resource:
    body = {
        "resourceType": "Condition",
        "id": key,
        "clinicalStatus": {"coding": [{"code": "active"}]},
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": code}]},
        "subject": _ref("Patient", "pat-1"),
        "encounter": _ref("Encounter", encounter),
        "recordedDate": day,
    }
    return Resource("condition", key, body)


def bp(key: str, day: str, systolic: float, diastolic: float) -> Resource:
    def part(code: str, value: float) -> dict[str, Any]:
        return {"code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                "valueQuantity": {"value": value, "unit": "mmHg", "code": "mm[Hg]"}}

    body = {
        "resourceType": "Observation",
        "id": key,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        "subject": _ref("Patient", "pat-1"),
        "effectiveDateTime": f"{day}T09:10:00+08:00",
        "component": [part("8480-6", systolic), part("8462-4", diastolic)],
    }
    return Resource("observation", key, body)


def follow_up(key: str, day: str, systolic: float, diastolic: float, org: str) -> list[Resource]:
    """A hypertension follow-up as the HIS records it: the visit, its I10 diagnosis and the BP taken."""
    return [visit(key, day, "AMB", org), diagnosis(f"{key}-dx", "I10", key, day),
            bp(f"{key}-bp", day, systolic, diastolic)]


def contract(cid: str, rid: str, name: str, org: str, team: str, start: str, end: str, status: Status) -> Mapped:
    """A contract as the register files it in the record: Patient, EpisodeOfCare and CareTeam (contract/uhr.py)."""
    made = Contract(
        contract_id=cid,
        version=1,
        source_system="chis.county",
        status=status,
        resident=ContractResident(rid, name),
        organisation_code=org,
        team=Team(team, "家庭医生团队"),
        doctor=Doctor("D01", "刘志强"),
        period=Period(date.fromisoformat(start), date.fromisoformat(end)),
    )
    return Mapped("contract", "1", tuple(record_resources(made)))


def message(*resources: Resource) -> Mapped:
    return Mapped("test/hand-made", "1+test", tuple(resources))


def fill(store_url: str) -> None:
    """The three residents of the module doc, written through the record's real write path."""
    items = [
        (message(patient(ZHANG, "张国华", "male", "1958-03-12"),
                 *follow_up("Z1", "2025-11-10", 150, 92, CHENGGUAN), *follow_up("Z2", "2026-02-10", 138, 86, CHENGGUAN),
                 *follow_up("Z3", "2026-05-12", 142, 88, CHENGGUAN), *follow_up("Z4", "2026-08-18", 132, 84, CHENGGUAN),
                 visit("Z5", "2026-09-02", "EMER", "339901000")), Provenance(HIS, 1, "his-adt")),
        (contract("SC-1", ZHANG, "张国华", CHENGGUAN, "339901101-T01", "2026-01-01", "2026-12-31", Status.ACTIVE),
         Provenance(PHS, 2, "phs-contracts")),
        (message(patient(LI, "李桂英", "female", "1960-07-04"),
                 *follow_up("L1", "2026-04-07", 136, 82, DONGXI), *follow_up("L2", "2026-07-15", 156, 96, DONGXI)),
         Provenance(HIS, 3, "his-adt")),
        (contract("SC-2", LI, "李桂英", DONGXI, "339901102-T01", "2026-03-01", "2027-02-28", Status.ACTIVE),
         Provenance(PHS, 4, "phs-contracts")),
        (message(patient(CHEN, "陈建军", "male", "1970-01-01", managingOrganization={"identifier": {"value": BAISHI}}),
                 visit("C1", "2026-06-01", "AMB"), diagnosis("C1-dx", "E11.9", "C1", "2026-06-01")),
         Provenance(HIS, 5, "his-adt")),
        (contract("SC-3", CHEN, "陈建军", BAISHI, "339901103-T01", "2026-01-01", "2026-12-31", Status.CANCELLED),
         Provenance(PHS, 6, "phs-contracts")),
    ]
    engine = open_engine(store_url)
    migrate(engine)
    with engine.begin() as conn:
        apply(conn, items, time.time(), shipped_resolver())
    engine.dispose()


def registry() -> OrgTree:
    orgs, errors = load_organisations(REGISTRY)
    assert orgs is not None, errors
    return orgs


@pytest.fixture
def store(store_url: str) -> Iterator[Engine]:
    fill(store_url)
    engine = open_engine(store_url)
    yield engine
    engine.dispose()


def _residents(store: Engine) -> dict[str, Resident]:
    """Keyed by birth year: the person ids are the store's own."""
    with store.connect() as conn:
        people = list(residents_from_record(conn, {}, registry(), load_inputs(), PERIOD))
    return {str(p.birth_date.year if p.birth_date else None): p for p in people}


def _rows(store: Engine, code: str) -> dict[str, tuple[int, int]]:
    """(numerator, denominator) of one indicator per institution code and per team id."""
    definitions, errors = load_indicators(DEFINITIONS)
    assert not errors, errors
    with store.connect() as conn:
        residents = residents_from_record(conn, {}, registry(), load_inputs(), PERIOD)
        rows: list[Row] = compute([d for d in definitions if d.code == code], residents, PERIOD, registry())
    return {r.team or r.org: (r.numerator, r.denominator) for r in rows}


def test_a_contracted_resident_carries_the_contract_team_labels_and_birth_date_of_the_record(store: Engine) -> None:
    zhang = _residents(store)["1958"]
    assert (zhang.org, zhang.team) == (CHENGGUAN, "339901101-T01")
    assert zhang.labels == {"hypertension"}
    assert zhang.birth_date == date(1958, 3, 12)
    assert zhang.contracts == (Span(date(2026, 1, 1), date(2026, 12, 31)),)


def test_each_follow_up_visit_is_a_fact_judged_on_that_days_blood_pressure(store: Engine) -> None:
    facts = [f for f in _residents(store)["1958"].facts if f.kind == "follow_up"]
    assert facts == [
        ServiceFact("follow_up", date(2025, 11, 10), CHENGGUAN, "hypertension", False),
        ServiceFact("follow_up", date(2026, 2, 10), CHENGGUAN, "hypertension", True),
        ServiceFact("follow_up", date(2026, 5, 12), CHENGGUAN, "hypertension", False),
        ServiceFact("follow_up", date(2026, 8, 18), CHENGGUAN, "hypertension", True),
    ]


def test_a_contracted_hypertensive_resident_with_four_follow_ups_counts_in_standard_management(store: Engine) -> None:
    rows = _rows(store, "hypertension_standard_management")
    assert rows[CHENGGUAN] == (1, 1)
    assert rows["339901101-T01"] == (1, 1)
    assert rows[DONGXI] == (0, 1)  # 李桂英: two follow-ups


def test_control_is_read_from_the_latest_follow_up(store: Engine) -> None:
    rows = _rows(store, "hypertension_control")
    assert (rows[CHENGGUAN], rows[DONGXI]) == ((1, 1), (0, 1))


def test_an_emergency_visit_counts_for_the_contracted_resident(store: Engine) -> None:
    rows = _rows(store, "contracted_emergency_visit")
    assert (rows[CHENGGUAN], rows["339901101-T01"], rows[DONGXI]) == ((1, 1), (1, 1), (0, 1))


def test_a_cancelled_contract_leaves_the_resident_at_the_institution_holding_the_record(store: Engine) -> None:
    chen = _residents(store)["1970"]
    assert (chen.org, chen.team, chen.contracts) == (BAISHI, None, ())
    assert chen.labels == {"diabetes"}


def test_counts_roll_up_from_teams_and_townships_to_the_county(store: Engine) -> None:
    rows = _rows(store, "key_population_contract")
    assert (rows["339901101-T01"], rows["339901102-T01"], rows["339901103-T01"]) == ((1, 1), (1, 1), (0, 0))
    assert (rows[CHENGGUAN], rows[DONGXI], rows[BAISHI]) == ((1, 1), (1, 1), (0, 1))
    assert rows["339901000"] == rows["339901"] == rows["330000"] == (2, 3)


def _uncontracted(*visits: Resource) -> Resident:
    """resident_of on resources as resources_of gives them: the merged Patient first, here without an institution."""
    merged = {**patient(CHEN, "陈建军", "male", "1970-01-01").body, "id": "p1"}
    resources = [merged, *(v.body for v in visits)]
    return resident_of("p1", resources, registry(), load_inputs(), PERIOD)


def test_without_a_managing_organisation_the_latest_visits_institution_holds_the_record() -> None:
    chen = _uncontracted(visit("V1", "2026-03-01", "AMB", DONGXI), visit("V2", "2026-05-01", "AMB", BAISHI),
                         visit("V3", "2026-06-01", "AMB", "not-in-the-registry"))
    assert (chen.org, chen.team) == (BAISHI, None)


def test_a_record_no_institution_holds_belongs_to_the_county() -> None:
    assert _uncontracted(visit("V1", "2026-03-01", "AMB")).org == "339901"

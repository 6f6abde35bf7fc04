"""The contract register on a real store: snapshots applied once, filed in the record, passed on in each form."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import date
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine

from engine.config import ContractEventsSource
from engine.config.contract import load_service_rules
from engine.domain.contract import ContractReader, Result, Status, Termination, TerminationReason
from engine.domain.formats.hl7v2 import Message, read_header
from engine.domain.mapping.result import RESIDENT_ID_SYSTEM
from engine.pipeline.care_events import CareEvents
from engine.pipeline.contracts import apply_contracts
from engine.pipeline.record import Provenance, apply
from engine.store import contracts, dbapi
from engine.store.database import migrate, open_engine
from tests.contract.conftest import MAPPINGS, SAMPLES
from tests.record.people import condition, encounter, message, mrn, patient, resident, source
from tests.support.mpi import shipped_resolver

HIS = "his.dean"
LI_ID = "360426195803140024"  # 李秀英 in samples/phs/contracts/signing.xml


@pytest.fixture
def store(store_url: str) -> Any:
    engine = open_engine(store_url)
    migrate(engine)
    yield engine
    engine.dispose()


def subscribers() -> CareEvents:
    return CareEvents(
        contracts={
            "his-push": ContractEventsSource(type="contract-events", format="hl7v2", receiver_system=HIS),
            "emr-push": ContractEventsSource(type="contract-events", format="fhir"),
            "gateway": ContractEventsSource(type="contract-events", format="json"),
        },
        node="test",
        rules=load_service_rules(MAPPINGS),
    )


def signing(reader: ContractReader) -> Any:
    [found] = reader.read((SAMPLES / "signing.xml").read_bytes())
    return found


def run(store: Engine, *found: Any) -> list[Any]:
    with store.begin() as conn:
        return apply_contracts(
            conn,
            [(c, Provenance(c.source_system, None, "phs")) for c in found],
            time.time(),
            shipped_resolver(),
            subscribers(),
        )


def journaled(store: Engine) -> list[tuple[str, str, bytes]]:
    with store.connect() as conn:
        rows = dbapi.fetchall(conn, "SELECT channel, message_type, raw FROM messages ORDER BY id", ())
    return [(c, t, bytes(r)) for c, t, r in rows]


def test_a_new_contract_is_held_filed_in_the_record_and_journaled_for_each_subscriber(
    store: Engine, reader: ContractReader
) -> None:
    [applied] = run(store, signing(reader))
    assert (applied.result, applied.kind.value) == (Result.APPLIED, "SIGNED")
    with store.connect() as conn:
        held = contracts.held(conn, "chis.dean-county", "SC3604262025000101")
        types = [t for (t,) in dbapi.fetchall(conn, "SELECT type FROM record_resources ORDER BY type", ())]
    assert held is not None and held.status is Status.ACTIVE
    assert types == ["CareTeam", "EpisodeOfCare", "Patient"]
    assert [(c, t) for c, t, _ in journaled(store)] == [
        ("his-push", "ADT^A31"),
        ("emr-push", "contract.signed"),
        ("gateway", "contract.signed"),
    ]


def test_the_same_snapshot_again_changes_nothing_and_pushes_nothing(store: Engine, reader: ContractReader) -> None:
    run(store, signing(reader))
    [again] = run(store, signing(reader))
    assert again.result is Result.DUPLICATE
    assert len(journaled(store)) == 3


def test_an_older_version_arriving_late_is_stale(store: Engine, reader: ContractReader) -> None:
    first = signing(reader)
    run(store, replace(first, version=2))
    [late] = run(store, first)
    assert late.result is Result.STALE
    with store.connect() as conn:
        held = contracts.held(conn, first.source_system, first.contract_id)
    assert held is not None and held.version == 2


def test_the_his_push_names_the_residents_his_number_found_through_the_mpi(
    store: Engine, reader: ContractReader
) -> None:
    with store.begin() as conn:
        his = message(patient(resident(LI_ID), mrn(f"urn:huitong:id:{HIS}:HIS", "H0001")))
        apply(conn, [(his, source(HIS, 1))], time.time(), shipped_resolver())
    run(store, signing(reader))
    [(_, _, raw)] = [j for j in journaled(store) if j[0] == "his-push"]
    pushed = Message(raw.decode("gb18030"), read_header(raw, "gb18030"))
    assert pushed.get("PID-3(2).1") == "H0001" and pushed.get("PID-3(2).4") == "HIS"
    assert pushed.get("PD1-4.1") == "D01017"


def test_a_termination_is_pushed_as_not_contracted_and_drops_the_gp_in_the_emr(
    store: Engine, reader: ContractReader
) -> None:
    first = signing(reader)
    run(store, first)
    ended = replace(
        first,
        version=2,
        status=Status.TERMINATED,
        termination=Termination(date(2025, 7, 1), TerminationReason.MOVED_OUT),
    )
    [applied] = run(store, ended)
    assert applied.kind.value == "TERMINATED"
    pushes = {c: raw for c, _, raw in journaled(store)[3:]}
    a31 = Message(pushes["his-push"].decode("gb18030"), read_header(pushes["his-push"], "gb18030"))
    assert (a31.get("ZFD-3"), a31.get("ZFD-4")) == ("TERMINATED", "N")
    bundle = orjson.loads(pushes["emr-push"])
    patch = bundle["entry"][-1]
    assert patch["request"] == {"method": "PATCH", "url": f"Patient?identifier={RESIDENT_ID_SYSTEM}|{LI_ID}"}
    assert [p["part"][0]["valueCode"] for p in patch["resource"]["parameter"]] == ["delete"]
    assert orjson.loads(pushes["gateway"])["contract"]["status"] == "TERMINATED"


def test_the_his_push_counts_the_services_left_this_contract_year(store: Engine, reader: ContractReader) -> None:
    first = signing(reader)  # GXY-SF hypertension follow-ups, 4 a year; in force from 6 January 2025
    in_cycle = f"{date.today().year if date.today() >= date(date.today().year, 1, 6) else date.today().year - 1}-03-02"
    start = replace(first, period=replace(first.period, start=date(2025, 1, 6), end=date(2030, 1, 5)))
    with store.begin() as conn:
        his = message(
            patient(resident(LI_ID), mrn(f"urn:huitong:id:{HIS}:HIS", "H0001")),
            encounter("V1", in_cycle),
            condition("原发性高血压", in_cycle),
        )
        apply(conn, [(his, source(HIS, 1))], time.time(), shipped_resolver())
    run(store, start)
    [(_, _, raw)] = [j for j in journaled(store) if j[0] == "his-push"]
    pushed = Message(raw.decode("gb18030"), read_header(raw, "gb18030"))
    counts = {pushed.get(f"ZFD-11({i}).1"): pushed.get(f"ZFD-11({i}).3") for i in (1, 2)}
    assert counts == {"GXY-SF": "3", "LNR-TJ": "1"}


def test_a_channel_routed_to_other_institutions_does_not_get_the_contract(
    store: Engine, reader: ContractReader
) -> None:
    township = ContractEventsSource(type="contract-events", format="json", organisations=("H99",))
    routed = CareEvents(
        contracts={"township": township, "county": ContractEventsSource(type="contract-events", format="json")},
        node="test",
        routes={"township": frozenset({"H99", "H99-01"})},
    )
    found = signing(reader)  # managed by H36042601
    with store.begin() as conn:
        apply_contracts(
            conn, [(found, Provenance(found.source_system, None, "phs"))], time.time(), shipped_resolver(), routed
        )
    assert [c for c, _, _ in journaled(store)] == ["county"]

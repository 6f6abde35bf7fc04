"""The county scenario's simulators on real ports, and the scenario data they serve."""

from __future__ import annotations

import json
import re
import socket
import urllib.error
import urllib.request
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from engine.config.contract import load_contract_reader
from engine.domain.contract import ContractReader
from engine.domain.contract.model import Contract, LocalId, Status, TerminationReason
from engine.domain.contract.push import his_a31
from engine.domain.mpi import resident_id
from samples.his_simulator import load_messages, send
from tests.conftest import ROOT
from tests.support.emr import RunningEmr
from tests.support.simulators import RunningHis, RunningPhs

COUNTY = ROOT / "samples" / "county"
CONTRACTS = (COUNTY / "phs" / "contracts.xml").read_bytes()
RID = "urn:oid:2.16.156.10011.1.3"


@pytest.fixture(scope="module")
def reader() -> ContractReader:
    return load_contract_reader(ROOT / "mappings")


def a31(contract: Contract, control_id: str = "C1", charset: str = "gb18030") -> bytes:
    return his_a31(
        contract,
        patient_ids=(LocalId("HIS", "300317"),),
        control_id=control_id,
        timestamp=datetime(2026, 7, 1, 9, 0, tzinfo=UTC),
        sending_app="HUITONG",
        sending_facility="MC339901",
        receiving_app="HIS",
        receiving_facility="339901000",
        on=date(2026, 7, 1),
        charset=charset,
    )


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def post(url: str, body: bytes, content_type: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def refused(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


# -- HIS ---------------------------------------------------------------------------------------------------------


def test_his_acknowledges_a_contract_push_with_aa_and_keeps_what_its_patient_master_needs(
    reader: ContractReader,
) -> None:
    contract = reader.read(CONTRACTS)[0]
    with RunningHis() as his:
        assert send(his.sim.host, his.sim.port, [a31(contract)]) == ["AA"]
        (push,) = his.pushes()
    assert push.control_id == "C1"
    assert push.message_type == "ADT^A31"
    assert push.patient_ids == ("360426195204110317", "300317")
    assert (push.contract_id, push.version, push.status, push.contracted) == (
        "SC2026010101^phs.county",
        1,
        "ACTIVE",
        True,
    )


def test_his_reads_a_utf8_push_as_well_as_a_gb18030_one(reader: ContractReader) -> None:
    contract = reader.read(CONTRACTS)[0]
    with RunningHis() as his:
        codes = send(his.sim.host, his.sim.port, [a31(contract, "C1", "utf-8"), a31(contract, "C2", "gb18030")])
        raw = his.call(lambda: list(his.sim.messages))
    assert codes == ["AA", "AA"]
    assert "王建国".encode() in raw[0]
    assert "王建国".encode("gb18030") in raw[1]


def test_his_counts_a_second_identical_push_as_a_duplicate_and_still_acknowledges_it(
    reader: ContractReader,
) -> None:
    contract = reader.read(CONTRACTS)[0]
    with RunningHis() as his:
        codes = send(his.sim.host, his.sim.port, [a31(contract, "C1"), a31(contract, "C2")])
        assert codes == ["AA", "AA"]
        assert his.stats() == {"received": 2, "acknowledged": 2, "duplicates": 1}
        assert [p.duplicate for p in his.pushes()] == [False, True]


def test_his_answers_ae_to_a_message_it_cannot_read() -> None:
    with RunningHis() as his:
        assert send(his.sim.host, his.sim.port, [b"this is not HL7"]) == ["AE"]
        assert his.stats() == {"received": 1, "acknowledged": 0, "duplicates": 0}
        assert his.pushes() == []


def test_his_down_refuses_connections_and_up_serves_again_on_the_same_port(reader: ContractReader) -> None:
    contract = reader.read(CONTRACTS)[0]
    with RunningHis() as his:
        address = his.address
        his.down()
        assert refused(address)
        his.up()
        assert his.address == address
        assert send(his.sim.host, his.sim.port, [a31(contract)]) == ["AA"]


def test_his_sends_the_county_messages_one_by_one_in_file_order() -> None:
    messages = load_messages(COUNTY / "his")
    with RunningHis() as engine:  # a second HIS simulator stands in for the engine's MLLP listener
        assert send(engine.sim.host, engine.sim.port, messages) == ["AA"] * len(messages)
        received = [p.control_id for p in engine.pushes()]
    assert received == sorted(received)
    assert len(received) == len(messages) >= 12


# -- public-health system ------------------------------------------------------------------------------------


def test_phs_serves_its_contracts_as_xml_the_engine_reads(reader: ContractReader) -> None:
    with RunningPhs(contracts=CONTRACTS) as phs:
        status, body = get(f"{phs.base_url}/contracts")
    contracts = reader.read(body)
    assert status == 200
    assert len(contracts) == 6
    assert {c.status for c in contracts} == {Status.ACTIVE}


def test_phs_terminate_raises_the_version_and_uses_the_vendors_termination_code(reader: ContractReader) -> None:
    with RunningPhs(contracts=CONTRACTS) as phs:
        assert phs.terminate("SC2026010401", date(2026, 8, 16), "02") == 2
        _, body = get(f"{phs.base_url}/contracts")
    (terminated,) = [c for c in reader.read(body) if c.contract_id == "SC2026010401"]
    assert b"<StatusCode>2</StatusCode>" in body  # Bsoft 2 解约
    assert terminated.status is Status.TERMINATED
    assert terminated.version == 2
    assert terminated.termination is not None
    assert terminated.termination.on == date(2026, 8, 16)
    assert terminated.termination.reason is TerminationReason.MOVED_OUT


def test_phs_sign_adds_the_contract_to_the_next_poll(reader: ContractReader) -> None:
    signing = (COUNTY / "phs" / "signings" / "SC2026010202.xml").read_bytes()
    with RunningPhs(contracts=CONTRACTS) as phs:
        assert phs.sign(signing) == "SC2026010202"
        _, body = get(f"{phs.base_url}/contracts")
    (signed,) = [c for c in reader.read(body) if c.contract_id == "SC2026010202"]
    assert signed.status is Status.ACTIVE
    assert signed.resident.name == "孙国强"


def service_records(*record_ids: str) -> bytes:
    records = "".join(
        f"<ServiceRecord><RecordId>{r}</RecordId><ContractId>SC2026010101</ContractId>"
        f"<ItemCode>GXY-SF</ItemCode></ServiceRecord>"
        for r in record_ids
    )
    return f'<?xml version="1.0" encoding="UTF-8"?><ServiceRecords>{records}</ServiceRecords>'.encode()


def test_phs_takes_service_records_and_counts_a_record_sent_again_as_a_duplicate() -> None:
    with RunningPhs(contracts=CONTRACTS) as phs:
        assert post(f"{phs.base_url}/service-records", service_records("R1", "R2"), "application/xml")[0] == 200
        assert post(f"{phs.base_url}/service-records", service_records("R2"), "application/xml")[0] == 200
        records = phs.records()
        assert phs.stats()["received"] == 3
        assert phs.stats()["duplicates"] == 1
    assert [(r.record_id, r.duplicate) for r in records] == [("R1", False), ("R2", False), ("R2", True)]
    assert records[0].contract_id == "SC2026010101"
    assert records[0].fields["ItemCode"] == "GXY-SF"


def test_phs_answers_400_to_a_body_that_is_not_xml_and_keeps_nothing() -> None:
    with RunningPhs(contracts=CONTRACTS) as phs:
        status, _ = post(f"{phs.base_url}/service-records", b"RecordId=R1", "text/plain")
        assert status == 400
        assert phs.stats()["received"] == 0


def test_phs_posts_its_contracts_to_an_engine_listen_endpoint_with_its_token(reader: ContractReader) -> None:
    bodies: list[bytes] = []

    async def listen(request: web.Request) -> web.Response:
        assert request.headers["Authorization"] == "Bearer phs-secret"
        bodies.append(await request.read())
        return web.Response(status=202)

    with RunningPhs(contracts=CONTRACTS) as phs:
        engine = web.AppRunner(web.Application())
        engine.app.router.add_post("/contracts", listen)

        async def start() -> str:
            await engine.setup()
            site = web.TCPSite(engine, "127.0.0.1", 0)
            await site.start()
            return f"http://127.0.0.1:{engine.addresses[0][1]}/contracts"

        url = phs.run(start())
        try:
            assert phs.post_contracts(url, "phs-secret") == 202
        finally:
            phs.run(engine.cleanup())
    assert len(reader.read(bodies[0])) == 6


def test_phs_down_refuses_connections_and_up_serves_again_on_the_same_port() -> None:
    with RunningPhs(contracts=CONTRACTS) as phs:
        url = phs.base_url
        phs.down()
        assert refused(url.removeprefix("http://"))
        phs.up()
        assert get(f"{url}/contracts")[0] == 200


# -- EMR -----------------------------------------------------------------------------------------------------


def gp_patch(resident: str, *operations: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {"resourceType": "Parameters", "parameter": list(operations)},
                "request": {"method": "PATCH", "url": f"Patient?identifier={RID}|{resident}"},
            }
        ],
    }


DELETE_GP = {
    "name": "operation",
    "part": [
        {"name": "type", "valueCode": "delete"},
        {"name": "path", "valueString": "Patient.generalPractitioner"},
    ],
}


def add_gp(doctor: str) -> dict[str, Any]:
    return {
        "name": "operation",
        "part": [
            {"name": "type", "valueCode": "add"},
            {"name": "path", "valueString": "Patient"},
            {"name": "name", "valueString": "generalPractitioner"},
            {
                "name": "value",
                "valueReference": {
                    "identifier": {"system": "urn:huitong:id:phs.county:doctor", "value": doctor},
                    "display": "胡建平",
                },
            },
        ],
    }


def post_json(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    status, raw = post(url, json.dumps(body, ensure_ascii=False).encode(), "application/fhir+json")
    return status, json.loads(raw)


@pytest.fixture()
def emr() -> Any:
    with RunningEmr(load=COUNTY / "emr" / "patients.ndjson") as running:
        yield running


def patient(emr: RunningEmr, resource_id: str) -> dict[str, Any]:
    (found,) = [p for p in emr.resources("Patient") if p["id"] == resource_id]
    return found


def test_emr_patch_replaces_the_general_practitioner_by_delete_then_add(emr: RunningEmr) -> None:
    chen = "360426194909020421"
    status, _ = post_json(emr.base_url, gp_patch(chen, DELETE_GP, add_gp("D10101")))
    assert status == 200
    assert patient(emr, "p-1002")["generalPractitioner"][0]["identifier"]["value"] == "D10101"
    assert patient(emr, "p-1002")["name"][0]["text"] == "陈桂兰"  # the rest of the EMR's patient is kept
    post_json(emr.base_url, gp_patch(chen, DELETE_GP, add_gp("D10102")))
    assert [g["identifier"]["value"] for g in patient(emr, "p-1002")["generalPractitioner"]] == ["D10102"]


def test_emr_patch_delete_of_an_absent_general_practitioner_is_not_an_error(emr: RunningEmr) -> None:
    status, _ = post_json(emr.base_url, gp_patch("360426194909020421", DELETE_GP))
    assert status == 200
    assert "generalPractitioner" not in patient(emr, "p-1002")


def test_emr_patch_of_a_patient_it_does_not_have_answers_404_with_an_operation_outcome(emr: RunningEmr) -> None:
    before = emr.call(lambda: emr.sim.stats())
    status, body = post_json(emr.base_url, gp_patch("360426199001010018", add_gp("D10101")))
    assert status == 404
    assert body["resourceType"] == "OperationOutcome"
    assert emr.call(lambda: emr.sim.stats()) == {**before, "transactions": before["transactions"] + 1}


def test_emr_counts_a_push_that_changes_nothing_as_unchanged_and_a_duplicate(emr: RunningEmr) -> None:
    bundle = gp_patch("360426194909020421", DELETE_GP, add_gp("D10101"))
    post_json(emr.base_url, bundle)
    post_json(emr.base_url, bundle)
    assert emr.call(lambda: emr.sim.stats()) == {"transactions": 2, "accepted": 2, "unchanged": 1, "duplicates": 1}


# -- the scenario data ---------------------------------------------------------------------------------------

_RESIDENT_ID = re.compile(r"(?<!\d)360426\d{11}[\dX](?!\d)")


def county_text() -> dict[Path, str]:
    return {
        path: path.read_bytes().decode("gb18030" if path.suffix == ".hl7" else "utf-8")
        for path in sorted(COUNTY.rglob("*"))
        if path.suffix in (".hl7", ".xml", ".ndjson", ".md")
    }


def test_every_resident_id_in_the_county_data_is_a_valid_gb11643_number() -> None:
    found = {(path.name, v) for path, text in county_text().items() for v in _RESIDENT_ID.findall(text)}
    assert len({v for _, v in found}) == 8
    invalid = [(name, v) for name, v in found if not (parsed := resident_id.parse(v)) or not parsed.valid]
    assert invalid == []


def test_county_contracts_use_the_organisations_and_teams_of_the_registry(reader: ContractReader) -> None:
    registry = yaml.safe_load((ROOT / "config" / "organisations.yaml").read_text(encoding="utf-8"))
    organisations = {o["code"] for o in registry["organisations"]}
    teams = {(t["id"], t["org"]) for t in registry["teams"]}
    signings = [p.read_bytes() for p in sorted((COUNTY / "phs" / "signings").glob("*.xml"))]
    contracts = [c for doc in (CONTRACTS, *signings) for c in reader.read(doc)]
    assert {c.organisation_code for c in contracts} <= organisations
    assert {(c.team.team_id, c.organisation_code) for c in contracts} <= teams


def test_the_emr_loads_the_county_patients_one_of_them_without_a_resident_id(emr: RunningEmr) -> None:
    patients = emr.resources("Patient")
    without = [p for p in patients if not any(i["system"] == RID for i in p["identifier"])]
    assert len(patients) == 7
    assert [p["id"] for p in without] == ["p-1001"]


def test_emr_counts_a_conditional_put_sent_again_as_unchanged(emr: RunningEmr) -> None:
    episode = {
        "resourceType": "EpisodeOfCare",
        "identifier": [{"system": "urn:huitong:id:phs.county:contract", "value": "SC2026010102"}],
        "status": "active",
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": episode,
                "request": {
                    "method": "PUT",
                    "url": "EpisodeOfCare?identifier=urn:huitong:id:phs.county:contract|SC2026010102",
                },
            }
        ],
    }
    assert post_json(emr.base_url, bundle)[0] == 200
    assert post_json(emr.base_url, bundle)[0] == 200
    assert (
        post_json(
            emr.base_url, {**bundle, "entry": [{**bundle["entry"][0], "resource": {**episode, "status": "finished"}}]}
        )[0]
        == 200
    )
    assert emr.call(lambda: emr.sim.stats()) == {"transactions": 3, "accepted": 3, "unchanged": 1, "duplicates": 1}

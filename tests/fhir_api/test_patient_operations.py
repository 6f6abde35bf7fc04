"""The enterprise Patient, Patient/$everything, Patient/$match and Provenance, against a daemon that filed the
county's HIS samples over MLLP, the EMR's patient list as NDJSON, and a duplicate registration the HIS merged
(ADT^A40); every resource served validates as FHIR R4 (fhir.resources)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from fhir.resources.R4B import get_fhir_model_class
from sqlalchemy import create_engine, select
from sqlalchemy.pool import NullPool

from engine.connectors.mllp.client import exchange
from engine.store.schema import audit
from tests.support.daemon import Daemon, free_port, wait_port, wait_until, write_config
from tests.support.fhir_api import call, make_token
from tests.support.store_view import destination_statuses, journal, store_url

COUNTY = Path(__file__).resolve().parents[2] / "samples" / "county"
CHEN_ID = "360426194909020421"  # 陈桂兰: in the HIS samples and in the EMR's list, with her resident ID
ZHOU_ID = "360426198810050661"  # 周晓梅: registered twice by the HIS, the duplicate merged into her by an A40
HIS, EMR = "his.county-people-hospital", "emr.county-people-hospital"


def hl7(*segments: str) -> bytes:
    return "\r".join(segments).encode("gb18030") + b"\r"


# 周晓梅 registered again the next day under a new number, her birth date mistyped and no resident ID: the MPI
# keeps her a person of her own; the HIS then merges that number into hers.
DUPLICATE = hl7(
    "MSH|^~\\&|HIS|339901000|HUITONG|MC339901|20260821090000||ADT^A04^ADT_A01|HIS260821001|P|2.4",
    "EVN|A04|20260821090000",
    "PID|1||300991^^^HIS^PI||周晓梅^^^^^^L||19881015|F",
    "PV1|1|O|妇科门诊^^^339901000||||D0060^许静|||MED|||||||||V260821001^^^HIS^VN|||||||||||||||||||||||||20260821090000",
)
MERGE = hl7(
    "MSH|^~\\&|HIS|339901000|HUITONG|MC339901|20260821100000||ADT^A40^ADT_A39|HIS260821002|P|2.4",
    "EVN|A40|20260821100000",
    f"PID|1||300661^^^HIS^PI~{ZHOU_ID}^^^CHN^NNCHN||周晓梅^^^^^^L||19881005|F",
    "MRG|300991^^^HIS^PI",
)


@dataclass(frozen=True)
class Server:
    base: str
    config: Path
    token: str

    def get(self, path: str, token: str | None = "") -> tuple[int, dict[str, Any]]:
        return call(path if path.startswith("http") else self.base + path, self.token if token == "" else token)

    def post(self, path: str, body: Any, token: str | None = "") -> tuple[int, dict[str, Any]]:
        return call(self.base + path, self.token if token == "" else token, body)


@pytest.fixture(scope="module")
def fhir(module_store_url: str, tmp_path_factory: pytest.TempPathFactory, log_dir: Path) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("fhir-patient")
    port, api = free_port(), free_port()
    inbox = root / "emr"
    inbox.mkdir()
    record = [{"name": "record", "type": "record", "order_by": "person"}]
    config = write_config(
        root,
        module_store_url,
        {
            "his": {
                "source_system": HIS,
                "source": {"type": "mllp", "listen": f"127.0.0.1:{port}", "encoding": "gb18030"},
                "map": ["hl7v2/adt", "hl7v2/oru", "hl7v2/pharmacy"],
                "destinations": record,
            },
            "emr": {
                "source_system": EMR,
                "source": {"type": "file", "path": str(inbox), "glob": "*.ndjson", "format": "ndjson",
                           "poll_interval": "200ms"},
                "destinations": record,
            },
        },
        log_dir / f"fhir-patient-{root.name}.jsonl",
    )
    engine_yaml = yaml.safe_load(config.read_text())
    config.write_text(yaml.safe_dump({**engine_yaml, "fhir_api": {"listen": f"127.0.0.1:{api}"}}))
    samples = [p.read_bytes() for p in sorted((COUNTY / "his").glob("*.hl7"))] + [DUPLICATE]
    emr_patients = len((COUNTY / "emr" / "patients.ndjson").read_text().splitlines())

    def filed(count: int) -> bool:
        statuses = destination_statuses(config)
        return len(statuses) == count and set(statuses) <= {"SENT", "SKIPPED"}

    with Daemon(config, ports=(port, api)):
        assert all(b"MSA|AA|" in a for a in exchange("127.0.0.1", port, samples))
        shutil.copy(COUNTY / "emr" / "patients.ndjson", inbox / "patients.ndjson")
        wait_until(lambda: filed(len(samples) + emr_patients))
        assert all(b"MSA|AA|" in a for a in exchange("127.0.0.1", port, [MERGE]))
        wait_until(lambda: filed(len(samples) + emr_patients + 1))
        wait_port(api)
        yield Server(f"http://127.0.0.1:{api}/fhir", config, make_token(config, "--scope", "system/*.read"))


def valid(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource, after fhir.resources has accepted it as FHIR R4 (R4B shares R4's resources used here)."""
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return resource


def audit_rows(config: Path) -> list[tuple[str, dict[str, Any]]]:
    """(person, detail) of each fhir.read audit row."""
    engine = create_engine(store_url(config), poolclass=NullPool)
    with engine.connect() as conn:
        rows = conn.execute(select(audit.c.target, audit.c.detail).where(audit.c.action == "fhir.read")).all()
    engine.dispose()
    return [(target, json.loads(detail)) for target, detail in rows]


def sources(fhir: Server, resident_id: str) -> list[dict[str, Any]]:
    status, bundle = fhir.get(f"/Patient?identifier={resident_id}")
    assert status == 200, bundle
    return [e["resource"] for e in bundle["entry"]]


def enterprise_id(patient: dict[str, Any]) -> str:
    [refer] = [link["other"]["reference"] for link in patient["link"] if link["type"] == "refer"]
    return refer.removeprefix("Patient/")


def walk(fhir: Server, path: str, token: str | None = "") -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The first page and the entries of every page, through the next links."""
    status, first = fhir.get(path, token)
    assert status == 200, first
    entries, page = [], first
    while True:
        entries += page["entry"]
        following = [link["url"] for link in page["link"] if link["relation"] == "next"]
        if not following:
            return first, entries
        status, page = fhir.get(following[0], token)
        assert status == 200, page


def match(patient: dict[str, Any], *more: dict[str, Any]) -> dict[str, Any]:
    resource = {"name": "resource", "resource": {"resourceType": "Patient", **patient}}
    return {"resourceType": "Parameters", "parameter": [resource, *more]}


def grades(bundle: dict[str, Any]) -> list[tuple[str, str, float]]:
    """(person, match-grade, score) of each match."""
    out = []
    for e in bundle["entry"]:
        [grade] = [x["valueCode"] for x in e["search"]["extension"] if x["url"].endswith("/match-grade")]
        out.append((e["resource"]["id"], grade, e["search"]["score"]))
    return out


RESIDENT_ID = "urn:oid:2.16.156.10011.1.3"


def test_the_person_references_name_reads_as_the_merged_patient_linking_each_source(fhir: Server) -> None:
    emr, his = sorted(sources(fhir, CHEN_ID), key=lambda p: p["meta"]["source"])
    assert (emr["meta"]["source"], his["meta"]["source"]) == (EMR, HIS)
    person = enterprise_id(his)
    assert enterprise_id(emr) == person  # each source's Patient links (refer) to the enterprise Patient
    status, patient = fhir.get(f"/Patient/{person}")
    assert status == 200 and valid(patient)["id"] == person
    assert {(link["type"], link["other"]["reference"]) for link in patient["link"]} == {
        ("seealso", f"Patient/{his['id']}"),
        ("seealso", f"Patient/{emr['id']}"),
    }
    held = {i["value"] for i in patient["identifier"]}
    assert {CHEN_ID, "300421", "E2019-02107"} <= held  # every source's identifiers
    assert "versionId" not in patient["meta"] and patient["meta"]["lastUpdated"]


def test_every_subject_reference_of_a_resident_reads(fhir: Server) -> None:
    person = enterprise_id(sources(fhir, CHEN_ID)[0])
    _, entries = walk(fhir, f"/Patient/{person}/$everything?_count=50")
    references = {e["resource"][k]["reference"] for e in entries for k in ("subject", "patient") if k in e["resource"]}
    assert references == {f"Patient/{person}"}
    for reference in references:
        assert fhir.get(f"/{reference}")[0] == 200


def test_a_merged_person_reads_replaced_by_its_survivor_who_lists_the_merge(fhir: Server) -> None:
    survivor = enterprise_id(sources(fhir, ZHOU_ID)[0])
    status, patient = fhir.get(f"/Patient/{survivor}")
    assert status == 200
    [merge] = [link for link in valid(patient)["link"] if link["type"] == "replaces"]
    retired = merge["other"]["reference"].removeprefix("Patient/")
    assert retired != survivor and merge["extension"][0]["url"].endswith("/merged-at")
    assert {"300661", "300991"} <= {i["value"] for i in patient["identifier"]}  # the duplicate's number came along
    status, old = fhir.get(f"/Patient/{retired}")
    assert status == 200 and valid(old)["active"] is False
    assert old["link"] == [{"other": {"reference": f"Patient/{survivor}"}, "type": "replaced-by"}]
    status, encounters = fhir.get(f"/Encounter?patient={retired}")  # the duplicate's visit is the survivor's now
    assert status == 200 and encounters["total"] == 2


def test_the_enterprise_patient_has_no_history_of_its_own(fhir: Server) -> None:
    person = enterprise_id(sources(fhir, CHEN_ID)[0])
    status, outcome = fhir.get(f"/Patient/{person}/_history")
    assert status == 404 and "Patient.link" in outcome["issue"][0]["diagnostics"]


def test_everything_pages_the_whole_record_with_next_links(fhir: Server) -> None:
    person = enterprise_id(sources(fhir, CHEN_ID)[0])
    first, entries = walk(fhir, f"/Patient/{person}/$everything?_count=2")
    ids = [f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in entries]
    assert len(ids) == len(set(ids)) == first["total"] == len(walk(fhir, f"/Patient/{person}/$everything")[1])
    assert ids[0] == f"Patient/{person}" and "link" in entries[0]["resource"]  # the enterprise Patient first
    kinds = {e["resource"]["resourceType"] for e in entries}
    assert {"Patient", "Encounter", "Condition", "Observation", "MedicationRequest"} <= kinds
    assert sum(1 for i in ids if i.startswith("Patient/")) == 3  # the enterprise Patient, the HIS's and the EMR's


def test_everything_since_keeps_what_was_recorded_since_and_type_the_types_asked(fhir: Server) -> None:
    person = enterprise_id(sources(fhir, CHEN_ID)[0])
    _, entries = walk(fhir, f"/Patient/{person}/$everything")
    times = sorted({e["resource"]["meta"]["lastUpdated"] for e in entries[1:]})
    assert len(times) > 1  # the HIS's messages and the EMR's file were recorded at different instants
    middle = times[len(times) // 2]
    _, recent = walk(fhir, f"/Patient/{person}/$everything?_since={quote(middle)}")
    expected = [person] + [e["resource"]["id"] for e in entries[1:] if e["resource"]["meta"]["lastUpdated"] >= middle]
    assert [e["resource"]["id"] for e in recent] == expected and len(expected) < len(entries)
    status, later = fhir.get(f"/Patient/{person}/$everything?_since=2999-01-01T00:00:00%2B08:00")
    assert status == 200 and [e["resource"]["id"] for e in later["entry"]] == [person]
    status, observations = fhir.get(f"/Patient/{person}/$everything?_type=Observation,Condition")
    kinds = {e["resource"]["resourceType"] for e in observations["entry"]}
    assert status == 200 and kinds == {"Observation", "Condition"}


@pytest.mark.parametrize(
    "query", ["_since=2026-07-01", "_since=yesterday", "_type=observation", "_type=", "patient=x", "_count=-1"]
)
def test_everything_refuses_what_it_cannot_answer(fhir: Server, query: str) -> None:
    person = enterprise_id(sources(fhir, CHEN_ID)[0])
    status, outcome = fhir.get(f"/Patient/{person}/$everything?{query}")
    assert (status, outcome["resourceType"]) == (400, "OperationOutcome")


def test_a_patient_bound_token_reads_its_own_record_only_and_cannot_match(fhir: Server) -> None:
    mine = make_token(fhir.config, "--scope", "patient/*.read", "--patient", CHEN_ID)
    me, other = enterprise_id(sources(fhir, CHEN_ID)[0]), enterprise_id(sources(fhir, ZHOU_ID)[0])
    assert fhir.get(f"/Patient/{me}", mine)[0] == 200
    assert fhir.get(f"/Patient/{me}/$everything", mine)[0] == 200
    assert fhir.get(f"/Patient/{other}", mine)[0] == 404
    assert fhir.get(f"/Patient/{other}/$everything", mine)[0] == 404
    status, outcome = fhir.post("/Patient/$match", match({"name": [{"text": "陈桂兰"}]}), mine)
    assert (status, outcome["resourceType"]) == (403, "OperationOutcome")


def test_match_grades_the_mpi_candidates_with_score_and_match_grade(fhir: Server) -> None:
    chen = enterprise_id(sources(fhir, CHEN_ID)[0])
    status, by_id = fhir.post("/Patient/$match", match({"identifier": [{"system": RESIDENT_ID, "value": CHEN_ID}]}))
    assert status == 200 and valid(by_id)["type"] == "searchset"
    assert grades(by_id)[0] == (chen, "certain", 1.0)  # the identity rule: same resident ID
    assert by_id["entry"][0]["resource"] == fhir.get(f"/Patient/{chen}")[1]
    demographics = {"name": [{"text": "陳桂蘭"}], "birthDate": "1949-09-02", "gender": "female"}
    [(person, grade, score)] = grades(fhir.post("/Patient/$match", match(demographics))[1])[:1]
    assert (person, grade) == (chen, "certain") and 0.9 < score < 1
    name_only = {"name": [{"text": "王建国"}]}
    [(_, grade, score)] = grades(fhir.post("/Patient/$match", match(name_only))[1])[:1]
    assert grade in ("probable", "possible") and 0 < score < 0.9
    certain_only = {"name": "onlyCertainMatches", "valueBoolean": True}
    assert fhir.post("/Patient/$match", match(name_only, certain_only))[1]["total"] == 0
    other_id = {**demographics, "identifier": [{"system": RESIDENT_ID, "value": "360426194909020448"}]}
    assert grades(fhir.post("/Patient/$match", match(other_id))[1])[0][:2] == (chen, "certainly-not")


@pytest.mark.parametrize(
    "body",
    [
        {"resourceType": "Patient", "name": [{"text": "陈桂兰"}]},
        {"resourceType": "Parameters", "parameter": []},
        match({"gender": "female"}),
        match({"name": [{"text": "陈桂兰"}]}, {"name": "count", "valueInteger": 0}),
        match({"name": [{"text": "陈桂兰"}]}, {"name": "colour", "valueString": "blue"}),
        match({"name": "陈桂兰"}),
        match({"name": {"text": "陈桂兰"}, "address": ["x"]}),
        {"resourceType": "Parameters", "parameter": 5},
        [],
    ],
)
def test_match_refuses_what_is_no_patient_match_request(fhir: Server, body: Any) -> None:
    status, outcome = fhir.post("/Patient/$match", body)
    assert (status, outcome["resourceType"]) == (400, "OperationOutcome")


def test_the_api_takes_no_other_post_than_match(fhir: Server) -> None:
    status, outcome = fhir.post("/Patient", {"resourceType": "Patient"})
    assert (status, outcome["resourceType"]) == (405, "OperationOutcome")
    assert fhir.get("/Patient/$match")[0] == 405


def test_the_provenance_of_a_version_names_its_message_source_and_mapping(fhir: Server) -> None:
    [his] = [p for p in sources(fhir, ZHOU_ID) if p["meta"]["source"] == HIS]
    assert his["meta"]["versionId"] == "2"  # the A40 said her Patient again
    status, found = fhir.get(f"/Provenance?target=Patient/{his['id']}")
    assert status == 200 and found["total"] == 2
    newest = valid(found["entry"][0]["resource"])
    assert newest["target"] == [{"reference": f"Patient/{his['id']}/_history/2"}]
    assert newest["recorded"] == his["meta"]["lastUpdated"]
    [message] = [m for m in journal(fhir.config, channel="his") if m["control_id"] == "HIS260821002"]
    [entity] = newest["entity"]
    assert entity["role"] == "source" and entity["what"]["identifier"]["value"] == str(message["id"])
    assert "HIS260821002" in entity["what"]["display"]
    assert {a["who"]["identifier"]["value"] for a in newest["agent"]} == {HIS, "his"}
    mapping = {x["url"]: x["valueString"] for x in newest["extension"][0]["extension"]}
    assert mapping["name"] == "hl7v2/adt" and mapping["version"]
    status, read = fhir.get(f"/Provenance/{newest['id']}")
    assert status == 200 and read == newest
    status, first = fhir.get(f"/Provenance?target=Patient/{his['id']}/_history/1")
    assert status == 200 and [e["resource"]["activity"]["coding"][0]["code"] for e in first["entry"]] == ["CREATE"]
    assert fhir.get(f"/Provenance/{his['id']}-9")[0] == 404
    assert fhir.get("/Provenance?patient=x")[0] == 400


def test_every_resource_served_validates_as_fhir_r4(fhir: Server) -> None:
    status, statement = fhir.get("/metadata", None)
    assert status == 200 and valid(statement)
    status, everyone = fhir.get("/Patient?gender=male,female&_count=100")
    persons = {enterprise_id(e["resource"]) for e in everyone["entry"]}
    assert len(persons) >= 8
    for person in sorted(persons):
        first, entries = walk(fhir, f"/Patient/{person}/$everything?_count=100")
        valid(first)
        for e in entries:
            provenance = fhir.get(f"/Provenance?target={e['resource']['resourceType']}/{e['resource']['id']}")[1]
            valid(provenance)


def test_the_capability_statement_lists_the_operations_and_provenance(fhir: Server) -> None:
    statement = fhir.get("/metadata", None)[1]
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert {o["name"] for o in resources["Patient"]["operation"]} == {"everything", "match", "export"}
    assert [p["name"] for p in resources["Provenance"]["searchParam"]] == ["target"]


def test_everything_and_match_are_audited_with_the_person(fhir: Server) -> None:
    person = enterprise_id(sources(fhir, CHEN_ID)[0])
    assert fhir.get(f"/Patient/{person}/$everything?_count=1")[0] == 200
    assert fhir.post("/Patient/$match", match({"identifier": [{"system": RESIDENT_ID, "value": CHEN_ID}]}))[0] == 200
    rows = audit_rows(fhir.config)
    assert any(d["interaction"] == "everything" and target == person for target, d in rows)
    assert any(d["interaction"] == "match" and d["query"] == "/fhir/Patient/$match" and t == person for t, d in rows)

"""The FHIR read API of a daemon that filed the county's HIS samples: metadata, read, vread, history, search."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml

from engine.connectors.mllp.client import exchange
from tests.support.daemon import Daemon, free_port, wait_port, wait_until, write_config
from tests.support.store_view import destination_statuses

HIS_SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "county" / "his"
CHEN_ID = "360426194909020421"  # the resident ID of 陈桂兰 (02_a04, 03_oru)


def get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


@pytest.fixture(scope="module")
def fhir(module_store_url: str, tmp_path_factory: pytest.TempPathFactory, log_dir: Path) -> Iterator[str]:
    """The FHIR base URL of a daemon holding the HIS samples' record."""
    root = tmp_path_factory.mktemp("fhir")
    port, api = free_port(), free_port()
    config = write_config(
        root,
        module_store_url,
        {
            "his": {
                "source_system": "his.county-people-hospital",
                "source": {"type": "mllp", "listen": f"127.0.0.1:{port}", "encoding": "gb18030"},
                "map": ["hl7v2/adt", "hl7v2/oru"],
                "destinations": [{"name": "record", "type": "record", "order_by": "person"}],
            }
        },
        log_dir / f"fhir-api-{root.name}.jsonl",
    )
    engine_yaml = yaml.safe_load(config.read_text())
    config.write_text(yaml.safe_dump({**engine_yaml, "fhir_api": {"listen": f"127.0.0.1:{api}"}}))
    samples = [p.read_bytes() for p in sorted(HIS_SAMPLES.glob("*.hl7"))]
    with Daemon(config, ports=(port, api)):
        acks = list(exchange("127.0.0.1", port, samples))
        assert all(b"MSA|AA|" in a for a in acks)
        done = {"SENT", "SKIPPED"}
        wait_until(lambda: len(s := destination_statuses(config)) == len(samples) and set(s) <= done)
        wait_port(api)
        yield f"http://127.0.0.1:{api}/fhir"


def chen(fhir: str) -> dict[str, Any]:
    status, bundle = get(f"{fhir}/Patient?identifier={CHEN_ID}")
    assert status == 200, bundle
    [entry] = bundle["entry"]
    return entry["resource"]


def test_metadata_lists_what_is_served(fhir: str) -> None:
    status, statement = get(f"{fhir}/metadata")
    assert status == 200 and statement["resourceType"] == "CapabilityStatement"
    served = {r["type"]: {p["name"] for p in r["searchParam"]} for r in statement["rest"][0]["resource"]}
    assert served["Patient"] >= {"identifier", "name", "birthdate", "gender", "phone", "telecom", "_count"}
    assert {"patient", "code", "date"} <= served["Observation"]


def test_a_patient_found_by_identifier_reads_with_its_meta(fhir: str) -> None:
    found = chen(fhir)
    [system] = [i["system"] for i in found["identifier"] if i["value"] == CHEN_ID]
    status, by_system = get(f"{fhir}/Patient?identifier={quote(system + '|' + CHEN_ID)}")
    assert status == 200 and [e["resource"] for e in by_system["entry"]] == [found]
    status, elsewhere = get(f"{fhir}/Patient?identifier={quote('urn:other|' + CHEN_ID)}")
    assert status == 200 and elsewhere["total"] == 0
    assert found["meta"]["versionId"] and found["meta"]["source"] == "his.county-people-hospital"
    status, read = get(f"{fhir}/Patient/{found['id']}")
    assert status == 200 and read == found
    status, first = get(f"{fhir}/Patient/{found['id']}/_history/1")
    assert status == 200 and first["meta"]["versionId"] == "1"
    status, history = get(f"{fhir}/Patient/{found['id']}/_history")
    assert status == 200 and history["type"] == "history" and history["total"] >= 1


@pytest.mark.parametrize("name", ["陈桂兰", "陳桂蘭", "chen guilan", "CHEN", "桂兰"])
def test_name_search_meets_chinese_traditional_and_pinyin(fhir: str, name: str) -> None:
    status, bundle = get(f"{fhir}/Patient?name={quote(name)}&birthdate=1949-09-02")
    assert status == 200, bundle
    assert chen(fhir)["id"] in {e["resource"]["id"] for e in bundle["entry"]}


def test_patient_search_by_gender_birthdate_and_phone(fhir: str) -> None:
    me = chen(fhir)["id"]
    for query in ("gender=female&birthdate=ge1949-01-01&birthdate=lt1950", "phone=13907921022"):
        status, bundle = get(f"{fhir}/Patient?{query}")
        assert status == 200 and me in {e["resource"]["id"] for e in bundle["entry"]}, query


def test_observations_of_a_patient_page_with_next_links_and_a_total(fhir: str) -> None:
    me = chen(fhir)["id"]
    status, first = get(f"{fhir}/Observation?patient={me}&_count=1")
    assert status == 200 and first["total"] >= 1
    seen, page = [], first
    while True:
        seen += [e["resource"]["id"] for e in page["entry"]]
        following = [link["url"] for link in page["link"] if link["relation"] == "next"]
        if not following:
            break
        status, page = get(following[0])
        assert status == 200
    assert len(seen) == len(set(seen)) == first["total"]
    status, coded = get(f"{fhir}/Observation?patient=Patient/{me}&code={quote('http://loinc.org|14771-0')}")
    assert status == 200 and coded["total"] >= 1
    status, dated = get(f"{fhir}/Observation?patient={me}&date=2026-07-08")
    assert status == 200 and dated["total"] >= 1
    for kind in ("Condition", "Encounter"):
        status, bundle = get(f"{fhir}/{kind}?patient={me}")
        assert status == 200 and bundle["total"] >= 1, kind


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/Patient/nobody", 404),
        ("/Patient/nobody/_history/1", 404),
        ("/Medication/x", 404),
        ("/nothing-here", 404),
        ("/Patient?colour=blue", 400),
        ("/Patient?birthdate=1949-13-40", 400),
        ("/Patient?birthdate=xx1949", 400),
        ("/Patient?_count=-1", 400),
        ("/Patient?_count=100000", 400),
        ("/Patient?name=%00", 400),
        ("/Observation?code:text=x", 400),
        ("/Patient?_offset=99999999999999999999", 400),
        ("/Patient/x/_history/99999999999999999999", 404),
    ],
)
def test_unknown_resources_and_bad_parameters_get_an_operation_outcome(fhir: str, path: str, status: int) -> None:
    got, outcome = get(fhir + path)
    assert (got, outcome["resourceType"]) == (status, "OperationOutcome")

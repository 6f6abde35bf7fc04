"""Search beyond the basics, on a daemon that filed the county's HIS samples: quantities, references, _id and
_lastUpdated, _sort, _summary and _elements, _include and _revinclude."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest

from tests.fhir_api.server import Server, chen, get

GLUCOSE = quote("http://loinc.org|14771-0")


def ids(bundle: dict[str, Any], mode: str = "match") -> list[str]:
    return [e["resource"]["id"] for e in bundle["entry"] if e["search"]["mode"] == mode]


def search(fhir: Server, query: str) -> dict[str, Any]:
    status, bundle = get(f"{fhir}/{query}")
    assert status == 200, bundle
    return bundle


def test_a_measured_value_is_found_by_its_quantity(fhir: Server) -> None:
    me = chen(fhir)["id"]
    glucose = search(fhir, f"Observation?patient={me}&code={GLUCOSE}")["total"]
    assert glucose >= 2  # 03 and 15: 7.9 and another fasting glucose
    high = search(fhir, f"Observation?patient={me}&code={GLUCOSE}&value-quantity=gt7.0")
    assert 1 <= high["total"] <= glucose
    assert all(e["resource"]["valueQuantity"]["value"] > 7.0 for e in high["entry"])
    exact = search(fhir, f"Observation?patient={me}&value-quantity=7.9")
    assert any(e["resource"]["valueQuantity"]["value"] == 7.9 for e in exact["entry"])
    assert search(fhir, f"Observation?patient={me}&value-quantity={quote('7.9||mmol/L')}")["total"] >= 1
    assert search(fhir, f"Observation?patient={me}&value-quantity=7.9||kg")["total"] == 0


def test_a_reference_parameter_finds_the_resources_pointing_at_a_patient(fhir: Server) -> None:
    me = chen(fhir)["id"]
    by_patient = set(ids(search(fhir, f"Observation?patient={me}&_count=100")))
    by_subject = set(ids(search(fhir, f"Observation?subject=Patient/{me}&_count=100")))
    assert by_subject == by_patient and by_patient


def test_id_and_status_and_category_search(fhir: Server) -> None:
    me = chen(fhir)["id"]
    assert ids(search(fhir, f"Patient?_id={me}")) == [me]
    final = search(fhir, f"Observation?patient={me}&status=final")
    assert final["total"] >= 1 and all(e["resource"]["status"] == "final" for e in final["entry"])
    assert search(fhir, f"Observation?patient={me}&status=cancelled")["total"] == 0
    assert search(fhir, f"Encounter?patient={me}&class=AMB")["total"] >= 1


def test_an_address_part_finds_the_patient(fhir: Server) -> None:
    me = chen(fhir)["id"]
    assert me in ids(search(fhir, f"Patient?address={quote('城关镇下坞村')}&_count=100"))
    assert me in ids(search(fhir, f"Patient?address={quote('岚溪县')}&_count=100"))
    assert search(fhir, f"Patient?address={quote('不存在的镇')}")["total"] == 0


def test_last_updated_bounds_the_versions_recorded_in_a_window(fhir: Server) -> None:
    me = chen(fhir)
    written = datetime.fromisoformat(me["meta"]["lastUpdated"].replace("Z", "+00:00"))
    before = quote((written.replace(microsecond=0) - _SECOND).isoformat())
    assert me["id"] in ids(search(fhir, f"Patient?_id={me['id']}&_lastUpdated=ge{before}"))
    later = quote(datetime.fromtimestamp(time.time() + 3600, UTC).isoformat(timespec="seconds"))
    assert search(fhir, f"Patient?_lastUpdated=gt{later}")["total"] == 0
    assert search(fhir, f"Patient?_id={me['id']}&_lastUpdated=lt{later}")["total"] == 1


def test_sort_by_date_descending_and_ascending(fhir: Server) -> None:
    me = chen(fhir)["id"]
    newest = search(fhir, f"Encounter?patient={me}&_sort=-date&_count=100")
    starts = [e["resource"]["period"]["start"] for e in newest["entry"]]
    assert len(starts) >= 2 and starts == sorted(starts, reverse=True)
    oldest = search(fhir, f"Encounter?patient={me}&_sort=date&_count=100")
    assert ids(oldest) == list(reversed(ids(newest)))


def test_summary_and_elements_answer_part_of_each_resource_marked_subsetted(fhir: Server) -> None:
    me = chen(fhir)["id"]
    brief = search(fhir, f"Observation?patient={me}&_elements=code,value")["entry"][0]["resource"]
    assert set(brief) == {"resourceType", "id", "meta", "code", "valueQuantity", "status"}  # status: mandatory
    assert {"code": "SUBSETTED"}.items() <= brief["meta"]["tag"][-1].items()
    summary = search(fhir, f"Patient?_id={me}&_summary=true")["entry"][0]["resource"]
    assert "name" in summary and "birthDate" in summary and "contact" not in summary
    counted = search(fhir, f"Observation?patient={me}&_summary=count")
    assert counted["total"] >= 1 and counted.get("entry", []) == []


def test_include_brings_the_patient_and_revinclude_its_observations(fhir: Server) -> None:
    me = chen(fhir)["id"]
    with_patient = search(fhir, f"Observation?patient={me}&code={GLUCOSE}&_include=Observation:subject")
    subjects = {e["resource"]["subject"]["reference"] for e in with_patient["entry"] if e["search"]["mode"] == "match"}
    included = {f"Patient/{i}" for i in ids(with_patient, "include")}
    assert subjects == included, "the enterprise Patient each subject reference names"
    assert all(e["fullUrl"].endswith(e["resource"]["id"]) for e in with_patient["entry"])
    reverse = search(fhir, f"Patient?_id={me}&_revinclude=Observation:subject")
    observations = set(ids(search(fhir, f"Observation?patient={me}&_count=100")))
    assert set(ids(reverse, "include")) == observations


@pytest.mark.parametrize(
    "query",
    [
        "Observation?value-quantity=abc",
        "Observation?value-quantity=zz7",
        "Observation?_sort=code",
        "Observation?_summary=maybe",
        "Observation?_elements=code&_summary=true",
        "Observation?_elements=1bad",
        "Observation?_include=Observation:code",
        "Observation?_include=Encounter:subject",
        "Observation?subject=Medication/x",
        "Patient?_lastUpdated=yesterday",
    ],
)
def test_bad_search_values_are_refused_with_an_operation_outcome(fhir: Server, query: str) -> None:
    status, outcome = get(f"{fhir}/{query}")
    assert (status, outcome["resourceType"]) == (400, "OperationOutcome"), outcome


_SECOND = datetime.fromtimestamp(1, UTC) - datetime.fromtimestamp(0, UTC)


def test_care_tasks_are_served_as_task_for_the_enterprise_patient(fhir: Server) -> None:
    me = chen(fhir)["id"]
    person = get(f"{fhir}/Patient/{me}")[1]["link"][0]["other"]["reference"].removeprefix("Patient/")
    tasks = search(fhir, f"Task?patient={me}&_count=100")
    assert tasks["total"] >= 1, "陈桂兰 has hypertension and diabetes: follow-up tasks"
    assert {e["resource"]["for"]["reference"] for e in tasks["entry"]} == {f"Patient/{person}"}
    first = tasks["entry"][0]["resource"]
    assert get(f"{fhir}/Task/{first['id']}")[1] == first
    status = first["status"]
    same = search(fhir, f"Task?patient={me}&status={status}&_count=100")
    assert same["total"] >= 1 and all(e["resource"]["status"] == status for e in same["entry"])
    rule = first["code"]["coding"][0]["code"]
    assert first["id"] in ids(search(fhir, f"Task?patient={me}&code={rule}&_count=100"))
    assert get(f"{fhir}/Task?colour=red")[0] == 400

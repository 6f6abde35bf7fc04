"""`huitong record show|export` through the real script, against a store filled through `apply`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from engine.domain.mapping.result import Resource
from engine.pipeline.record import apply
from engine.store.database import migrate, open_engine
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
    message,
    patient,
    resident,
    source,
)
from tests.support.daemon import huitong, write_config
from tests.support.mpi import shipped_resolver

PRECEDENCE = {"Patient": {"default": ["his.*", "phs.*"], "address": ["phs.*", "his.*"]}}


def allergy() -> Resource:
    body = {
        "resourceType": "AllergyIntolerance",
        "id": "alg-1",
        "code": {"text": "青霉素"},
        "patient": {"reference": "Patient/pat-1"},
        "recordedDate": "2015-07-01",
    }
    return Resource("allergy", "A-1", body)


@pytest.fixture
def config(store_url: str, tmp_path: Path, log_dir: Path) -> Path:
    path = write_config(tmp_path, store_url, {}, log_dir / f"record-cli-{tmp_path.name}.jsonl")
    settings = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**settings, "record": {"precedence": PRECEDENCE}}))
    engine = open_engine(store_url)
    migrate(engine)
    his = message(
        patient(resident(WANG_ID), WANG_HIS, name=WANG_NAME, gender="male", address=HIS_ADDRESS),
        encounter("V2", "2026-03-05T09:30:00+08:00", local="enc-2"),
        encounter("V1", "2026-01-12T08:00:00+08:00"),
        condition("原发性高血压", "2019-05-10", key="D-1"),
        allergy(),
    )
    phs = message(
        patient(resident(WANG_ID), WANG_PHS, address=PHS_ADDRESS),
        condition("原发性高血压", "2019-05-10", local="htn"),
        mapping="xml/phs",
    )
    with engine.begin() as conn:
        apply(conn, [(his, source(HIS, 1)), (phs, source(PHS, 2, "phs-xml"))], time.time(), shipped_resolver())
    engine.dispose()
    return path


def test_show_gives_each_demographic_value_with_its_source_then_the_history_in_time_order(config: Path) -> None:
    result = huitong("record", "show", WANG_ID, config=config)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any("王建国" in line and HIS in line for line in lines)
    assert any(PHS_ADDRESS[0]["text"] in line and f"[{PHS}]" in line for line in lines)
    encounters = [line for line in lines if line.strip().startswith("2026-")]
    assert [line.split()[0] for line in encounters] == ["2026-01-12T08:00:00+08:00", "2026-03-05T09:30:00+08:00"]
    assert any("原发性高血压" in line and f"[{HIS}, {PHS}]" in line for line in lines)
    assert lines.index("allergies") > lines.index("problems")


def test_show_json_finds_the_person_by_mrn_and_by_person_id(config: Path) -> None:
    by_mrn = json.loads(huitong("record", "show", f"{HIS_MRN}|{WANG_HIS['value']}", "--json", config=config).stdout)
    by_id = json.loads(huitong("record", "show", by_mrn["person"], "--json", config=config).stdout)
    assert by_id == by_mrn
    assert by_mrn["demographics"]["address"] == {"value": PHS_ADDRESS, "sources": [PHS]}
    assert by_mrn["demographics"]["name"]["sources"] == [HIS]
    assert [e["summary"] for e in by_mrn["sections"]["allergies"]] == ["青霉素"]
    assert len(by_mrn["sections"]["problems"]) == 1


def test_show_names_what_it_could_not_find(config: Path) -> None:
    result = huitong("record", "show", "no-such-mrn", config=config)
    assert result.returncode == 1
    assert "no person holds the identifier no-such-mrn" in result.stderr


def test_export_writes_a_searchset_bundle_with_the_merged_patient_first(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "wang.json"
    result = huitong("record", "export", WANG_PHS["value"], "--output", str(out), config=config)
    assert result.returncode == 0, result.stderr
    bundle = json.loads(out.read_text())
    assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "searchset")
    first = bundle["entry"][0]["resource"]
    assert first["resourceType"] == "Patient" and first["address"] == PHS_ADDRESS
    assert sorted(i["value"] for i in first["identifier"]) == sorted([WANG_ID, WANG_HIS["value"], WANG_PHS["value"]])
    types = [e["resource"]["resourceType"] for e in bundle["entry"][1:]]
    assert sorted(types) == ["AllergyIntolerance", "Condition", "Encounter", "Encounter"]
    for entry in bundle["entry"]:
        resource = entry["resource"]
        assert entry["fullUrl"].endswith(f"/{resource['resourceType']}/{resource['id']}")
    subjects = {e["resource"].get("subject", {}).get("reference") for e in bundle["entry"][1:]} - {None}
    assert subjects == {f"Patient/{first['id']}"}

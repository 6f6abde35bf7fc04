"""`huitong record assess` through the real script: a health assessment computed from a store filled by `apply`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from engine.domain.mapping.result import Resource
from engine.pipeline.record import apply
from engine.store.database import migrate, open_engine
from tests.record.people import HIS, HIS_MRN, PHS, condition, message, mrn, patient, resident, source
from tests.support.daemon import huitong, write_config
from tests.support.mpi import shipped_resolver

# 李秀英: an invented resident, 67 on the assessment day, hypertensive since 2019.
LI_ID = "330781195903140035"
LI_HIS = mrn(HIS_MRN, "H0067001")
LI_NAME = [{"text": "李秀英", "family": "李", "given": ["秀英"]}]
ON = "2026-06-15"


def bp(key: str, at: str, systolic: float, diastolic: float, local: str) -> Resource:
    """A blood-pressure panel (LOINC 85354-9) with systolic and diastolic components, as a follow-up records it."""

    def part(code: str, value: float) -> dict[str, Any]:
        return {"code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                "valueQuantity": {"value": value, "unit": "mmHg", "code": "mm[Hg]"}}

    body = {
        "resourceType": "Observation",
        "id": local,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        "subject": {"reference": "Patient/pat-1"},
        "effectiveDateTime": at,
        "component": [part("8480-6", systolic), part("8462-4", diastolic)],
    }
    return Resource("observation", key, body)


def _apply(store_url: str, *items: tuple[Any, Any]) -> None:
    engine = open_engine(store_url)
    migrate(engine)
    with engine.begin() as conn:
        apply(conn, list(items), time.time(), shipped_resolver())
    engine.dispose()


@pytest.fixture
def config(store_url: str, tmp_path: Path, log_dir: Path) -> Path:
    path = write_config(tmp_path, store_url, {}, log_dir / f"record-assess-{tmp_path.name}.jsonl")
    his = message(
        patient(resident(LI_ID), LI_HIS, name=LI_NAME, gender="female", birthDate="1959-03-14"),
        condition("原发性高血压", "2019-05-10", key="D-1"),
    )
    phs = message(
        patient(resident(LI_ID)),
        bp("BP-1", "2026-02-10T09:00:00+08:00", 128, 82, "bp-1"),
        bp("BP-2", "2026-06-08T09:30:00+08:00", 152, 94, "bp-2"),
        mapping="xml/phs",
    )
    _apply(store_url, (his, source(HIS, 1)), (phs, source(PHS, 2, "phs-xml")))
    return path


def _assess(config: Path, *extra: str) -> dict[str, Any]:
    result = huitong("record", "assess", LI_ID, "--on", ON, "--json", *extra, config=config)
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_json_gives_labels_with_evidence_latest_bp_and_the_recheck_task(config: Path) -> None:
    data = _assess(config)
    assert (data["name"], data["sex"], data["age"], data["on"]) == ("李秀英", "female", 67, ON)
    labels = {x["code"]: x for x in data["labels"]}
    assert list(labels) == ["elderly-65", "hypertension"]
    (age,) = labels["elderly-65"]["evidence"]
    assert age["fact"].startswith("age 67") and age["resource"] == f"Patient/{data['person']}"
    assert age["source"] == HIS  # the system the birth date came from
    (htn,) = labels["hypertension"]["evidence"]
    assert (htn["date"], htn["fact"], htn["source"]) == ("2019-05-10", "Condition I10", HIS)
    assert htn["resource"].startswith("Condition/")
    bp_status, fbg = data["controls"]
    assert (bp_status["control"], bp_status["date"], bp_status["controlled"]) == ("bp", "2026-06-08", False)
    assert [(r["measure"], r["value"], r["source"]) for r in bp_status["readings"]] == [
        ("systolic_bp", 152.0, PHS),
        ("diastolic_bp", 94.0, PHS),
    ]
    assert bp_status["target"] == "< 140/90 mmHg"
    assert (fbg["control"], fbg["controlled"], fbg["target"]) == ("fbg", None, "< 7.0 mmol/L")
    due = {t["rule"]: t for t in data["tasks"]["due"]}
    recheck = due["htn-recheck"]
    assert (recheck["start"], recheck["end"], recheck["state"]) == ("2026-06-09", "2026-06-22", "DUE")
    assert recheck["trigger"]["date"] == "2026-06-08" and "152" in recheck["trigger"]["fact"]
    assert "elderly-annual" in due
    done = [(t["rule"], t["evidence"]["date"]) for t in data["tasks"]["done"]]
    assert done == [("htn-followup", "2026-02-10"), ("htn-followup", "2026-06-08")]
    assert data["tasks"]["overdue"] == []
    assert data["risks"] == []


def test_text_shows_who_the_labels_the_bp_against_its_target_and_the_tasks(config: Path) -> None:
    result = huitong("record", "assess", LI_ID, "--on", ON, config=config)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    lines = out.splitlines()
    assert lines[0].startswith("李秀英, female, 67 y")
    assert any("高血压患者 (hypertension)" in line for line in lines)
    assert any("2019-05-10" in line and "Condition I10" in line and f"[{HIS}]" in line for line in lines)
    bp_line = next(line for line in lines if line.strip().startswith("blood pressure"))
    assert "2026-06-08" in bp_line and "152/94 mmHg" in bp_line and "< 140/90 mmHg" in bp_line
    assert bp_line.endswith("UNCONTROLLED")
    fbg_line = next(line for line in lines if line.strip().startswith("fasting glucose"))
    assert "not measured" in fbg_line and "< 7.0 mmol/L" in fbg_line
    due = lines[lines.index("tasks due") + 1 : lines.index("risk flags")]
    assert any("2026-06-09..2026-06-22" in line and "高血压控制不满意2周内随访" in line for line in due)
    assert lines[lines.index("risk flags") + 1] == "  (none)"


def test_a_second_uncontrolled_visit_closes_the_recheck_and_raises_risk_flags(config: Path, store_url: str) -> None:
    later = message(patient(resident(LI_ID)), bp("BP-3", "2026-06-12T10:00:00+08:00", 186, 112, "bp-3"),
                    mapping="xml/phs")
    _apply(store_url, (later, source(PHS, 3, "phs-xml")))
    data = _assess(config)
    assert {r["code"] for r in data["risks"]} == {"bp-uncontrolled-twice", "bp-urgent"}
    done = {t["name"]: t for t in data["tasks"]["done"] if t["rule"] == "htn-recheck"}
    assert done["高血压控制不满意2周内随访 (after 2026-06-08)"]["evidence"]["date"] == "2026-06-12"
    assert data["controls"][0]["date"] == "2026-06-12" and data["controls"][0]["controlled"] is False


def test_fhir_is_a_collection_bundle_led_by_a_composition(config: Path) -> None:
    result = huitong("record", "assess", LI_ID, "--on", ON, "--fhir", config=config)
    assert result.returncode == 0, result.stderr
    bundle = json.loads(result.stdout)
    assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "collection")
    resources = [e["resource"] for e in bundle["entry"]]
    composition = resources[0]
    assert composition["resourceType"] == "Composition" and composition["subject"]["reference"].startswith("Patient/")
    urls = {e["fullUrl"] for e in bundle["entry"]}
    listed = [x["reference"] for s in composition["section"] for x in s.get("entry", [])]
    assert {r for r in listed if r.startswith("urn:uuid:")} == urls - {bundle["entry"][0]["fullUrl"]}
    flags = sorted(r["code"]["coding"][0]["code"] for r in resources if r["resourceType"] == "Flag")
    assert flags == ["elderly-65", "hypertension"]
    (control,) = [r for r in resources if r["resourceType"] == "Observation"]
    assert control["interpretation"][0]["coding"][0]["code"] == "H" and control["effectiveDateTime"] == "2026-06-08"
    tasks = [r for r in resources if r["resourceType"] == "Task"]
    assert {t["businessStatus"]["text"] for t in tasks} == {"DONE", "DUE"}
    again = json.loads(huitong("record", "assess", LI_ID, "--on", ON, "--fhir", config=config).stdout)
    assert again == bundle  # the same record gives the same Bundle


def test_a_person_who_does_not_exist_exits_1_and_says_so(config: Path) -> None:
    result = huitong("record", "assess", "no-such-mrn", config=config)
    assert result.returncode == 1
    assert "no person holds the identifier no-such-mrn" in result.stderr
    assert result.stdout == ""

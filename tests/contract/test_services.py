"""Data return: HIS services of contracted residents become service records matched to package items.

Contracts come from the sample public-health XML (samples/phs/contracts/) through the contract reader; services
come from HL7 v2 messages mapped by the shipped mappings, as the unified record holds them (with `meta.source`),
or, for resources no shipped HL7 v2 mapping makes yet (MedicationRequest, typed Encounters), FHIR dicts in the
same shape.
"""

from __future__ import annotations

import copy
import re
from dataclasses import replace
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from lxml import etree

from engine.config.mappings import load_mappings
from engine.domain.contract import Contract, ContractReader, Package, PackageItem, Status
from engine.domain.contract.services import (
    ServiceRecord,
    ServiceRules,
    compile_service_rules,
    service_records,
    service_xml,
    with_tasks,
)
from engine.domain.mapping import MappingSet
from engine.pipeline.mapping import map_message

from .conftest import MAPPINGS, SAMPLES

HIS = "his.dean-people-hospital"
RULES_FILE = MAPPINGS / "contract" / "service-items.yaml"


@cache
def _mappings() -> MappingSet:
    mappings, errors = load_mappings(MAPPINGS)
    assert not errors, "\n".join(str(e) for e in errors)
    return mappings


@cache
def _rules() -> ServiceRules:
    return compile_service_rules(yaml.safe_load(RULES_FILE.read_text(encoding="utf-8")))


@cache
def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(MAPPINGS / "contract" / "service-record.xsd")))


def sample_contract(reader: ContractReader, name: str) -> Contract:
    (contract,) = reader.read((SAMPLES / name).read_bytes())
    return contract


def from_his(text: str) -> list[dict[str, Any]]:
    """A GB 18030 HL7 v2 message mapped by the shipped mappings, each resource tagged with its source as the
    unified record tags it (meta.source)."""
    raw = text.replace("\n", "\r").encode("gb18030")
    mapped = map_message(_mappings(), None, raw, format="hl7v2", charset="gb18030", source_system=HIS)
    return [{**copy.deepcopy(r.body), "meta": {"source": HIS}} for r in mapped.resources]


def visit(day: str, *, pid: str = "360426195803140024", name: str = "李秀英", patient_class: str = "O",
          visit_no: str = "MZ20250312001") -> str:
    """An outpatient registration (ADT^A04) with a hypertension diagnosis and a raised blood pressure."""
    msh = f"MSH|^~\\&|HIS|德安县人民医院|HUITONG|医共体平台|{day}093000||ADT^A04^ADT_A01|DA-A04-{visit_no}|P|2.4"
    return f"""{msh}||||||GB 18030-2000
EVN|A04|{day}093000
PID|1||MZ0012345^^^HIS^MR~{pid}^^^CHN^NNCHN||{name}^^^^^^L||19580314|F
PV1|1|{patient_class}|心内科门诊^^^德安县人民医院||||D3001^黄卫东|||CAR|||||||||{visit_no}^^^HIS^VN|||||||||||||||||||||||||{day}093000
DG1|1||I10.x00^原发性高血压^ICD10GB||{day}|F
OBX|1|NM|8480-6^收缩压^LN||146|mm[Hg]^mmHg^UCUM|90-139|H|||F|||{day}094000
OBX|2|NM|8462-4^舒张压^LN||92|mm[Hg]^mmHg^UCUM|60-89|H|||F|||{day}094000"""


def lab(day: str, order: str, tests: list[tuple[str, str, str, str]], *, pid: str = "360426195803140024",
        name: str = "李秀英", panel: str = "58410-2^血常规^LN") -> str:
    """A lab result (ORU^R01) for the visit MZ20250312001: one report with an OBX per (code, name, value, unit)."""
    obx = "\n".join(
        f"OBX|{i}|NM|{code}^{label}^LN||{value}|{unit}^{unit}^UCUM|||||F|||{day}103000"
        for i, (code, label, value, unit) in enumerate(tests, 1)
    )
    msh = f"MSH|^~\\&|LIS|德安县人民医院检验科|HUITONG|医共体平台|{day}111500||ORU^R01^ORU_R01|DA-ORU-{order}|P|2.5.1"
    return f"""{msh}||||||GB 18030-2000
PID|1||MZ0012345^^^HIS^MR~{pid}^^^CHN^NNCHN||{name}^^^^^^L||19580314|F
PV1|1|O|心内科门诊^^^德安县人民医院||||D3001^黄卫东||||||||||||MZ20250312001^^^HIS^VN
ORC|RE|SQ{order}^HIS|JY{order}^LIS
OBR|1|SQ{order}^HIS|JY{order}^LIS|{panel}|||{day}100000
{obx}"""


CBC = [("718-7", "血红蛋白", "128", "g/L"), ("6690-2", "白细胞计数", "6.2", "10*9/L")]
FASTING_GLUCOSE = [("1558-6", "空腹血糖", "136", "mg/dL")]


def records(contract: Contract, resources: list[dict[str, Any]]) -> list[ServiceRecord]:
    return service_records(contract, resources, _rules())


# --- what a message yields -----------------------------------------------------------------------------------


def test_a_hypertension_visit_of_a_contracted_resident_is_an_outpatient_visit_fulfilling_gxy_sf(
    reader: ContractReader,
) -> None:
    contract = sample_contract(reader, "signing.xml")  # 李秀英, 2025-01-06 .. 2026-01-05, items GXY-SF and LNR-TJ
    (record,) = records(contract, from_his(visit("20250312")))
    assert (record.service_type, record.item_code, record.service_date) == (
        "outpatient-visit", "GXY-SF", date(2025, 3, 12))
    assert (record.contract_id, record.contract_source_system) == ("SC3604262025000101", "chis.dean-county")
    assert (record.resident_id, record.resident_name) == ("360426195803140024", "李秀英")
    assert record.source_system == HIS


def test_the_visit_evidence_is_the_encounter_then_its_diagnosis_and_readings(reader: ContractReader) -> None:
    resources = from_his(visit("20250312"))
    (record,) = records(sample_contract(reader, "signing.xml"), resources)
    kinds = [ref.split("/")[0] for ref in record.evidence]
    assert kinds[0] == "Encounter"
    assert sorted(kinds[1:]) == ["Condition", "Observation", "Observation"]
    ids = {f"{r['resourceType']}/{r['id']}" for r in resources}
    assert set(record.evidence) <= ids


def test_a_visit_before_the_contract_takes_effect_yields_nothing(reader: ContractReader) -> None:
    assert records(sample_contract(reader, "signing.xml"), from_his(visit("20250105"))) == []


def test_a_visit_on_the_first_day_in_force_counts(reader: ContractReader) -> None:
    assert len(records(sample_contract(reader, "signing.xml"), from_his(visit("20250106")))) == 1


def test_a_visit_after_the_period_ends_yields_nothing(reader: ContractReader) -> None:
    assert records(sample_contract(reader, "signing.xml"), from_his(visit("20260106"))) == []


def test_a_visit_on_or_after_the_termination_date_yields_nothing(reader: ContractReader) -> None:
    contract = sample_contract(reader, "termination.xml")  # 赵德明, terminated from 2025-08-15 (迁出)
    zhao = {"pid": "360426194511050014", "name": "赵德明"}
    assert records(contract, from_his(visit("20250815", **zhao))) == []
    assert records(contract, from_his(visit("20250901", **zhao))) == []
    (before,) = records(contract, from_his(visit("20250814", **zhao)))
    assert before.item_code is None  # his contract has no package items


def test_a_pending_contract_counts_nothing(reader: ContractReader) -> None:
    (pending, _) = reader.read((SAMPLES / "list-yihu.xml").read_bytes())  # 陈丽, 0 待签约
    assert records(pending, from_his(visit("20250501", pid="360426198706120041", name="陈丽"))) == []


def test_an_unmatched_lab_result_is_a_lab_result_without_item(reader: ContractReader) -> None:
    contract = sample_contract(reader, "signing.xml")
    (record,) = records(contract, from_his(lab("20250312", "0007", CBC)))
    assert (record.service_type, record.item_code) == ("lab-result", None)
    assert record.evidence[0].startswith("DiagnosticReport/")
    assert [ref.split("/")[0] for ref in record.evidence[1:]] == ["Observation", "Observation"]


def test_the_visit_repeated_in_a_result_message_is_context_not_another_visit(reader: ContractReader) -> None:
    resources = from_his(lab("20250312", "0007", CBC))
    assert any(r["resourceType"] == "Encounter" for r in resources)
    assert [r.service_type for r in records(sample_contract(reader, "signing.xml"), resources)] == ["lab-result"]


def test_a_fasting_glucose_fulfils_the_diabetes_follow_up_and_the_glucose_test(reader: ContractReader) -> None:
    contract = sample_contract(reader, "renewal.xml")  # 王建国, 2026, items TNB-SF, TNB-KFXT, YD-JC
    wang = {"pid": "360426196209210039", "name": "王建国"}
    found = records(contract, from_his(lab("20260210", "0042", FASTING_GLUCOSE, panel="1558-6^空腹血糖^LN", **wang)))
    assert [(r.service_type, r.item_code) for r in found] == [("lab-result", "TNB-KFXT"), ("lab-result", "TNB-SF")]
    assert found[0].record_id != found[1].record_id
    assert found[0].evidence == found[1].evidence


def test_an_item_the_contract_does_not_have_is_never_matched(reader: ContractReader) -> None:
    contract = sample_contract(reader, "signing.xml")  # no diabetes items
    (record,) = records(contract, from_his(lab("20250312", "0043", FASTING_GLUCOSE, panel="1558-6^空腹血糖^LN")))
    assert record.item_code is None


def test_an_emergency_visit_is_not_a_hypertension_follow_up(reader: ContractReader) -> None:
    (record,) = records(sample_contract(reader, "signing.xml"), from_his(visit("20250312", patient_class="E")))
    assert (record.service_type, record.item_code) == ("emergency-visit", None)


def test_an_admission_is_an_inpatient_admission(reader: ContractReader) -> None:
    (record,) = records(sample_contract(reader, "signing.xml"), from_his(visit("20250312", patient_class="I")))
    assert (record.service_type, record.item_code) == ("inpatient-admission", None)


def test_a_health_check_visit_fulfils_the_elderly_health_check(reader: ContractReader) -> None:
    check = {
        "resourceType": "Encounter", "id": "enc-tj-1", "meta": {"source": HIS}, "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "type": [{"text": "老年人健康体检"}],
        "serviceProvider": {"identifier": {"value": "H36042601"}, "display": "蒲亭镇卫生院"},
        "period": {"start": "2025-06-03T08:30:00+08:00"},
    }
    (record,) = records(sample_contract(reader, "signing.xml"), [check])
    assert (record.service_type, record.item_code) == ("health-check", "LNR-TJ")
    assert record.organisation == "H36042601"


def test_the_organisation_is_the_recording_system_when_the_visit_names_no_provider(reader: ContractReader) -> None:
    (record,) = records(sample_contract(reader, "signing.xml"), from_his(visit("20250312")))
    assert record.organisation == HIS


def test_a_prescription_is_a_prescription_record(reader: ContractReader) -> None:
    prescription = {
        "resourceType": "MedicationRequest", "id": "rx-1", "meta": {"source": HIS}, "status": "active",
        "intent": "order", "subject": {"reference": "Patient/patient-1"},
        "medicationCodeableConcept": {"text": "苯磺酸氨氯地平片 5mg"},
        "authoredOn": "2025-03-12T09:50:00+08:00",
    }
    (record,) = records(sample_contract(reader, "signing.xml"), [prescription])
    assert (record.service_type, record.item_code) == ("prescription", None)
    assert record.evidence == ("MedicationRequest/rx-1",)


def test_a_planned_or_cancelled_visit_is_not_a_service(reader: ContractReader) -> None:
    contract = sample_contract(reader, "signing.xml")
    for status in ("planned", "cancelled", "entered-in-error"):
        resources = from_his(visit("20250312"))
        for r in resources:
            if r["resourceType"] == "Encounter":
                r["status"] = status
        assert [r.service_type for r in records(contract, resources)] == [], status


def test_a_visit_for_two_programmes_fulfils_both_items(reader: ContractReader) -> None:
    contract = sample_contract(reader, "signing.xml")
    both = replace(contract, packages=(*contract.packages, *sample_contract(reader, "renewal.xml").packages))
    text = visit("20250312").replace("DG1|1||I10.x00", "DG1|1||E11.900^2型糖尿病^ICD10GB||20250312|F\nDG1|2||I10.x00")
    found = records(both, from_his(text))
    assert [(r.service_type, r.item_code) for r in found] == [
        ("outpatient-visit", "GXY-SF"), ("outpatient-visit", "TNB-SF")]
    assert found[0].evidence == found[1].evidence


def test_an_influenza_vaccination_fulfils_the_vaccine_item(reader: ContractReader) -> None:
    contract = sample_contract(reader, "signing.xml")
    package = Package("GX03", "老年人个性化服务包", items=(PackageItem("LG-YM", "流感疫苗接种", 1),))
    flu = replace(contract, packages=(package,))
    vaccination = {
        "resourceType": "Immunization", "id": "imm-1", "meta": {"source": "ims.dean-county"}, "status": "completed",
        "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "141"}], "text": "流感疫苗"},
        "patient": {"reference": "Patient/patient-1"}, "occurrenceDateTime": "2025-10-20T09:00:00+08:00",
    }
    (record,) = records(flu, [vaccination])
    assert (record.service_type, record.item_code, record.source_system) == ("vaccination", "LG-YM", "ims.dean-county")


def test_an_expired_contract_still_counts_services_inside_its_period(reader: ContractReader) -> None:
    expired = replace(sample_contract(reader, "signing.xml"), status=Status.EXPIRED)
    assert [r.item_code for r in records(expired, from_his(visit("20251230")))] == ["GXY-SF"]


# --- idempotence -----------------------------------------------------------------------------------------------


def test_the_same_message_twice_gives_the_same_record_ids(reader: ContractReader) -> None:
    contract = sample_contract(reader, "signing.xml")
    first = records(contract, from_his(visit("20250312")))
    again = records(contract, from_his(visit("20250312")))
    assert first == again
    assert [r.record_id for r in first] == [r.record_id for r in again]


def test_record_ids_differ_per_contract(reader: ContractReader) -> None:
    contract = sample_contract(reader, "signing.xml")
    resources = from_his(visit("20250312"))
    other = replace(contract, contract_id="SC3604262025000999")
    assert records(contract, resources)[0].record_id != records(other, resources)[0].record_id


# --- the XML ---------------------------------------------------------------------------------------------------


def _all_kinds(reader: ContractReader) -> list[ServiceRecord]:
    li = sample_contract(reader, "signing.xml")
    wang = sample_contract(reader, "renewal.xml")
    return [
        *records(li, from_his(visit("20250312"))),
        *records(li, from_his(lab("20250312", "0007", CBC))),
        *records(li, from_his(visit("20250401", patient_class="E", visit_no="JZ20250401009"))),
        *records(wang, from_his(lab("20260210", "0042", FASTING_GLUCOSE, panel="1558-6^空腹血糖^LN",
                                    pid="360426196209210039", name="王建国"))),
    ]


def test_every_document_validates_against_the_schema(reader: ContractReader) -> None:
    found = _all_kinds(reader)
    assert {r.service_type for r in found} == {"outpatient-visit", "lab-result", "emergency-visit"}
    for batch in (found, found[:1], found[1:2]):
        document = etree.fromstring(service_xml(batch))
        assert _schema().validate(document), _schema().error_log


def test_the_xml_carries_each_record(reader: ContractReader) -> None:
    (record,) = records(sample_contract(reader, "signing.xml"), from_his(visit("20250312")))
    data = service_xml([record])
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<ServiceRecords>')
    root = etree.fromstring(data)
    (element,) = root.findall("ServiceRecord")
    assert element.findtext("RecordId") == record.record_id
    assert element.findtext("ContractId") == "SC3604262025000101"
    assert element.findtext("SourceSystem") == "chis.dean-county"
    assert element.findtext("Resident/IdTypeCode") == "01"
    assert element.findtext("Resident/IdNumber") == "360426195803140024"
    assert element.findtext("Resident/Name") == "李秀英"
    assert element.findtext("ServiceType") == "outpatient-visit"
    assert element.findtext("ServiceDate") == "20250312"
    assert element.findtext("ItemCode") == "GXY-SF"
    assert element.findtext("OrganizationCode") == HIS
    assert element.findtext("ServiceSystem") == HIS
    assert tuple(e.text for e in element.findall("Evidence/Reference")) == record.evidence


def test_a_record_without_item_or_organisation_leaves_those_elements_out(reader: ContractReader) -> None:
    (record,) = records(sample_contract(reader, "signing.xml"), from_his(lab("20250312", "0007", CBC)))
    bare = replace(record, organisation=None, source_system=None)
    element = etree.fromstring(service_xml([bare])).find("ServiceRecord")
    assert element is not None
    assert [element.find(tag) for tag in ("ItemCode", "OrganizationCode", "ServiceSystem")] == [None, None, None]
    assert _schema().validate(element.getroottree())


def test_an_empty_batch_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        service_xml([])


# --- the rules -------------------------------------------------------------------------------------------------


def test_the_shipped_rules_cover_every_item_of_the_sample_contracts() -> None:
    codes = {
        code
        for path in SAMPLES.glob("*.xml")
        for code in re.findall(r"<ItemCode>([^<]+)</ItemCode>", path.read_text(encoding="utf-8"))
    }
    assert codes
    assert {code for code in codes if _rules().item(code) is None} == set()


def test_every_shipped_item_names_its_source() -> None:
    assert all(len(rule.source) > 10 for rule in _rules().items)


def _data() -> dict[str, Any]:
    return {
        "service_types": [{"type": "outpatient-visit", "match": {"resource": "Encounter", "classes": ["AMB"]}}],
        "items": [{"code": "GXY-SF", "name": "高血压随访", "source": "规范", "any_of": [{"resource": "Encounter"}]}],
    }


def test_an_unknown_item_key_is_an_error_naming_item_and_key() -> None:
    data = _data()
    data["items"][0]["servces"] = ["outpatient-visit"]
    with pytest.raises(ValueError, match=r"service item GXY-SF: unknown key 'servces'"):
        compile_service_rules(data)


def test_an_unknown_matcher_key_is_an_error_naming_the_item_and_matcher() -> None:
    data = _data()
    data["items"][0]["any_of"] = [{"resource": "Observation", "code": ["8480-6"]}]
    with pytest.raises(ValueError, match=r"service item GXY-SF: any_of\[0\]: .*unknown keys \['code'\]"):
        compile_service_rules(data)


def test_an_unknown_service_type_is_an_error() -> None:
    data = _data()
    data["items"][0]["services"] = ["home-visit"]
    with pytest.raises(ValueError, match=r"service item GXY-SF: services: unknown service type 'home-visit'"):
        compile_service_rules(data)
    data = _data()
    data["service_types"][0]["type"] = "visit"
    with pytest.raises(ValueError, match=r"service_types\[0\].type: unknown service type 'visit'"):
        compile_service_rules(data)


def test_an_item_without_criteria_or_source_is_an_error() -> None:
    for key in ("any_of", "source"):
        data = _data()
        del data["items"][0][key]
        with pytest.raises(ValueError, match=f"service item GXY-SF: '{key}' is required"):
            compile_service_rules(data)


def test_an_item_listed_twice_is_an_error() -> None:
    data = _data()
    data["items"].append(dict(data["items"][0]))
    with pytest.raises(ValueError, match="service item GXY-SF: listed twice"):
        compile_service_rules(data)


def test_the_mapping_loader_leaves_the_contract_folder_alone() -> None:
    _, errors = load_mappings(Path(MAPPINGS))
    assert errors == []


def test_a_service_names_the_care_tasks_its_evidence_closed(reader: ContractReader) -> None:
    contract = sample_contract(reader, "signing.xml")
    [record] = [r for r in service_records(contract, from_his(visit("20250312")), _rules()) if r.item_code == "GXY-SF"]
    [named] = with_tasks([record], {record.evidence[0]: ["task-1"]})
    assert named.task_ids == ("task-1",)
    document = etree.fromstring(service_xml([named]))
    assert _schema().validate(document), _schema().error_log
    assert [t.text for t in document.iter("TaskId")] == ["task-1"]

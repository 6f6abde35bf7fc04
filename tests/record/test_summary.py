"""How the 360° view reads: a date and one line per resource, demographics as text."""

from __future__ import annotations

from engine.domain.record.summary import demographic_order, describe, what, when


def test_the_date_is_the_time_the_fact_is_about() -> None:
    assert when({"resourceType": "Encounter", "period": {"start": "2026-03-01T08:00"}}) == "2026-03-01T08:00"
    assert when({"resourceType": "Observation", "effectiveDateTime": "2026-03-02", "issued": "2026-03-03"}) == (
        "2026-03-02"
    )
    assert when({"resourceType": "Condition"}) == ""


def test_the_summary_is_the_code_display_with_an_observations_value() -> None:
    obs = {
        "resourceType": "Observation",
        "code": {"coding": [{"code": "8480-6", "display": "收缩压"}]},
        "valueQuantity": {"value": 142, "unit": "mm[Hg]"},
    }
    assert what(obs) == "收缩压 = 142 mm[Hg]"
    assert what({"resourceType": "Immunization", "vaccineCode": {"text": "乙肝疫苗"}}) == "乙肝疫苗"
    assert what({"resourceType": "MedicationRequest", "medicationCodeableConcept": {"text": "氨氯地平片"}}) == (
        "氨氯地平片"
    )


def test_demographic_values_read_as_text() -> None:
    assert describe([{"family": "李", "given": ["秀英"]}]) == "李秀英"
    assert describe([{"system": "phone", "value": "13912345678"}]) == "phone 13912345678"
    assert describe({"system": "urn:oid:1.2", "value": "H1"}) == "urn:oid:1.2|H1"
    assert describe([{"city": "兰溪市", "line": ["解放路18号"]}]) == "兰溪市解放路18号"
    assert describe([{"reference": "Practitioner/7", "display": "周医生"}]) == "周医生"


def test_demographics_come_in_reading_order() -> None:
    assert demographic_order(["telecom", "active", "name", "address"]) == ["name", "telecom", "address", "active"]

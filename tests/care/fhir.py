"""Realistic FHIR R4 resources as the unified record holds them: a village follow-up, a county-hospital visit."""

from __future__ import annotations

from typing import Any

PHS = "urn:huitong:source:phs-documents"  # public-health system (WS/T 500 follow-up documents)
HIS = "urn:huitong:source:county-hospital-his"  # the county hospital's HIS


def patient(pid: str, born: str, gender: str = "male") -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "gender": gender, "birthDate": born}


def condition(cid: str, pid: str, code: str, display: str, status: str = "active", recorded: str = "2024-03-02",
              encounter: str | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": cid,
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                       "code": status}]},
        "code": {"coding": [{"system": "urn:oid:2.16.156.10011.2.3.3.11", "code": code, "display": display}]},
        "subject": {"reference": f"Patient/{pid}"},
        "recordedDate": recorded,
    }
    if encounter:
        resource["encounter"] = {"reference": f"Encounter/{encounter}"}
    return resource


def bp_visit(eid: str, pid: str, at: str, systolic: int, diastolic: int, source: str = PHS) -> list[dict[str, Any]]:
    """An outpatient encounter with systolic and diastolic as the WS/T 500 mapping writes them (WS 363 codes)."""
    encounter = {
        "resourceType": "Encounter",
        "id": eid,
        "meta": {"source": source},
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB", "display": "门诊"},
        "subject": {"reference": f"Patient/{pid}"},
        "period": {"start": at},
    }
    return [encounter, _vital(f"{eid}-sbp", pid, eid, at, "DE04.10.174.00", "收缩压", systolic, source),
            _vital(f"{eid}-dbp", pid, eid, at, "DE04.10.176.00", "舒张压", diastolic, source)]


def bp_panel(oid: str, pid: str, at: str, systolic: int, diastolic: int, source: str = HIS) -> dict[str, Any]:
    """A hospital's LOINC blood-pressure panel with systolic and diastolic as components."""
    def component(code: str, display: str, value: int) -> dict[str, Any]:
        return {"code": {"coding": [{"system": "http://loinc.org", "code": code, "display": display}]},
                "valueQuantity": {"value": value, "unit": "mmHg", "system": "http://unitsofmeasure.org",
                                  "code": "mm[Hg]"}}
    return {
        "resourceType": "Observation",
        "id": oid,
        "meta": {"source": source},
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9", "display": "Blood pressure panel"}]},
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": at,
        "component": [component("8480-6", "Systolic blood pressure", systolic),
                      component("8462-4", "Diastolic blood pressure", diastolic)],
    }


def observation(oid: str, pid: str, at: str, code: str, display: str, value: float, unit: str,
                source: str = HIS) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "meta": {"source": source},
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": display}]},
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": at,
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
    }


def _vital(oid: str, pid: str, eid: str, at: str, code: str, display: str, value: int, source: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "meta": {"source": source},
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "vital-signs"}], "text": "生命体征"}],
        "code": {"coding": [{"system": "urn:oid:2.16.156.10011.2.2.1", "code": code}], "text": display},
        "subject": {"reference": f"Patient/{pid}"},
        "encounter": {"reference": f"Encounter/{eid}"},
        "effectiveDateTime": at,
        "valueQuantity": {"value": value, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"},
    }

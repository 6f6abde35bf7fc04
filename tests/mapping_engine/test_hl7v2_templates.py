"""HL7 v2 mappings: paths, iteration, references and pruning, on real messages."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from engine.domain.mapping import MappingError, MappingSet
from engine.pipeline.mapping import decode_hl7v2, map_message
from tests.support.corpus import SAMPLES, one

ADT_CN = (SAMPLES / "hl7v2" / "adt_a04_gb18030.hl7").read_bytes()
ORU = one("microsoft-fhir-converter/data/SampleData/Hl7v2/ORU-R01-01.hl7")

PATIENT = """
- rule: patient
  resource: Patient
  key: "{{ PID-3.1 }}"
  body:
    identifier:
      - for: PID-3
        system: "{{ .4 }}"
        value: "{{ .1 }}"
        type: {coding: [{code: "{{ .5 }}"}]}
    name: [{text: "{{ PID-5.1 }}"}]
    gender: "{{ PID-8 | code: hl7v2-0001 }}"
    birthDate: "{{ PID-7 | date }}"
    deceasedBoolean: "{{ PID-30 }}"
"""


def run(mappings: MappingSet, raw: bytes, charset: str | None = None) -> list[dict]:
    return [r.body for r in map_message(mappings, None, raw, format="hl7v2", charset=charset).resources]


def test_a_chinese_adt_in_gb18030_maps_names_identifiers_and_dates(hl7v2_mapping: Callable[..., MappingSet]) -> None:
    [patient] = run(hl7v2_mapping(PATIENT), ADT_CN, charset="gb18030")
    assert patient["resourceType"] == "Patient"
    assert patient["name"] == [{"text": "张三"}]
    assert patient["gender"] == "male"
    assert patient["birthDate"] == "1990-03-07"
    assert {"system": "CHN", "value": "110101199003071233", "type": {"coding": [{"code": "NNCHN"}]}} in patient[
        "identifier"
    ]


def test_absent_values_leave_no_empty_elements(hl7v2_mapping: Callable[..., MappingSet]) -> None:
    [patient] = run(hl7v2_mapping(PATIENT), ADT_CN, charset="gb18030")
    assert "deceasedBoolean" not in patient
    assert all(v not in ("", [], {}, None) for v in patient.values())


def test_the_resource_key_is_the_sources_identity(hl7v2_mapping: Callable[..., MappingSet]) -> None:
    mapped = map_message(hl7v2_mapping(PATIENT), None, ADT_CN, format="hl7v2", charset="gb18030")
    assert mapped.resources[0].key == "0001234"
    assert mapped.mapping == "test/m"
    assert mapped.version.startswith("7+")


def test_for_a_segment_inside_a_group_reads_only_that_groups_segments(
    hl7v2_mapping: Callable[..., MappingSet],
) -> None:
    mappings = hl7v2_mapping(
        """
        - rule: report
          resource: DiagnosticReport
          for: OBR
          body:
            code: {text: "{{ OBR-4.2 }}"}
            result: "{{ refs(observation) }}"
          resources:
            - rule: observation
              resource: Observation
              for: OBX
              body:
                code: {coding: [{code: "{{ -3.1 }}"}]}
                effectiveDateTime: "{{ -14 | datetime or OBR-7 | datetime }}"
                derivedFrom: [{reference: "{{ ref(report) }}"}]
        """
    )
    message = decode_hl7v2(ORU, None)
    groups = {}
    current = None
    for seg in message.segment_texts():
        if seg.startswith("OBR"):
            current = seg.split("|")[4].split("^")[0]
            groups[current] = []
        elif seg.startswith("OBX") and current:
            groups[current].append(seg.split("|")[3].split("^")[0])
    resources = run(mappings, ORU)
    reports = [r for r in resources if r["resourceType"] == "DiagnosticReport"]
    observations = {f"Observation/{r['id']}": r for r in resources if r["resourceType"] == "Observation"}
    assert len(reports) == len(groups) >= 1
    for report in reports:
        refs = [r["reference"] for r in report["result"]]
        codes = [observations[ref]["code"]["coding"][0]["code"] for ref in refs]
        assert codes in list(groups.values())
        for ref in refs:
            assert observations[ref]["derivedFrom"] == [{"reference": f"DiagnosticReport/{report['id']}"}]


def test_ref_points_at_the_first_instance_of_a_rule(hl7v2_mapping: Callable[..., MappingSet]) -> None:
    mappings = hl7v2_mapping(
        PATIENT
        + """
- rule: encounter
  resource: Encounter
  for: PV1
  body:
    subject: {reference: "{{ ref(patient) }}"}
    class: {code: "{{ PV1-2 }}"}
    period: {start: "{{ PV1-44 | datetime }}"}
"""
    )
    patient, encounter = run(mappings, ADT_CN, charset="gb18030")
    assert encounter["subject"] == {"reference": f"Patient/{patient['id']}"}
    assert encounter["class"] == {"code": "O"}
    assert encounter["period"] == {"start": "2025-03-12T09:30:00+08:00"}


def test_when_leaves_out_a_list_item_whose_condition_is_absent(hl7v2_mapping: Callable[..., MappingSet]) -> None:
    mappings = hl7v2_mapping(
        """
        - rule: patient
          resource: Patient
          body:
            telecom:
              - {when: "{{ PID-13.1 }}", system: phone, value: "{{ PID-13.1 }}"}
              - {when: "{{ PID-14.1 }}", system: phone, use: work, value: "{{ PID-14.1 }}"}
        """
    )
    [patient] = run(mappings, ADT_CN, charset="gb18030")
    assert patient["telecom"] == [{"system": "phone", "value": "13800000000"}]


def test_text_with_several_expressions_is_joined_and_absent_when_all_are_absent(
    hl7v2_mapping: Callable[..., MappingSet],
) -> None:
    mappings = hl7v2_mapping(
        """
        - rule: patient
          resource: Patient
          body:
            address: [{text: "{{ PID-11.4 }}{{ PID-11.1 }}", district: "{{ PID-11.9 }} {{ PID-11.10 }}"}]
        """
    )
    [patient] = run(mappings, ADT_CN, charset="gb18030")
    assert patient["address"] == [{"text": "北京市幸福路1号"}]


def test_a_bad_date_is_left_out_with_a_note_naming_the_rule_and_field_but_not_the_value(
    hl7v2_mapping: Callable[..., MappingSet],
) -> None:
    mappings = hl7v2_mapping(
        """
        - rule: patient
          resource: Patient
          body: {birthDate: "{{ PID-5.1 | date }}", gender: "{{ PID-8 }}"}
        """
    )
    mapped = map_message(mappings, None, ADT_CN, format="hl7v2", charset="gb18030")
    [patient] = [r.body for r in mapped.resources]
    assert (patient.get("birthDate"), patient["gender"]) == (None, "M")
    [text] = mapped.notes
    assert "test/m.yaml" in text
    assert "rule patient" in text
    assert "birthDate" in text
    assert "not an HL7 date/time" in text
    assert "张三" not in text


def test_no_mapping_taking_the_message_type_is_a_clear_error(mapping_dir) -> None:  # type: ignore[no-untyped-def]
    mapping_dir.write(
        "test/oru.yaml",
        """
        mapping: test/oru
        input: hl7v2
        messages: [ORU^R01]
        resources: []
        """,
    )
    with pytest.raises(MappingError, match="no mapping takes ADT"):
        map_message(mapping_dir.compiled(), None, ADT_CN, format="hl7v2", charset="gb18030")


def test_an_absolute_path_inside_a_group_reads_that_groups_segment(hl7v2_mapping: Callable[..., MappingSet]) -> None:
    mappings = hl7v2_mapping(
        """
        - rule: observation
          resource: Observation
          for: OBX
          body:
            code: {text: "{{ -3.1 }}"}
            note: [{text: "{{ NTE-3 }}"}]
        """
    )
    message = (
        b"MSH|^~\\&|LIS|H|||20250101||ORU^R01|1|P|2.5\r"
        b"OBX|1|NM|718-7||150\rNTE|1||first\r"
        b"OBX|2|NM|6690-2||6.1\rNTE|1||second\r"
    )
    first, second = run(mappings, message)
    assert first["note"] == [{"text": "first"}]
    assert second["note"] == [{"text": "second"}]


def test_all_gives_the_value_of_every_repetition(hl7v2_mapping: Callable[..., MappingSet]) -> None:
    mappings = hl7v2_mapping(
        """
        - rule: patient
          resource: Patient
          body: {name: [{text: "x", given: "{{ all(PID-3.1) }}"}]}
        """
    )
    [patient] = run(mappings, ADT_CN, charset="gb18030")
    assert patient["name"] == [{"text": "x", "given": ["0001234", "110101199003071233"]}]


@pytest.mark.parametrize("value", ["20170229", "2017-02-29T12:52:00", "20230431", "2023-13-01"])
def test_a_date_that_is_no_real_day_is_left_out_with_a_note(value: str) -> None:
    from engine.domain.mapping import BadValue
    from engine.domain.mapping.filters import date_filter, datetime_filter

    for to_fhir in (date_filter("birthDate"), datetime_filter("+08:00", "effectiveDateTime")):
        with pytest.raises(BadValue):
            to_fhir(value)


def test_for_segments_before_another_takes_a_patients_and_a_specimens_own_obx_not_the_order_results(
    hl7v2_mapping: Callable[..., MappingSet],
) -> None:
    oul = one("microsoft-fhir-converter/data/SampleData/Hl7v2/OUL-R22-02.hl7")
    mappings = hl7v2_mapping(
        """
        - rule: patient-observation
          resource: Observation
          for: OBX before OBR|SPM
          body: {code: {text: "{{ -3.1 }}"}, effectiveDateTime: "{{ -14 | date }}"}
        - rule: specimen
          resource: Specimen
          for: SPM
          body: {identifier: [{value: "{{ -2.1.1 }}"}]}
          resources:
            - rule: specimen-observation
              resource: Observation
              for: OBX before OBR
              body: {code: {text: "{{ -3.1 }}"}, effectiveDateTime: "{{ -14 | date }}"}
        """
    )
    observations = [
        (r["id"].rsplit("-", 1)[0], r.get("effectiveDateTime"))
        for r in run(mappings, oul)
        if r["resourceType"] == "Observation"
    ]
    # OBX 4 follows the PID; OBX 7 and OBX 17 each follow an SPM and come before its OBR; the OBX after the
    # OBRs (slide images) are the orders' results and are not taken
    assert observations == [
        ("patient-observation", "1999-07-02"),
        ("specimen-observation", "1999-08-02"),
        ("specimen-observation", "2000-08-02"),
    ]

"""JSON mappings (database rows) read with dotted keys, chosen by the message's table."""

from __future__ import annotations

import orjson
import pytest

from engine.domain.mapping import MappingError
from engine.pipeline.mapping import map_file, map_message
from tests.mapping_engine.conftest import MappingDir

ROW = {
    "table": "his.outpatient_visit",
    "watermark": "2026-11-20 10:42:31",
    "row": {
        "visit_no": " MZ202611200031 ",
        "name": "李秀英",
        "sex_code": "2",
        "visit_time": "2026-11-20 09:30:00",
        "fee": "36.50",
        "note": "",
        "patient": {"phone": "13900000002"},
        "diagnoses": [{"code": "J06.900", "name": "急性上呼吸道感染"}, None, {"code": "I10.x00", "name": "高血压"}],
    },
}

MAPPING = """
mapping: test/visit
input: json
messages: [his.outpatient_visit]
timezone: "+08:00"
resources:
  - rule: patient
    resource: Patient
    body:
      name: [{family: "{{ row.name }}"}]
      gender: "{{ row.sex_code | code: sex }}"
      telecom: [{system: phone, value: "{{ row.patient.phone }}"}]
  - rule: encounter
    resource: Encounter
    key: "{{ row.visit_no }}"
    body:
      identifier: [{value: "{{ row.visit_no }}"}]
      period: {start: "{{ row.visit_time | datetime }}"}
      text: {status: generated, div: "{{ row.note }}"}
      diagnosis:
        - for: row.diagnoses
          condition: {display: "{{ .name }} ({{ .code }}, {{ row.visit_no }})"}
          rank: "{{ $index }}"
  - rule: condition
    resource: Condition
    for: row.diagnoses
    body:
      code: {coding: [{system: http://hl7.org/fhir/sid/icd-10, code: "{{ .code }}"}]}
      encounter: {reference: "{{ ref(encounter) }}"}
"""


@pytest.fixture
def mappings(mapping_dir: MappingDir):  # type: ignore[no-untyped-def]
    mapping_dir.write("tables/sex.yaml", "table: sex\nsource: GB/T 2261.1-2003\ncodes: {'1': male, '2': female}\n")
    mapping_dir.write("test/visit.yaml", MAPPING)
    return mapping_dir.compiled()


def by_type(mapped):  # type: ignore[no-untyped-def]
    return {r.body["resourceType"]: r for r in mapped.resources}


def test_dotted_keys_read_the_row_and_nested_objects(mappings) -> None:  # type: ignore[no-untyped-def]
    mapped = map_message(mappings, None, orjson.dumps(ROW), format="json")
    patient = by_type(mapped)["Patient"].body
    assert patient["name"] == [{"family": "李秀英"}]
    assert patient["gender"] == "female"
    assert patient["telecom"] == [{"system": "phone", "value": "13900000002"}]


def test_strings_are_trimmed_empty_ones_absent_and_a_database_time_gets_the_timezone(mappings) -> None:  # type: ignore[no-untyped-def]
    encounter = by_type(map_message(mappings, None, orjson.dumps(ROW), format="json"))["Encounter"]
    assert encounter.key == "MZ202611200031"
    assert encounter.body["period"] == {"start": "2026-11-20T09:30:00+08:00"}
    assert "text" not in encounter.body or "div" not in encounter.body["text"]


def test_for_repeats_over_a_list_with_dot_paths_reading_the_item(mappings) -> None:  # type: ignore[no-untyped-def]
    mapped = map_message(mappings, None, orjson.dumps(ROW), format="json")
    encounter = by_type(mapped)["Encounter"].body
    assert encounter["diagnosis"] == [
        {"condition": {"display": "急性上呼吸道感染 (J06.900, MZ202611200031)"}, "rank": 1},
        {"condition": {"display": "高血压 (I10.x00, MZ202611200031)"}, "rank": 3},  # its place in the list
    ]
    codes = [r.body["code"]["coding"][0]["code"] for r in mapped.resources if r.body["resourceType"] == "Condition"]
    assert codes == ["J06.900", "I10.x00"]


def test_the_mapping_is_chosen_by_the_table_and_another_table_is_refused(mappings) -> None:  # type: ignore[no-untyped-def]
    other = {**ROW, "table": "his.lab_result"}
    with pytest.raises(MappingError, match=r"no mapping takes rows of table his\.lab_result"):
        map_message(mappings, None, orjson.dumps(other), format="json")


def test_a_row_message_file_is_recognised_as_json_not_fhir(mappings) -> None:  # type: ignore[no-untyped-def]
    [(_, mapped)] = map_file(mappings, None, orjson.dumps(ROW))
    assert mapped.mapping == "test/visit"

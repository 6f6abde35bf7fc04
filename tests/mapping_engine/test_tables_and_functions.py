"""Code tables (YAML and CSV) and the Python escape hatch."""

from __future__ import annotations

import pytest

from engine.domain.mapping import CompileError, table_from_csv, table_from_data
from engine.pipeline.mapping import map_message
from tests.mapping_engine.conftest import MappingDir
from tests.support.corpus import SAMPLES

ADT_CN = (SAMPLES / "hl7v2" / "adt_a04_gb18030.hl7").read_bytes()


def test_a_yaml_table_gives_code_display_and_coding() -> None:
    table = table_from_data(
        "sex",
        {
            "table": "sex",
            "source": "GB/T 2261.1-2003",
            "system": "http://hl7.org/fhir/administrative-gender",
            "codes": {"1": "male", "2": {"code": "female", "display": "女性"}},
        },
    )
    assert table.lookup("1").code == "male"  # type: ignore[union-attr]
    assert table.coding("2") == {"system": "http://hl7.org/fhir/administrative-gender", "code": "female",
                                 "display": "女性"}
    assert table.lookup("9") is None


def test_a_table_default_covers_unlisted_codes_and_ignore_case_folds() -> None:
    table = table_from_data(
        "t", {"table": "t", "source": "s", "ignore_case": True, "default": "unknown", "codes": {"M": "male"}}
    )
    assert table.lookup("m").code == "male"  # type: ignore[union-attr]
    assert table.lookup("x").code == "unknown"  # type: ignore[union-attr]


def test_a_table_without_its_source_is_refused() -> None:
    with pytest.raises(CompileError, match="source: must cite"):
        table_from_data("t", {"table": "t", "codes": {"a": "b"}})


def test_a_csv_table_reads_its_header_comments() -> None:
    table = table_from_csv(
        "marital",
        "# table: marital\n# source: GB/T 2261.2-2003\n# system: http://terminology.hl7.org/CodeSystem/v3-MaritalStatus\n"
        "code,target,display\n10,S,未婚\n20,M,已婚\n",
    )
    assert table.coding("20") == {
        "system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "code": "M", "display": "已婚"
    }


def test_python_functions_run_as_filters_and_as_rule_hooks(mapping_dir: MappingDir) -> None:
    mapping_dir.write(
        "functions/cn.py",
        """
        def surname(name):
            return name[:1]


        def add_tag(resource, reader):
            resource["meta"] = {"tag": [{"code": reader.get("MSH-3"), "system": reader.source_system}]}
            return resource
        """,
    )
    mapping_dir.write(
        "test/m.yaml",
        """
        mapping: test/m
        input: hl7v2
        resources:
          - rule: patient
            resource: Patient
            python: functions/cn.py:add_tag
            body: {name: [{family: "{{ PID-5.1 | py: functions/cn.py:surname }}"}]}
        """,
    )
    mapped = map_message(mapping_dir.compiled(), None, ADT_CN, format="hl7v2", charset="gb18030", source_system="his")
    body = mapped.resources[0].body
    assert body["name"] == [{"family": "张"}]
    assert body["meta"] == {"tag": [{"code": "HIS", "system": "his"}]}


def test_a_missing_python_function_is_a_compile_error(mapping_dir: MappingDir) -> None:
    mapping_dir.write("functions/cn.py", "def other(v):\n    return v\n")
    mapping_dir.write(
        "test/m.yaml",
        "mapping: test/m\ninput: hl7v2\nresources:\n  - {rule: p, resource: Patient, python: functions/cn.py:nope}\n",
    )
    _, errors = mapping_dir.load()
    assert any("has no function 'nope'" in str(e) for e in errors)

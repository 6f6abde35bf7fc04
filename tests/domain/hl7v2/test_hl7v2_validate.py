"""Strict validation rules, one at a time, on small messages."""

from __future__ import annotations

import pytest

from engine.domain.formats.hl7v2 import Message, read_header, validate

ORU = (
    "MSH|^~\\&|LAB|H|HIS|H|20250101120000||ORU^R01^ORU_R01|C1|P|2.5.1\r"
    "PID|1||123^^^LAB^MR||DOE^JANE\r"
    "OBR|1|A1||718-7^Hemoglobin^LN\r"
    "OBX|1|NM|718-7^Hemoglobin^LN||13.5|g/dL|||||F\r"
)


def problems(text: str, level: str = "strict") -> list[tuple[int, str]]:
    message = Message(text, read_header(text.encode()))
    return [(p.code, p.location) for p in validate(message, level)]


def test_a_conformant_message_has_no_strict_problems():
    assert problems(ORU) == []


def test_basic_validation_does_not_look_at_content_rules():
    assert problems(ORU.replace("|13.5|", "|high|"), "basic") == []


def test_obx5_must_fit_the_numeric_type_declared_in_obx2():
    assert problems(ORU.replace("|13.5|", "|high|")) == [(102, "OBX-5")]


@pytest.mark.parametrize("value", ["20250230", "2025-01-01", "February 2 2024", "202501011261", "20250101+2500"])
def test_obx5_dtm_values_must_be_real_hl7_timestamps(value):
    text = ORU.replace("|NM|", "|DTM|").replace("|13.5|", f"|{value}|")
    assert problems(text) == [(102, "OBX-5")]


@pytest.mark.parametrize("value", ["2024", "202402", "20240229", "202402291230", "20240229123059.1234-0500"])
def test_valid_dtm_precisions_are_accepted(value):
    assert problems(ORU.replace("|NM|", "|DTM|").replace("|13.5|", f"|{value}|")) == []


def test_a_primitive_obx5_with_components_is_a_data_type_error():
    text = ORU.replace("|NM|", "|TX|").replace("|13.5|", "|1 MAIN ST^^CITY^ST^12345|")
    assert problems(text) == [(102, "OBX-5")]


def test_a_coded_obx5_may_have_components():
    assert problems(ORU.replace("|NM|", "|CWE|").replace("|13.5|", "|LA6112-2^1^LN|")) == []


def test_obx2_must_name_an_hl7_data_type():
    assert problems(ORU.replace("|NM|", "|NUM|")) == [(103, "OBX-2")]


def test_unknown_coding_system_in_a_coded_field_is_a_table_error():
    assert problems(ORU.replace("718-7^Hemoglobin^LN||", "718-7^Hemoglobin^FAKE||")) == [(103, "OBX-3.3")]


@pytest.mark.parametrize("system", ["L", "99ZHJ", "HL70001", "LN", "SCT", "UCUM"])
def test_table_0396_names_and_local_conventions_are_accepted(system):
    assert problems(ORU.replace("718-7^Hemoglobin^LN||", f"718-7^Hemoglobin^{system}||")) == []


def test_required_fields_of_the_version_must_be_valued():
    assert (101, "OBX-11") in problems(ORU.replace("|||||F\r", "|||||\r"))


def test_segments_required_by_the_message_structure_must_be_present():
    assert (100, "OBR") in problems(ORU.replace("OBR|1|A1||718-7^Hemoglobin^LN\r", ""))


def test_segments_unknown_to_the_version_are_reported_but_z_segments_are_not():
    assert problems(ORU + "ZXY|1\r") == []
    assert problems(ORU + "QQQ|1\r") == [(100, "QQQ")]


def test_a_message_must_identify_its_sender():
    assert problems(ORU.replace("|LAB|H|", "|||", 1)) == [(101, "MSH-3")]


def test_extra_components_in_a_primitive_field_are_ignored_as_hl7_prescribes():
    assert problems(ORU.replace("||DOE^JANE", "||DOE^JANE||19900101^extra")) == []


def test_numeric_fields_are_checked_by_format():
    text = ORU.replace("OBX|1|", "OBX|one|")
    assert problems(text) == [(102, "OBX-1")]

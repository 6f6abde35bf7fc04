"""The acceptance corpus: well-formed files get AA, malformed ones get AE/AR (or a BatchError) with a reason.

Every file goes through the intake path: ``split_messages`` then ``inspect`` for each message.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.domain.formats.hl7v2 import BatchError, Inspection, inspect, split_messages
from tests.support.corpus import CORPUS, files


def ident(path: Path) -> str:
    return str(path.relative_to(CORPUS))


ER7 = [f.path for f in files("hl7v2-er7")]
MALFORMED = [f.path for f in files("hl7v2-malformed")]

# Messages in er7 files that break a rule the engine applies to every message (not file-specific rules):
# (file, message index) -> (ACK code, 0357 code).
# MSH-11 "N" is not in HL7 table 0103 (P, D, T): basic accepts it with a note (AA, 202 as a W), strict
# refuses it (AR 202).
ER7_PROCESSING_ID_N = {
    (f"cdc-trusted-intermediary/examples/Test/Automated/{name}", 0)
    for name in (
        "001_Staging_ORM_O01_short_linked_to_002_ORU.hl7",
        "002_Staging_ORU_O01_short_linked_to_001_ORM.hl7",
        "003_CA_ORU_R01_CDPH_produced.hl7",
        "004_CA_ORU_R01_leading_zeroes.hl7",
        "006_CA_ORU_R01_LOINC.hl7",
        "007_CA_ORU_R01_PLT.hl7",
        "009_CA_ORU_R01_remove_99717-5_OBX.hl7",
        "010_LA_ORU_R01_NBS_0_initial_obr_flatten_example_1.hl7",
        "012_Ochsner_LA_OML_O21.hl7",
    )
}
ER7_REFUSED_BY_RULE = {
    **{key: ("AA", 202) for key in ER7_PROCESSING_ID_N},
    # MSH-10 (message control ID) empty: AR 101.
    ("hapi-hl7v2/hapi-test/src/test/resources/ca/uhn/hl7v2/parser/example_oml_o21.hl7", 10): ("AR", 101),
    ("hapi-hl7v2/hapi-test/src/test/resources/ca/uhn/hl7v2/parser/example_oml_o21.hl7", 11): ("AR", 101),
    ("nhapi/tests/NHapi.NUnit/TestData/Parser/OML_O21_messages.txt", 4): ("AR", 101),
    ("nhapi/tests/NHapi.NUnit/TestData/Parser/OML_O21_messages.txt", 6): ("AR", 101),
    # MSH-2 "^~}" has three encoding characters: AR 102.
    ("hapi-hl7v2/hapi-test/src/test/resources/ca/uhn/hl7v2/util/messages.txt", 3): ("AR", 102),
    # A segment broken by a line feed inside OBR-4, and free-text annotation lines: AE 100.
    ("cdc-trusted-intermediary/examples/TX/001_TX_OML_O21.hl7", 0): ("AE", 100),
    ("cdc-trusted-intermediary/examples/TN/001_TN_ORU_R01_LRI_annotated_for_transformation.hl7", 0): (
        "AE",
        100,
    ),
}

# Malformed files no generic rule can catch (see the report): expected AA, listed so a change shows up.
MALFORMED_UNCATCHABLE = {
    # kg and mo are valid UCUM units; only LOINC's expected units for 58229-6 / 57714-8 would reveal them.
    "cdc-trusted-intermediary/examples/Test/Orders/005_AL_ORM_O01_NBS_Incorrect_Units_0_initial_message.hl7",
}


def inspect_file(path: Path, validation: str) -> list[Inspection]:
    raws = split_messages(path.read_bytes())
    return [inspect(raw, default_charset="utf-8", validation=validation) for raw in raws]


@pytest.mark.parametrize("path", ER7, ids=ident)
def test_well_formed_corpus_messages_get_aa_under_basic_validation(path):
    for index, result in enumerate(inspect_file(path, "basic")):
        expected = ER7_REFUSED_BY_RULE.get((ident(path), index))
        if expected is None:
            assert result.ack_code == "AA", f"message {index}: {result.reason}"
        elif expected[0] == "AA":
            assert (result.ack_code, result.problems[0].code, result.problems[0].severity) == (*expected, "W")
            assert not result.reason
        else:
            assert (result.ack_code, result.problems[0].code) == expected
            assert result.reason


@pytest.mark.parametrize("key", sorted(ER7_PROCESSING_ID_N), ids=lambda k: k[0])
def test_strict_validation_refuses_the_processing_id_basic_lets_through(key):
    result = inspect_file(CORPUS / key[0], "strict")[key[1]]
    assert (result.ack_code, result.problems[0].code) == ("AR", 202)


@pytest.mark.parametrize("path", MALFORMED, ids=ident)
def test_malformed_corpus_files_are_refused_with_a_reason_under_strict_validation(path):
    try:
        results = inspect_file(path, "strict")
    except BatchError as exc:
        assert exc.reason
        return
    for result in results:
        if ident(path) in MALFORMED_UNCATCHABLE:
            assert result.ack_code == "AA"
            continue
        assert result.ack_code in ("AE", "AR")
        assert result.reason and result.problems


@pytest.mark.parametrize(
    ("name", "code", "location"),
    [
        ("Message/msh_present_but_missing_msh-10.hl7", "AR", "MSH-10"),
        ("Message/msh_present_but_missing_msh-2.hl7", "AR", "MSH-2"),
        ("Message/msh-12_has_value_2_3.hl7", "AE", "ORC"),
        ("Message/msh_present_but_missing_msh-6.hl7", "AE", "ORC"),
        ("Message/orm_obx-5_is_not_a_numeric_value.hl7", "AE", "OBX-5"),
        ("Orders/007_AL_ORM_O01_NBS_Missing_Required_Fields_0_initial_message.hl7", "AE", "MSH-3"),
        ("Orders/008_AL_ORM_O01_NBS_Incorrect_Code_System_0_initial_message.hl7", "AE", "PID-22.3"),
        ("Orders/011_AL_ORM_O01_malformed_DTM_datatype_0_initial_message.hl7", "AE", "OBX-5"),
        ("Orders/013_AL_ORM_O01_invalid_text_as_txt_datatype_0_initial_message.hl7", "AE", "OBX-5"),
    ],
)
def test_cdc_malformed_messages_are_refused_for_their_intended_defect(name, code, location):
    path = Path(__file__).resolve().parents[2] / "corpus/cdc-trusted-intermediary/examples/Test" / name
    (result,) = inspect_file(path, "strict")
    assert result.ack_code == code and result.problems[0].location == location


def test_the_empty_corpus_file_is_refused():
    with pytest.raises(BatchError):
        split_messages(b"")
    assert inspect(b"", default_charset="utf-8").ack_code == "AR"


@pytest.mark.parametrize("path", ER7 + MALFORMED, ids=ident)
def test_reasons_never_quote_pid_values(path):
    try:
        raws = split_messages(path.read_bytes())
    except BatchError:
        return
    for raw in raws:
        result = inspect(raw, default_charset="utf-8", validation="strict")
        if result.message is None:
            continue
        values = {result.message.get(p) for p in ("PID-3.1", "PID-5.1", "PID-5.2", "PID-7.1", "PID-11.1")}
        values = {v for v in values if len(v) >= 4}
        for problem in result.problems:
            assert not any(v in problem.text for v in values), problem.text

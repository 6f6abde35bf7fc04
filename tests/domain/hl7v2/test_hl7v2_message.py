"""Message: lazy access to values by HL7 path."""

from __future__ import annotations

from engine.domain.formats.hl7v2 import Message, read_header, unescape

TEXT = (
    "MSH|^~\\&|HIS|H|LIS|L|20250101||ORU^R01|C1|P|2.5\r"
    "PID|1||123^^^HIS^PI~110101199003071233^^^CHN^NNCHN||ZHANG^SAN&Jr^^^^^L\r"
    "OBX|1|NM|718-7^Hemoglobin^LN||13.5|g/dL\r"
    "OBX|2|ST|8251-1^Note^LN||a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f\\X41\\\r"
)


def message(text: str = TEXT) -> Message:
    return Message(text, read_header(text.encode()))


def test_get_a_component_of_the_first_repetition():
    assert message().get("PID-3.1") == "123"


def test_get_a_whole_field_returns_its_first_repetition():
    assert message().get("PID-3") == "123^^^HIS^PI"


def test_get_a_later_repetition():
    assert message().get("PID-3(2).1") == "110101199003071233"


def test_get_a_subcomponent():
    assert message().get("PID-5.2.2") == "Jr"


def test_get_the_nth_occurrence_of_a_segment():
    assert message().get("OBX[2]-3.2") == "Note"


def test_msh_field_numbers_count_the_field_separator_as_msh1():
    m = message()
    assert (m.get("MSH-1"), m.get("MSH-2"), m.get("MSH-9.2"), m.get("MSH-10")) == ("|", "^~\\&", "R01", "C1")


def test_absent_values_are_empty_strings():
    m = message()
    assert m.get("PID-30") == "" and m.get("NK1-2") == "" and m.get("OBX[9]-5") == ""


def test_values_are_unescaped():
    assert message().get("OBX[2]-5") == "a|b^c&d~e\\fA"


def test_segments_lists_occurrences_in_order():
    assert [s.get(1) for s in message().segments("OBX")] == ["1", "2"]


def test_lf_line_ends_and_blank_lines_are_accepted():
    m = message(TEXT.replace("\r", "\n\n"))
    assert m.get("OBX-5") == "13.5" and len(m.segments()) == 4


def test_unknown_escape_sequences_are_kept_verbatim():
    assert unescape("a\\Q\\b", "^~\\&") == "a\\Q\\b"

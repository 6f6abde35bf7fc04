"""read_header: the MSH segment from bytes, and the rules that make a message unacceptable (AR)."""

from __future__ import annotations

import pytest

from engine.domain.formats.hl7v2 import HeaderError, read_header
from engine.domain.formats.hl7v2.header import scan_header

MSH = (
    b"MSH|^~\\&|HIS^1.2.3^ISO|County Hospital|LIS|Lab|20250312093000+0800||ADT^A04^ADT_A01|CTRL-1|P^T|2.4"
    b"||||||UNICODE UTF-8\rPID|1||123\r"
)


def test_read_header_returns_every_msh_field_the_intake_needs():
    h = read_header(MSH)
    assert (h.field_sep, h.encoding_chars) == ("|", "^~\\&")
    assert (h.sending_app, h.sending_facility) == ("HIS^1.2.3^ISO", "County Hospital")
    assert (h.receiving_app, h.receiving_facility) == ("LIS", "Lab")
    assert h.timestamp == "20250312093000+0800"
    assert (h.message_type, h.structure, h.trigger) == ("ADT^A04", "ADT_A01", "A04")
    assert (h.control_id, h.processing_id, h.version, h.charset) == ("CTRL-1", "P^T", "2.4", "UNICODE UTF-8")


def test_message_type_without_trigger_is_just_the_code():
    h = read_header(MSH.replace(b"ADT^A04^ADT_A01", b"ACK"))
    assert (h.message_type, h.trigger, h.structure) == ("ACK", "", "")


def test_read_header_accepts_lf_line_ends_and_a_bom():
    h = read_header(b"\xef\xbb\xbf" + MSH.replace(b"\r", b"\n"))
    assert h.charset == "UNICODE UTF-8"


def test_unusual_but_valid_delimiters_are_honoured():
    h = read_header(b"MSH^~|\\&^A^B^C^D^20250101^^ADT~A24^X1^T^2.4\r")
    assert (h.field_sep, h.encoding_chars, h.message_type) == ("^", "~|\\&", "ADT^A24")


def test_a_fifth_encoding_character_the_v27_truncation_character_is_accepted():
    assert read_header(MSH.replace(b"^~\\&", b"^~\\&#")).encoding_chars == "^~\\&#"


def test_a_doubled_escape_character_in_msh2_is_read_as_one_and_noted():
    h = read_header(MSH.replace(b"^~\\&", b"^~\\\\&"))
    assert h.encoding_chars == "^~\\&" and h.notes


def test_header_text_is_decoded_with_msh18():
    raw = "MSH|^~\\&|HIS|县人民医院|||20250101||ADT^A04|1|P|2.4||||||GB 18030-2000\r".encode("gb18030")
    assert read_header(raw).sending_facility == "县人民医院"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"", "MSH"),
        (b"PID|1||123\r", "MSH"),
        (b"MSH||A|B|C|D|2025||ADT^A01|1|P|2.5\r", "MSH-2"),
        (b"MSH|^~\\|A|B\r", "MSH-2"),
        (b"MSH|^^\\&|A\r", "MSH-2"),
        (b"MSH|^~a&|A\r", "MSH-2"),
        (b"MSH|^~\\&|A|B|C|D|2025||||1|P|2.5\r", "MSH-9"),
        (b"MSH|^~\\&|A|B|C|D|2025||ADT^A0|1|P|2.5\r", "MSH-9"),
        (b"MSH|^~\\&|A|B|C|D|2025||ADT^A01|  |P|2.5\r", "MSH-10"),
        (b"MSH|^~\\&|A|B|C|D|2025||ADT^A01|1|P|3.0\r", "MSH-12"),
        (b"MSH|^~\\&|A|B|C|D|2025||ADT^A01|1|X|3.0\r", "MSH-11"),
    ],
)
def test_an_unusable_header_raises_header_error_naming_the_field(raw, field):
    with pytest.raises(HeaderError) as caught:
        read_header(raw)
    assert caught.value.field == field and caught.value.reason


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"MSH|^~\\&|A|B|C|D|2025||ADT^A01|1|X|2.5\r", "MSH-11"),
        (b"MSH|^~\\&|A|B|C|D|2025||ADT^A01|1|P^Z|2.5\r", "MSH-11"),
        (b"MSH|^~\\&|A|B|C|D|2025||ADT^A01|1|P|\r", "MSH-12"),
    ],
)
def test_a_deviating_msh11_or_empty_msh12_is_reported_yet_readable(raw, field):
    """The validation level decides about these (basic accepts them with a note); reading goes on."""
    _, error = scan_header(raw)
    assert error is not None and error.field == field
    assert read_header(raw).control_id == "1"

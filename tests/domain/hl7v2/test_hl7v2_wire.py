"""split_messages, canonical and charset_for: framing and charsets at the byte level."""

from __future__ import annotations

import pytest

from engine.domain.formats.hl7v2 import BatchError, UnknownCharset, canonical, charset_for, split_messages
from tests.support.corpus import one as corpus

ADT = b"MSH|^~\\&|HIS|H1|LIS|L1|20250101120000||ADT^A01|C1|P|2.5\rEVN|A01|20250101120000\rPID|1||123^^^HIS\r"
ADT2 = ADT.replace(b"|C1|", b"|C2|")


def test_a_single_message_comes_back_unchanged():
    assert split_messages(ADT) == [ADT.rstrip(b"\r")]


def test_a_single_message_without_trailing_whitespace_is_returned_as_the_same_object():
    data = ADT.rstrip(b"\r")
    assert split_messages(data)[0] is data


def test_a_leading_utf8_bom_is_not_part_of_the_message():
    assert split_messages(b"\xef\xbb\xbf" + ADT) == [ADT.rstrip(b"\r")]


@pytest.mark.parametrize("eol", [b"\r", b"\n", b"\r\n"])
def test_messages_back_to_back_are_split_whatever_the_line_end(eol):
    data = (ADT + ADT2).replace(b"\r", eol)
    parts = split_messages(data)
    assert [p.replace(eol, b"\r") + b"\r" for p in parts] == [ADT, ADT2]


def test_slices_are_exact_sub_ranges_of_the_input():
    data = b"\r\n" + ADT.replace(b"\r", b"\r\n") + b"\r\n\r\n" + ADT2.replace(b"\r", b"\n")
    for part in split_messages(data):
        assert part in data and part.startswith(b"MSH")


def test_blank_lines_and_stray_whitespace_between_messages_are_skipped():
    parts = split_messages(ADT + b"  \r\n\r" + ADT2 + b"\r\n \t\r\n")
    assert len(parts) == 2 and parts[1].endswith(b"PID|1||123^^^HIS")


def test_batch_envelope_segments_belong_to_no_message():
    data = b"FHS|^~\\&\rBHS|^~\\&\r" + ADT + ADT2 + b"BTS|2\rFTS|1\r"
    parts = split_messages(data)
    assert len(parts) == 2
    assert not any(seg in p for p in parts for seg in (b"FHS", b"BHS", b"BTS", b"FTS"))


def test_comment_lines_between_messages_are_not_part_of_either():
    data = b"/* header comment */\n" + ADT + b"// next one\n" + ADT2 + b"/* trailer */\n"
    parts = split_messages(data)
    assert len(parts) == 2 and not any(b"/" in p for p in parts)


def test_a_text_line_inside_a_message_stays_in_it_so_validation_can_report_it():
    data = b"MSH|^~\\&|A|B|C|D|20250101||ADT^A01|C1|P|2.5\nPID|1||1||Name\nbroken text\nPV1|1|O\n"
    assert b"broken text" in split_messages(data)[0]


def test_a_bts_count_that_contradicts_the_messages_found_is_a_batch_error():
    with pytest.raises(BatchError, match="BTS-1 says 3"):
        split_messages(b"BHS|^~\\&\r" + ADT + ADT2 + b"BTS|3\r")


def test_an_fts_count_that_contradicts_the_batches_found_is_a_batch_error():
    with pytest.raises(BatchError, match="FTS-1"):
        split_messages(b"FHS|^~\\&\rBHS|^~\\&\r" + ADT + b"BTS|1\rFTS|2\r")


def test_a_file_without_any_msh_is_a_batch_error():
    with pytest.raises(BatchError, match="no MSH"):
        split_messages(b"FHS|^~\\&\rFTS|0\r")


def test_empty_input_is_a_batch_error():
    with pytest.raises(BatchError):
        split_messages(b" \r\n")


@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("sample_batch", 1),
        ("sample_batch1", 2),
        ("sample_batch3", 1),
        ("sample_batch4", 1),
        ("sample_file", 1),
        ("sample_file1", 3),
        ("sample_file2", 2),
        ("sample_file4", 1),
        ("sample_file5", 1),
        ("sample_file6", 1),
    ],
)
def test_python_hl7_batches_and_files_split_into_their_messages(name, count):
    parts = split_messages(corpus(f"python-hl7/samples_py/{name}.hl7"))
    assert len(parts) == count and all(p.startswith(b"MSH") for p in parts)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("sample_bad_batch", "outside any message"),
        ("sample_bad_file", "outside any message"),
        ("sample_bad_file1", "BHS opens a batch"),
        ("sample_bad_file3", "outside any message"),
    ],
)
def test_python_hl7_bad_batches_are_batch_errors(name, reason):
    with pytest.raises(BatchError, match=reason):
        split_messages(corpus(f"python-hl7/samples_py/{name}.hl7"))


def test_hapi_multi_message_file_with_comments_yields_every_message():
    parts = split_messages(corpus("hapi-hl7v2/hapi-test/src/test/resources/ca/uhn/hl7v2/util/messages.txt"))
    assert len(parts) == 18 and all(p.startswith(b"MSH") for p in parts)


def test_canonical_ends_every_segment_with_cr_and_drops_bom_and_blank_lines():
    raw = b"\xef\xbb\xbfMSH|^~\\&|A\r\n\r\nPID|1\n  \nPV1|1"
    assert canonical(raw) == b"MSH|^~\\&|A\rPID|1\rPV1|1\r"


def test_canonical_leaves_an_already_canonical_message_untouched():
    assert canonical(ADT) is ADT


def test_canonical_does_not_decode_or_alter_non_ascii_bytes():
    raw = "MSH|^~\\&|县医院\nPID|1||||张三\n".encode("gb18030")
    assert canonical(raw) == raw.replace(b"\n", b"\r")


@pytest.mark.parametrize(
    ("msh18", "codec"),
    [
        ("UNICODE UTF-8", "utf-8"),
        ("UNICODE", "utf-8"),
        ("UTF-8", "utf-8"),
        ("GB 18030-2000", "gb18030"),
        ("GBK", "gb18030"),
        ("GB2312", "gb18030"),
        ("8859/1", "iso8859-1"),
        ("ISO8859_1", "iso8859-1"),
        ("ASCII", "ascii"),
        (" gb 18030-2000 ", "gb18030"),
    ],
)
def test_charset_for_maps_table_0211_values_and_observed_aliases(msh18, codec):
    assert charset_for(msh18, "latin-1") == codec


def test_charset_for_uses_the_channel_default_when_msh18_is_empty():
    assert charset_for("", "gb18030") == "gb18030"


@pytest.mark.parametrize("msh18", ["KLINGON", "UNICODE UTF-16"])
def test_charset_for_refuses_unknown_or_non_ascii_compatible_charsets(msh18):
    with pytest.raises(UnknownCharset):
        charset_for(msh18, "utf-8")

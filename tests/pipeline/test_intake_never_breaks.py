"""Whatever bytes arrive, the intake answers: a journal entry for each message and an ACK, never an exception."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.domain.formats.hl7v2 import read_ack
from engine.domain.outcome import MessageStatus
from engine.pipeline.intake import NOTED, ack_bytes, receive
from tests.support.messages import ADT

SEPARATORS = st.sampled_from([b"|", b"^", b"~", b"\\", b"&", b"\r", b"\n", b"\r\n", b"MSH", b"BHS|", b"\xef\xbb\xbf"])


def mutate(data: bytes, cuts: list[tuple[int, bytes]]) -> bytes:
    for position, insert in cuts:
        i = position % (len(data) + 1)
        data = data[:i] + insert + data[i + 1 :]
    return data


def check(data: bytes, validation: str) -> None:
    items = receive(data, channel="c", source="s", received_at=0.0, default_charset="gb18030", validation=validation)
    assert items
    for item in items:
        assert item.entry.status in (MessageStatus.RECEIVED, MessageStatus.ERROR)
        # an error is the reason of a refusal; an accepted entry may carry basic validation's notes instead
        refused = bool(item.entry.error) and not (item.entry.error or "").startswith(NOTED)
        assert (item.entry.status == MessageStatus.ERROR) == refused
    answer = ack_bytes(items, None, control_id="A1", timestamp="20260101")
    assert b"MSA|" in answer
    # Our own ACK is valid HL7 that our own reader reads, whatever the message it answers held.
    assert read_ack(answer).code in ("AA", "AE", "AR"), answer
    assert not re.search(rb"[\x00-\x0c\x0e-\x1f\x7f]", answer), answer


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.sampled_from(["basic", "strict"]))
def test_arbitrary_bytes_get_an_answer(data: bytes, validation: str) -> None:
    check(data, validation)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 2000), st.one_of(SEPARATORS, st.binary(max_size=3))), max_size=6),
    st.sampled_from(["basic", "strict"]),
)
def test_a_real_message_mangled_anywhere_gets_an_answer(cuts: list[tuple[int, bytes]], validation: str) -> None:
    check(mutate(ADT, cuts), validation)


# Text a sender's system may put anywhere: Unicode digits (str.isdigit() takes them, int() does not), CJK, controls.
ODD_TEXT = st.one_of(
    st.text(alphabet=st.sampled_from(list("0123456789²³①٣۴१𝟘 .+-^~&\\|中文張\x00\x0b")), max_size=12),
    st.builds(lambda n, odd: "19900307123000"[:n] + odd, st.integers(0, 14), st.sampled_from(list("²①٣۴१𝟘"))),
)
FIELDS = ["19610615173619", "198808181126", "200708181123", "ADT^A01^ADT_A01", "MSG00001", "D", "2.8", "M", "1"]
CHARSETS = [b"", b"UNICODE UTF-8", b"GB 18030-2000", b"8859/1"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(FIELDS), ODD_TEXT), min_size=1, max_size=4),
    st.sampled_from(CHARSETS),
    st.booleans(),
    st.sampled_from([b"\r", b"\n", b"\r\n"]),
    st.sampled_from(["basic", "strict"]),
)
def test_odd_text_in_any_field_in_any_charset_batch_or_separator_gets_an_answer(
    swaps: list[tuple[str, str]], charset: bytes, batched: bool, separator: bytes, validation: str
) -> None:
    text = ADT.decode("utf-8")
    for field, odd in swaps:
        text = text.replace(f"|{field}|", f"|{odd}|", 1)
    data = text.encode("utf-8").replace(b"|2.8||", b"|2.8||||||" + charset, 1).replace(b"\r", separator)
    if batched:
        data = b"BHS|^~\\&" + separator + data + separator + b"BTS|1" + separator
    check(data, validation)


def test_a_unicode_digit_in_a_date_is_refused_with_a_reason_in_strict_mode() -> None:
    utf8 = ADT.replace(b"|2.8||", b"|2.8||||||UNICODE UTF-8", 1)
    odd = utf8.replace(b"|19610615173619|", "|1990030²|".encode())
    [item] = receive(odd, channel="c", source="s", received_at=0.0, default_charset="gb18030", validation="strict")
    assert item.entry.status == MessageStatus.ERROR and "PID-7" in (item.entry.error or "")


# Found by the longer fuzz run (tests/fuzz/fuzz_intake.py), kept here so they stay fixed.
FOUND_BY_FUZZING = {
    # a component separator of "." would make the ACK's own "2.5" two components
    "dot as component separator": b"MSH|.^~\\&|HIS|H|LIS|L|20260101||ADT.A01|C1|P|2.5\rPID|1\r",
    # GB 18030 characters whose second byte is "|" in MSH-3, and no MSH-18: the ACK's reader must not split them
    "GB 18030 second byte 0x7C": "MSH|^~\\&|瘄亅|县医院|LIS|L|20260101||ADT^A01|C2|P|2.5\rPID|1\r".encode("gb18030"),
}


@pytest.mark.parametrize("raw", FOUND_BY_FUZZING.values(), ids=FOUND_BY_FUZZING.keys())
@pytest.mark.parametrize("validation", ["basic", "strict"])
def test_inputs_fuzzing_found_get_an_ack_our_reader_reads(raw: bytes, validation: str) -> None:
    check(raw, validation)

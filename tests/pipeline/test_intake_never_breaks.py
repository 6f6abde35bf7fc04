"""Whatever bytes arrive, the intake answers: a journal entry for each message and an ACK, never an exception."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.domain.outcome import MessageStatus
from engine.pipeline.intake import ack_bytes, receive
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
        assert (item.entry.status == MessageStatus.ERROR) == bool(item.entry.error)
    answer = ack_bytes(items, None, control_id="A1", timestamp="20260101")
    assert b"MSA|" in answer


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

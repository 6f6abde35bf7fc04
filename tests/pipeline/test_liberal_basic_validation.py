"""`basic` validation is liberal where real senders deviate harmlessly; `strict` refuses the same deviations.

A county HIS that sends MSH-11 `N`, leaves MSH-12 empty or pads segments with empty fields gets AA under
`basic`, and the journal entry keeps a note saying what was let through; under `strict` the header
deviations are refused (AR) and the padding is a content error (AE).
"""

from __future__ import annotations

import pytest

from engine.domain.outcome import MessageStatus
from engine.pipeline.intake import NOTED, Received, ack_bytes, receive

# An outpatient registration as a county HIS sends it (HL7 v2.4, MSH-17 CHN); invented resident.
ADT = (
    "MSH|^~\\&|HIS|339901000|HUITONG|MC339901|20260805140000||ADT^A04^ADT_A01|HIS260805001|{pid}|{version}"
    "|||||CHN|UNICODE UTF-8\r"
    "EVN|A04|20260805140000\r"
    "PID|1||300288^^^HIS^PI~360426196006300288^^^CHN^NNCHN||张淑珍^^^^^^L||19600630|F|||"
    "白石乡岭头村新村路2号^^岚溪县^浙江省^^CHN^H||13907921088^PRN^PH{padding}\r"
    "PV1|1|O|0102^^^339901000||||D0102^刘芳|||01|||||||||MZ2026080501\r"
)
# PID of v2.4 defines 38 fields: this pads it to 60, as some interface engines do
PADDING = "|" * 47


def _one(validation: str, *, pid: str = "P", version: str = "2.4", padding: str = "") -> tuple[Received, str]:
    data = ADT.format(pid=pid, version=version, padding=padding).encode("utf-8")
    (item,) = receive(
        data, channel="his", source="10.0.0.5", received_at=0.0, default_charset="gb18030", validation=validation
    )
    ack = ack_bytes([item], None, control_id="ACK1", timestamp="20260805140001").decode("utf-8")
    return item, ack.split("\r")[1].split("|")[1]


def test_a_clean_message_has_no_note() -> None:
    item, code = _one("basic")
    assert (code, item.entry.status, item.entry.error) == ("AA", MessageStatus.RECEIVED, None)


@pytest.mark.parametrize(
    ("deviation", "note"),
    [
        ({"pid": "N"}, "MSH-11 (processing ID) is not P, D or T; read as P"),
        ({"version": ""}, "MSH-12 (version ID) is empty; read as the latest version"),
        ({"padding": PADDING}, "PID has empty fields past PID-38"),
    ],
    ids=["msh11-N", "msh12-empty", "trailing-empty-fields"],
)
def test_basic_accepts_a_harmless_deviation_and_journals_a_note(deviation: dict[str, str], note: str) -> None:
    item, code = _one("basic", **deviation)
    assert code == "AA"
    assert item.entry.status == MessageStatus.RECEIVED  # goes on to routing and mapping like any message
    assert item.entry.error is not None and item.entry.error.startswith(NOTED)
    assert note in item.entry.error
    assert item.entry.parsed is not None and item.entry.parsed.get("PID-3.1") == "300288"


def test_basic_keeps_every_note() -> None:
    item, code = _one("basic", pid="N", version="", padding=PADDING)
    assert code == "AA"
    assert item.entry.error is not None
    assert all(f in item.entry.error for f in ("MSH-11", "MSH-12", "PID has empty fields"))


@pytest.mark.parametrize(
    ("deviation", "answer", "where"),
    [({"pid": "N"}, "AR", "MSH-11"), ({"version": ""}, "AR", "MSH-12"), ({"padding": PADDING}, "AE", "PID")],
    ids=["msh11-N", "msh12-empty", "trailing-empty-fields"],
)
def test_strict_refuses_the_same_deviations(deviation: dict[str, str], answer: str, where: str) -> None:
    item, code = _one("strict", **deviation)
    assert code == answer
    assert item.entry.status == MessageStatus.ERROR
    assert item.entry.error is not None and where in item.entry.error


def test_basic_still_refuses_a_version_it_does_not_know() -> None:
    item, code = _one("basic", version="9.9")
    assert (code, item.entry.status) == ("AR", MessageStatus.ERROR)

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from typing import Any

import hl7
import pytest

from engine.domain.contract import Doctor, LocalId, Status, Team
from engine.domain.contract.push import emr_resources, his_a31
from engine.domain.formats.fhir.transaction import transaction_bundle
from engine.domain.formats.hl7v2 import Message, inspect, unescape
from engine.domain.mapping.result import RESIDENT_ID_SYSTEM, Resource

from .conftest import contract

CST = timezone(timedelta(hours=8))


def a31(c: Any, **changes: Any) -> bytes:
    args: dict[str, Any] = {
        "patient_ids": [LocalId("HIS01", "000123")],
        "control_id": "C1",
        "timestamp": datetime(2025, 3, 1, 9, 0, tzinfo=CST),
        "sending_app": "HUITONG",
        "sending_facility": "MC01",
        "receiving_app": "HIS",
        "receiving_facility": "H36042601",
        "on": date(2025, 3, 1),
        "remaining": {"GXY-SF": 3},
    }
    args.update(changes)
    return his_a31(c, **args)


def read(raw: bytes) -> Message:
    inspection = inspect(raw, default_charset="utf-8", validation="strict")
    assert inspection.ack_code == "AA", inspection.problems
    assert inspection.charset == "gb18030"
    assert inspection.message is not None
    return inspection.message


def test_a31_reads_with_our_reader_in_gb18030() -> None:
    raw = a31(contract())
    assert raw.endswith(b"\r") and b"\n" not in raw
    raw.decode("gb18030")
    assert "李秀英".encode("gb18030") in raw  # not UTF-8
    msg = read(raw)
    assert msg.get("MSH-9") == "ADT^A31^ADT_A05"
    assert msg.get("MSH-12") == "2.4"
    assert msg.get("MSH-18") == "GB 18030-2000"
    assert [s.id for s in msg.segments()] == ["MSH", "EVN", "PID", "PD1", "ROL", "ROL", "PV1", "ZFD"]
    assert msg.get("PID-3(1).1") == "360426195803140024"
    assert msg.get("PID-3(1).5") == "NNCHN"
    assert msg.get("PID-3(2).1") == "000123"
    assert msg.get("PID-3(2).4") == "HIS01"
    assert msg.get("PID-3(2).5") == "MR"
    assert msg.get("PID-5.1") == "李秀英"


def test_pd1_rol_and_zfd_carry_the_contract() -> None:
    msg = read(a31(contract()))
    assert msg.get("PD1-4.1") == "D1"
    assert msg.get("PD1-4.2") == "刘志强"
    assert msg.get("PD1-4.14") == "H36042601"
    doctor, team = msg.segments("ROL")
    assert doctor.get(3, component=1) == "PP"
    assert doctor.get(4, component=1) == "D1"
    assert doctor.get(2) == "UP"
    assert team.get(3, component=1) == "FHCP"
    assert team.get(4, component=1) == "T1"
    assert team.get(4, component=2) == "第一团队"
    assert team.get(5) == "20250101" and team.get(6) == "20251231"
    zfd = msg.segment("ZFD")
    assert zfd is not None
    assert zfd.get(1, component=1) == "SC1"
    assert zfd.get(3) == "ACTIVE"
    assert zfd.get(4) == "Y"
    assert zfd.get(5) == "20250301"
    assert (zfd.get(6), zfd.get(7), zfd.get(8)) == ("20250101", "20251231", "20251231")
    assert zfd.get(9) == "H36042601"
    assert (zfd.get(10, component=1), zfd.get(10, component=2)) == ("JC01", "基础服务包")
    assert [zfd.get(11, component=n) for n in range(1, 6)] == ["GXY-SF", "高血压随访", "3", "4", "JC01"]


def test_python_hl7_reads_it() -> None:
    parsed = hl7.parse(a31(contract()).decode("gb18030"))
    assert str(parsed.segment("PD1")[4][0][1][0]) == "刘志强"
    assert [str(r[3][0][0][0]) for r in parsed.segments("ROL")] == ["PP", "FHCP"]
    zfd = parsed.segment("ZFD")
    assert str(zfd[4]) == "Y"
    assert str(zfd[8]) == "20251231"


def test_terminated_says_not_contracted_and_its_end_date() -> None:
    msg = read(a31(contract(status=Status.TERMINATED), on=date(2025, 8, 1)))
    zfd = msg.segment("ZFD")
    assert zfd is not None
    assert zfd.get(3) == "TERMINATED"
    assert zfd.get(4) == "N"
    assert zfd.get(8) == "20250630"  # terminated from 1 July: the last day in force
    assert zfd.get(12) == "20250701"
    assert zfd.get(13) == "MOVED_OUT"
    assert msg.segments("ROL")[0].get(6) == "20250630"


def test_pending_has_no_end_date_and_unknown_counts_stay_empty() -> None:
    msg = read(a31(contract(status=Status.PENDING), remaining=None))
    zfd = msg.segment("ZFD")
    assert zfd is not None
    assert (zfd.get(4), zfd.get(8)) == ("N", "")
    assert zfd.get(11, component=3) == ""


def test_delimiters_in_text_are_escaped() -> None:
    c = contract(doctor=Doctor("D|1", "刘^志强"), team=Team("T1", "一&二~团队\\"))
    msg = read(a31(c))
    enc = msg.header.encoding_chars
    assert unescape(msg.get("PD1-4.1"), enc) == "D|1"
    assert unescape(msg.get("PD1-4.2"), enc) == "刘^志强"
    rol = msg.segments("ROL")[1]
    assert unescape(rol.get(4, component=2), enc) == "一&二~团队\\"
    assert len(msg.segments("ROL")) == 2 and msg.get("ROL-3.1") == "PP"


def test_utf8_and_refused_charsets() -> None:
    raw = a31(contract(), charset="utf-8")
    assert b"|UNICODE UTF-8\r" in raw and "李秀英".encode() in raw
    with pytest.raises(ValueError):
        a31(contract(), charset="latin-1")
    with pytest.raises(ValueError):
        a31(contract(), remaining={"GXY-SF": -1})


def test_same_input_same_bytes() -> None:
    assert a31(contract()) == a31(contract())


@pytest.mark.parametrize(
    ("status", "episode", "team"),
    [
        (Status.ACTIVE, "active", "active"),
        (Status.PENDING, "planned", "proposed"),
        (Status.TERMINATED, "finished", "inactive"),
        (Status.EXPIRED, "finished", "inactive"),
        (Status.CANCELLED, "cancelled", "inactive"),
    ],
)
def test_emr_statuses(status: Status, episode: str, team: str) -> None:
    resources = emr_resources(contract(status=status))
    by_type = {r["resourceType"]: r for r in resources}
    assert by_type["EpisodeOfCare"]["status"] == episode
    assert by_type["CareTeam"]["status"] == team
    assert ("Patient" in by_type) is (status is Status.ACTIVE)


def test_emr_resources_carry_the_doctor_and_fit_conditional_put() -> None:
    resources = emr_resources(replace(contract(status=Status.TERMINATED)))
    episode = resources[0]
    assert episode["period"] == {"start": "2025-01-01", "end": "2025-06-30"}
    assert episode["careManager"]["identifier"] == {"system": "urn:huitong:id:chis.test:doctor", "value": "D1"}
    assert episode["type"][0]["coding"][0]["code"] == "family-doctor-contract"

    active = emr_resources(contract())
    patient = active[2]
    assert patient["identifier"][0]["system"] == RESIDENT_ID_SYSTEM
    assert patient["generalPractitioner"] == [active[0]["careManager"]]
    assert active[1]["participant"][0]["member"]["identifier"]["value"] == "D1"

    bundle = transaction_bundle(
        [Resource("contract", r["identifier"][0]["value"], r) for r in active[:2]], source_system="x", message_id=1
    )
    urls = [e["request"]["url"] for e in bundle["entry"]]
    assert urls == [
        "EpisodeOfCare?identifier=urn:huitong:id:chis.test:contract|SC1",
        "CareTeam?identifier=urn:huitong:id:chis.test:contract-care-team|SC1",
    ]
    team_ref = bundle["entry"][0]["resource"]["team"][0]["reference"]
    assert team_ref == bundle["entry"][1]["fullUrl"]

"""inspect: the intake's one call per message, and the ACK code rules."""

from __future__ import annotations

import pytest

from engine.domain.formats.hl7v2 import inspect

ADT = (
    "MSH|^~\\&|HIS|H|LIS|L|20250101120000||ADT^A01^ADT_A01|C1|P|2.5\r"
    "EVN|A01|20250101120000\r"
    "PID|1||123^^^HIS^PI||ZHANG^SAN||19900307|M\r"
    "PV1|1|O\r"
)


def run(text: str, validation: str = "basic", charset: str = "utf-8"):
    return inspect(text.encode(charset), default_charset=charset, validation=validation)


def test_a_clean_message_is_aa_with_no_reason():
    result = run(ADT)
    assert (result.ack_code, result.reason, result.problems) == ("AA", "", ())
    assert result.header is not None and result.header.control_id == "C1"
    assert result.message is not None and result.message.get("PID-3.1") == "123"


def test_an_unusable_header_is_ar_and_keeps_what_could_be_read():
    result = run(ADT.replace("|2.5\r", "|9.9\r", 1))
    assert result.ack_code == "AR" and "MSH-12" in result.reason
    assert result.header is not None and result.header.control_id == "C1"
    assert result.problems[0].code == 203


def test_empty_input_is_ar():
    result = inspect(b"", default_charset="utf-8")
    assert result.ack_code == "AR" and result.header is None and result.reason


def test_an_unknown_msh18_is_ar():
    result = run(ADT.replace("|2.5\r", "|2.5||||||KLINGON\r", 1))
    assert (result.ack_code, result.problems[0].location, result.problems[0].code) == ("AR", "MSH-18", 103)


def test_bytes_that_do_not_decode_in_the_chosen_charset_are_ar():
    raw = ADT.replace("ZHANG^SAN", "张三").encode("gb18030")
    result = inspect(raw, default_charset="utf-8")
    assert result.ack_code == "AR" and result.reason == "segment 3 is not valid utf-8 text"


def test_msh18_overrides_the_channel_default():
    text = ADT.replace("|2.5\r", "|2.5||||||GB 18030-2000\r", 1).replace("ZHANG^SAN", "张三")
    result = inspect(text.encode("gb18030"), default_charset="utf-8")
    assert result.ack_code == "AA" and result.charset == "gb18030"
    assert result.message is not None and result.message.get("PID-5") == "张三"


def test_an_invalid_segment_id_is_ae():
    result = run(ADT + "pv2|1\r")
    assert result.ack_code == "AE" and result.problems[0].code == 100


def test_a_control_character_is_ae_and_located_by_field():
    result = run(ADT.replace("ZHANG^SAN", "ZHANG\x07^SAN"))
    assert result.ack_code == "AE" and result.problems[0].location == "PID-5"


def test_a_second_msh_inside_one_message_is_ae():
    assert run(ADT + ADT).ack_code == "AE"


def test_the_reason_counts_further_problems():
    result = run(ADT + "pv2|1\rzz1|1\r")
    assert result.reason.endswith("(and 1 more)")


def test_reasons_never_contain_patient_values():
    result = run(ADT.replace("19900307", "19901399").replace("ZHANG^SAN", "ZHANG\x07^SAN"), "strict")
    assert result.ack_code == "AE"
    assert all(v not in p.text for p in result.problems for v in ("ZHANG", "19901399", "123"))


def test_an_unknown_validation_level_is_a_programming_error():
    with pytest.raises(ValueError, match="validation"):
        run(ADT, "paranoid")

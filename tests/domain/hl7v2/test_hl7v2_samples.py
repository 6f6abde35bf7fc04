"""The synthetic Chinese samples in samples/hl7v2: charsets, names, identity number."""

from __future__ import annotations

import pytest

from engine.domain.formats.hl7v2 import inspect
from tests.support.corpus import SAMPLES as ALL_SAMPLES

SAMPLES = ALL_SAMPLES / "hl7v2"

GB_NO_MSH18 = SAMPLES / "adt_a04_gb18030_no_msh18.hl7"
GB = SAMPLES / "adt_a04_gb18030.hl7"
UTF8 = SAMPLES / "adt_a04_utf8.hl7"


def gb11643_ok(number: str) -> bool:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(c) * w for c, w in zip(number[:17], weights, strict=True))
    return "10X98765432"[total % 11] == number[17]


@pytest.mark.parametrize(
    ("path", "default", "codec"),
    [(GB_NO_MSH18, "gb18030", "gb18030"), (GB, "utf-8", "gb18030"), (UTF8, "gb18030", "utf-8")],
)
@pytest.mark.parametrize("validation", ["basic", "strict"])
def test_samples_decode_to_the_same_chinese_text(path, default, codec, validation):
    result = inspect(path.read_bytes(), default_charset=default, validation=validation)
    assert (result.ack_code, result.charset) == ("AA", codec), result.reason
    assert result.message is not None
    assert (result.message.get("PID-5.1"), result.message.get("MSH-4")) == ("张三", "县人民医院")


def test_gb18030_without_msh18_is_refused_when_the_channel_expects_utf8():
    result = inspect(GB_NO_MSH18.read_bytes(), default_charset="utf-8")
    assert result.ack_code == "AR" and "utf-8" in result.reason


def test_the_sample_resident_id_has_a_valid_gb11643_check_digit():
    result = inspect(UTF8.read_bytes(), default_charset="utf-8")
    assert result.message is not None
    number = result.message.get("PID-3(2).1")
    assert len(number) == 18 and gb11643_ok(number)
    assert result.message.get("PID-13.1") == "13800000000"


@pytest.mark.parametrize("default", ["gb18030", "latin-1"])
def test_utf8_without_msh18_on_a_channel_expecting_another_charset_is_read_as_utf8_not_garbled(default: str) -> None:
    utf8_without_msh18 = UTF8.read_bytes().replace(b"|UNICODE UTF-8", b"|")
    result = inspect(utf8_without_msh18, default_charset=default)
    assert (result.ack_code, result.charset) == ("AA", "utf-8"), result.reason
    assert result.message is not None
    assert (result.message.get("PID-5.1"), result.message.get("MSH-4")) == ("张三", "县人民医院")

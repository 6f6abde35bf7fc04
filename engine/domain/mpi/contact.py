"""Phones, addresses and administrative division codes in the one form the matcher compares.

Phones arrive with country prefixes, brackets, full-width digits and hyphens; addresses with or without the
province (a county hospital writes 杭州市西湖区…, a provincial platform 浙江省杭州市西湖区…). Division codes are
checked against python-stdnum's GB/T 2260 table (stdnum.numdb "cn/loc") rather than a table of our own.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache

from stdnum import numdb

from engine.domain.mpi.names import to_simplified

_MOBILE = re.compile(r"1[3-9]\d{9}")
# Area code (0 and two or three digits: 010, 021, 0571) followed by a 7- or 8-digit local number: 10 to 12 digits.
_LANDLINE = re.compile(r"0\d{2,3}\d{7,8}")
# Local numbers never start with 0 (trunk prefix) or 1 (mobiles, service numbers).
_LOCAL = re.compile(r"[2-9]\d{6,7}")
# Several numbers in one field: the first is kept. An extension is dropped.
_MORE_NUMBERS = re.compile(r"[/,;、，；]|或")
_EXTENSION = re.compile(r"(?:转|分机|ext\.?|x)\s*\d+\s*$", re.IGNORECASE)
_NON_DIGIT = re.compile(r"\D")

# fmt: off
_FULL_NAMES = (
    "北京市", "天津市", "上海市", "重庆市", "河北省", "山西省", "辽宁省", "吉林省", "黑龙江省",
    "江苏省", "浙江省", "安徽省", "福建省", "江西省", "山东省", "河南省", "湖北省", "湖南省",
    "广东省", "海南省", "四川省", "贵州省", "云南省", "陕西省", "甘肃省", "青海省", "台湾省",
    "内蒙古自治区", "广西壮族自治区", "西藏自治区", "宁夏回族自治区", "新疆维吾尔自治区",
    "香港特别行政区", "澳门特别行政区",
)
# fmt: on
# 简称 as written in addresses (not the one-character 浙, 苏 …).
# fmt: off
_SHORT_NAMES = (
    "北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽",
    "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州", "云南", "陕西",
    "甘肃", "青海", "台湾", "内蒙古", "广西", "西藏", "宁夏", "新疆", "香港", "澳门",
)
# fmt: on
# Longest first, so 广西壮族自治区 is removed whole rather than leaving 壮族自治区 behind.
_PROVINCE_PREFIX = re.compile("|".join(sorted(_FULL_NAMES + _SHORT_NAMES, key=len, reverse=True)))
_FULL = frozenset(_FULL_NAMES)
# A short form followed by one of these is a place inside a province, not the province: 吉林市 (a city in 吉林省),
# 海南藏族自治州 (in 青海), 河南蒙古族自治县 (in 青海).
_NOT_A_PROVINCE = re.compile(r"[市县区州盟旗]|.{0,3}族自治")
_COUNTRY_PREFIX = re.compile("中华人民共和国|中国")
_DIVISION = re.compile(r"\s*(\d{6})(?!\d)")


@lru_cache(maxsize=65536)
def phone(raw: str | None) -> str | None:
    """Digits of a mainland phone number: 11 for a mobile, area code + number for a landline ("(0571) 8800-1234"
    -> "057188001234"), the bare 7-8 digits of a local number; None for anything else (foreign numbers too)."""
    if not raw:
        return None
    text = unicodedata.normalize("NFKC", raw)
    text = _MORE_NUMBERS.split(text, maxsplit=1)[0]
    text = _EXTENSION.sub("", text).strip()
    digits = _NON_DIGIT.sub("", text)
    international = text.startswith("+") or digits.startswith("00")
    if international:
        if digits.startswith("0086"):
            digits = digits[4:]
        elif digits.startswith("86") and text.startswith("+"):
            digits = digits[2:]
        else:
            return None
        if not _MOBILE.fullmatch(digits) and not digits.startswith("0"):
            digits = "0" + digits  # an international landline number leaves out the trunk 0 of the area code
    elif len(digits) == 13 and digits.startswith("86") and _MOBILE.fullmatch(digits[2:]):
        digits = digits[2:]
    if len(digits) == 12 and digits[0] == "0" and _MOBILE.fullmatch(digits[1:]):
        return digits[1:]  # a mobile dialled with a trunk 0 from outside its home area
    if _MOBILE.fullmatch(digits) or _LANDLINE.fullmatch(digits) or _LOCAL.fullmatch(digits):
        return digits
    return None


@lru_cache(maxsize=65536)
def address(raw: str | None) -> str | None:
    """Simplified characters, letters and digits only, without the leading country and province, so that
    "浙江省杭州市西湖区…" and "杭州市西湖区…" compare equal; None when nothing is left."""
    if not raw:
        return None
    text = to_simplified(unicodedata.normalize("NFKC", raw))
    text = "".join(ch for ch in text if ch.isalnum())
    if division(text[:6]):
        text = text[6:]  # the division code, compared on its own (see division)
    if m := _COUNTRY_PREFIX.match(text):
        text = text[m.end() :]
    if m := _PROVINCE_PREFIX.match(text):
        rest = text[m.end() :]
        if m[0] in _FULL or not _NOT_A_PROVINCE.match(rest):
            text = rest
    return text or None


@cache
def _divisions() -> numdb.NumDB:
    """stdnum's GB/T 2260 table, loaded on first use (~40 ms)."""
    return numdb.get("cn/loc")


@lru_cache(maxsize=8192)
def _is_division(code: str) -> bool:
    """Whether stdnum knows the code as a province, prefecture or county (current or former)."""
    return any("county" in props for _, props in _divisions().info(code))


def division(raw: str | None) -> str | None:
    """The 6-digit administrative division code (GB/T 2260) the text is or starts with ("330106 杭州市西湖区…");
    None otherwise, including for 6-digit numbers that are no known division (most postal codes)."""
    if not raw:
        return None
    m = _DIVISION.match(unicodedata.normalize("NFKC", raw))
    return m[1] if m and _is_division(m[1]) else None

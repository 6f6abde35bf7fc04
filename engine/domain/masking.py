"""Remove personal data from text bound for logs and error messages.

Logs leave the data centre (support tickets, log shippers), so they must not carry resident ID numbers,
phones, names or addresses. The engine never logs message content on purpose; this is the safety net for
what slips through (exception text, a segment quoted in an error).
"""

from __future__ import annotations

import re
from typing import Any

# A segment that carries identity (patient, next of kin, guarantor, insured, merge, contract): mask it whole.
_PERSON_SEGMENT = re.compile(r"\b(PID|PD1|NK1|GT1|IN1|IN2|MRG|ZFD)\|[^\r\n\x1c]*")
_RESIDENT_ID = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])|(?<![0-9])[0-9]{15}(?![0-9])")
_MOBILE = re.compile(r"(?<![0-9])(?:\+?86[- ]?)?1[3-9][0-9]{9}(?![0-9])")
_LANDLINE = re.compile(r"(?<![0-9])0[0-9]{2,3}-[0-9]{7,8}(?![0-9])")
# A run of Chinese text in a log line is masked when it may be a name or an address: short (a name is two to four
# characters), led by a common surname, naming a person (患者王建国), or holding an address's parts. What is left
# is a peer's own words, such as 科室代码不存在, which an engineer needs to read.
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟"
    "谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤欧司诸上东皇令慕公"
    "陳楊黃趙吳週孫馬鄭謝韓馮鄧蕭葉蘇呂盧薑鍾譚陸賈韋鄒閆龔錢"
)
_PERSON_OR_PLACE = re.compile(
    "患者|病人|姓名|居民|家属|联系人|医生|护士|签约人|申请人|监护人"
    "|省|市|县|区|镇|乡|村|街道|路|街|巷|弄|号|栋|单元|组|社区|小区|大道|胡同"
)


def _han(run: re.Match[str]) -> str:
    text = run.group(0)
    if len(text) <= 4 or text[0] in _SURNAMES or _PERSON_OR_PLACE.search(text):
        return MASK
    return text
# An HL7 person name (family^given), outside message types such as ADT^A01 or ORU^R01^ORU_R01.
_XPN = re.compile(r"\b(?![A-Z]{3}\^[A-Z][0-9]{2}\b)[A-Za-z][A-Za-z'\-]+\^[A-Za-z][A-Za-z'\-]*(?:\^[^|\s]*)?")

SENSITIVE_KEYS = frozenset({"name", "patient_name", "id_number", "resident_id", "phone", "address", "pid"})
MASK = "***"


def mask_text(text: str) -> str:
    """The text with every ID number, phone, person segment, name and Chinese name or address replaced by ***."""
    text = _PERSON_SEGMENT.sub(lambda m: m.group(1) + "|" + MASK, text)
    text = _RESIDENT_ID.sub(MASK, text)
    text = _MOBILE.sub(MASK, text)
    text = _LANDLINE.sub(MASK, text)
    text = _HAN.sub(_han, text)
    return _XPN.sub(MASK, text)


def mask_value(key: str, value: Any) -> Any:
    """Mask one log field: sensitive keys entirely, strings by pattern, other values untouched."""
    if key in SENSITIVE_KEYS and value not in (None, ""):
        return MASK
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, bytes):
        return mask_text(value.decode("utf-8", "replace"))
    return value

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
# Chinese text in an English log line is a name or an address.
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
# An HL7 person name (family^given), outside message types such as ADT^A01 or ORU^R01^ORU_R01.
_XPN = re.compile(r"\b(?![A-Z]{3}\^[A-Z][0-9]{2}\b)[A-Za-z][A-Za-z'\-]+\^[A-Za-z][A-Za-z'\-]*(?:\^[^|\s]*)?")

SENSITIVE_KEYS = frozenset({"name", "patient_name", "id_number", "resident_id", "phone", "address", "pid"})
MASK = "***"


def mask_text(text: str) -> str:
    """The text with every ID number, phone, person segment, name and Chinese run replaced by ***."""
    text = _PERSON_SEGMENT.sub(lambda m: m.group(1) + "|" + MASK, text)
    text = _RESIDENT_ID.sub(MASK, text)
    text = _MOBILE.sub(MASK, text)
    text = _LANDLINE.sub(MASK, text)
    text = _HAN.sub(MASK, text)
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

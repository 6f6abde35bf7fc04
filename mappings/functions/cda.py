"""Small value conversions for the CDA mappings (mappings/cda/*.yaml), used through the `py:` filter.

Each takes one value (text, or None when the source has none) and returns the converted value or None.
"""

from __future__ import annotations

import re

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_SCHEMES = {"tel": "phone", "fax": "fax", "mailto": "email", "http": "url", "https": "url"}


def root_uri(root: str | None) -> str | None:
    """An <id> with only a root is itself the identifier: urn:uuid:... for a UUID, urn:oid:... for an OID."""
    if not root:
        return None
    root = str(root).strip()
    return f"urn:uuid:{root.lower()}" if _UUID.fullmatch(root) else f"urn:oid:{root}"


def telecom_system(value: str | None) -> str | None:
    """FHIR ContactPoint.system from a CDA TEL URL scheme (tel:, fax:, mailto:, http:)."""
    if not value:
        return None
    scheme, colon, _ = str(value).partition(":")
    if not colon:
        return "phone"
    return _SCHEMES.get(scheme.strip().lower(), "other")


def telecom_value(value: str | None) -> str | None:
    """The address of a CDA TEL without its URL scheme ("tel:+1(555)555-2003" -> "+1(555)555-2003")."""
    if not value:
        return None
    text = str(value).strip()
    scheme, colon, rest = text.partition(":")
    if colon and scheme.strip().lower() in _SCHEMES and scheme.strip().lower() not in ("http", "https"):
        text = rest.lstrip("/ ").strip()
    return text or None


def xsi_type(value: str | None) -> str | None:
    """An xsi:type without a namespace prefix ("hl7:PQ" -> "PQ")."""
    if not value:
        return None
    return str(value).rpartition(":")[2] or None


def boolean(value: str | None) -> bool | None:
    """A CDA BL ("true"/"false") as a JSON boolean (the expression language has no boolean literal)."""
    if value is None:
        return None
    text = str(value).strip().lower()
    return True if text == "true" else False if text == "false" else None


_TS = re.compile(r"\d{4}(\d{2}(\d{2}(\d{2}(\d{2}(\d{2}(\.\d+)?)?)?)?)?)?([+-]\d{4})?")


def ts(value: str | None) -> str | None:
    """A CDA TS that is a real date, else None (senders write placeholders such as "999999999").

    Put before `| datetime` where one bad date must not cost the whole document its other facts.
    """
    if not value:
        return None
    text = str(value).strip()
    if not _TS.fullmatch(text):
        return None
    month = int(text[4:6]) if len(text) >= 6 else 1
    day = int(text[6:8]) if len(text) >= 8 else 1
    hour = int(text[8:10]) if len(text) >= 10 and text[8:10].isdigit() else 0
    return text if 1 <= month <= 12 and 1 <= day <= 31 and hour <= 24 else None


# Two-character compound surnames (复姓) common enough to be worth recognising; any other name takes its
# first character as the family name. A name written with <family>/<given> parts is used as written.
_COMPOUND_SURNAMES = frozenset(
    [
        "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙",
        "宇文", "司徒", "夏侯", "轩辕", "令狐", "钟离", "端木", "独孤", "南宫", "西门",
    ]
)


def _cn_split(name: str | None) -> tuple[str, str] | None:
    if not name:
        return None
    text = "".join(str(name).split())
    if not text or not all("\u3400" <= ch <= "\u9fff" or ch == "·" for ch in text) or len(text) < 2:
        return None
    n = 2 if text[:2] in _COMPOUND_SURNAMES and len(text) > 2 else 1
    return text[:n], text[n:]


def cn_family(name: str | None) -> str | None:
    """The family name (姓) of a Chinese name written whole, e.g. 王建国 -> 王, 欧阳修远 -> 欧阳."""
    parts = _cn_split(name)
    return parts[0] if parts else None


def cn_given(name: str | None) -> str | None:
    """The given name (名) of a Chinese name written whole, e.g. 王建国 -> 建国."""
    parts = _cn_split(name)
    return parts[1] or None if parts else None


def wst500_diagnosis_kind(section_name: str | None) -> str | None:
    """Which diagnosis a WS/T 500 diagnosis section holds, from its LOINC display name."""
    if not section_name:
        return None
    text = str(section_name).lower()
    if "admission" in text:
        return "入院诊断"
    if "discharge" in text:
        return "出院诊断"
    return "诊断"

"""OBX-5 values the templates cannot type by themselves (``python:`` hook on Observation rules).

The template gives valueQuantity (NM with a number) and valueCodeableConcept (CE/CWE/CNE). This hook adds,
per the HL7 v2-to-FHIR IG OBX[Observation] map (https://hl7.org/fhir/uv/v2mappings/ConceptMap-segment-obx-to-observation.html):
ST/TX/FT -> valueString (repetitions joined by newlines), ED (encapsulated data) and RP (reference pointer)
-> an Attachment (ED.5 data, base64; RP.1 url; the content type from ED.2/ED.3 or RP.3/RP.4) in the R5
cross-version extension for Observation.value (R4 has no valueAttachment; the IG maps ED/RP to Attachment),
SN -> valueQuantity with comparator or valueRange (SN.1 comparator, SN.2 number, SN.3 separator, SN.4 second
number), DT/DTM/TS -> valueDateTime, and an NM that is not a number (e.g. "<0.5", common in Chinese LIS output)
-> valueQuantity with comparator, else valueString. Values with a unit keep the unit the template set.
"""

from __future__ import annotations

import base64
import re
from typing import Any

_COMPARATOR = re.compile(r"\s*(<=|>=|<|>)\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_TS = re.compile(r"(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?")


def _num(text: str) -> int | float:
    return float(text) if "." in text else int(text)


def _quantity(base: dict[str, Any] | None, value: int | float, comparator: str | None = None) -> dict[str, Any]:
    q = dict(base or {})
    q["value"] = value
    if comparator:
        q["comparator"] = comparator
    return q


_R5_VALUE = "http://hl7.org/fhir/5.0/StructureDefinition/extension-Observation.value"
_MEDIA = {
    "IM": "image",
    "AP": "application",
    "AU": "audio",
    "TX": "text",
    "TEXT": "text",
    "VD": "video",
    "MM": "multipart",
}


def _content_type(kind: str, subtype: str) -> str | None:
    major = _MEDIA.get(kind.strip().upper())
    minor = subtype.strip().lower()
    return f"{major}/{minor}" if major and minor and " " not in minor else None


def _is_base64(data: str) -> bool:
    try:
        base64.b64decode(data, validate=True)
    except ValueError:
        return False
    return True


def _attachment(kind: str, raw: str) -> dict[str, Any] | None:
    parts = [*raw.split("^"), "", "", "", "", ""]
    if kind == "RP":
        url, _app, media, sub = parts[:4]
        if not url.strip():
            return None
        att: dict[str, Any] = {"url": url.strip()}
    else:  # ED: source application ^ type of data ^ data subtype ^ encoding ^ data
        _app, media, sub, encoding, data = parts[:5]
        if not data:
            return None
        if encoding.strip().upper() != "BASE64" or not _is_base64(data.strip()):
            # Text, or a sender's "Base64" that is none (a placeholder): kept as sent, encoded, so nothing is lost.
            data = base64.b64encode(data.encode("utf-8")).decode("ascii")
        att = {"data": data.strip()}
    content_type = _content_type(media, sub)
    if content_type:
        att["contentType"] = content_type
    return att


def observation_value(resource: dict[str, Any], reader: Any) -> dict[str, Any]:
    kind = (reader.get("-2") or "").upper()
    if kind in ("NM", "SN") and "value" in (resource.get("valueQuantity") or {}):
        return resource
    raw = reader.get("-5")
    if raw is None:
        resource.pop("valueQuantity", None)
        return resource
    quantity = resource.pop("valueQuantity", None)
    if kind == "SN":
        comp, num1, sep, num2 = ([*raw.split("^"), "", "", "", ""])[:4]
        if sep in ("-", ":", "/", "+") and num2 and _NUMBER.fullmatch(num1) and _NUMBER.fullmatch(num2):
            if sep == "-":
                resource["valueRange"] = {
                    "low": _quantity(quantity, _num(num1)),
                    "high": _quantity(quantity, _num(num2)),
                }
                return resource
            resource["valueString"] = f"{num1}{sep}{num2}"
            return resource
        if _NUMBER.fullmatch(num1.strip()):
            comparator = comp.strip() if comp.strip() in ("<", "<=", ">", ">=") else None
            resource["valueQuantity"] = _quantity(quantity, _num(num1.strip()), comparator)
            return resource
        resource["valueString"] = raw
        return resource
    if kind == "NM":
        m = _COMPARATOR.fullmatch(raw)
        if m:
            resource["valueQuantity"] = _quantity(quantity, _num(m.group(2)), m.group(1))
        else:
            resource["valueString"] = raw
        return resource
    if kind in ("DT", "DTM", "TS"):
        m = _TS.fullmatch(raw.strip())
        if m:
            y, mo, d, h, mi, s = m.groups()
            if h and mi:
                resource["valueDateTime"] = f"{y}-{mo}-{d}T{h}:{mi}:{s or '00'}+08:00"
            else:
                resource["valueDateTime"] = "-".join(p for p in (y, mo, d) if p)
            return resource
    if kind in ("CE", "CWE", "CNE"):
        return resource
    if kind in ("ED", "RP"):
        att = _attachment(kind, raw)
        if att:
            resource.setdefault("extension", []).append({"url": _R5_VALUE, "valueAttachment": att})
        return resource
    texts = [raw]
    n = 2
    while True:
        more = reader.get(f"-5({n})")
        if more is None:
            break
        texts.append(more)
        n += 1
    resource["valueString"] = "\n".join(texts)
    return resource

"""OBX-5 values the templates cannot type by themselves (``python:`` hook on Observation rules).

The template gives valueQuantity (NM with a number) and valueCodeableConcept (CE/CWE/CNE). This hook adds,
per the HL7 v2-to-FHIR IG OBX[Observation] map (https://hl7.org/fhir/uv/v2mappings/ConceptMap-segment-obx-to-observation.html):
ST/TX/FT -> valueString (repetitions joined by newlines), SN -> valueQuantity with comparator or valueRange
(SN.1 comparator, SN.2 number, SN.3 separator, SN.4 second number), DT/DTM/TS -> valueDateTime, and an NM
that is not a number (e.g. "<0.5", common in Chinese LIS output) -> valueQuantity with comparator, else
valueString. Values with a unit keep the unit the template set.
"""

from __future__ import annotations

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

"""Finishing touches on Patient / RelatedPerson that templates cannot express (``python:`` rule hooks).

- ``name.text``: Chinese names are written family-then-given with no space (张三, 欧阳明), Latin names
  with a space; HIS often send the whole Chinese name in XPN.1, which stays whole as family.
- ``address.text``: a Chinese address reads province, city, district, then street (北京市朝阳区幸福路1号);
  built only for addresses that contain Chinese, with repeated parts (北京市 北京市) said once.
- identifiers without a value are dropped, and the same (system, value) is kept once (a resident ID can
  arrive in PID-3 and again in PID-19).
"""

from __future__ import annotations

from typing import Any


def _cjk(text: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in text)


def _name_text(name: dict[str, Any]) -> str | None:
    parts = [name.get("family") or "", *(name.get("given") or [])]
    parts = [p for p in parts if p]
    if not parts:
        return None
    return ("" if all(_cjk(p) for p in parts) else " ").join(parts)


def _address_text(address: dict[str, Any]) -> str | None:
    parts = [address.get("state"), address.get("city"), address.get("district"), *(address.get("line") or [])]
    parts = [p for p in parts if p]
    if not parts or not any(_cjk(p) for p in parts):
        return None
    out: list[str] = []
    for p in parts:
        if not out or out[-1] != p:
            out.append(p)
    return "".join(out)


def finish_person(resource: dict[str, Any], reader: Any) -> dict[str, Any]:
    for name in resource.get("name") or ():
        if "text" not in name:
            text = _name_text(name)
            if text:
                name["text"] = text
    for address in resource.get("address") or ():
        if "text" not in address:
            text = _address_text(address)
            if text:
                address["text"] = text
    identifiers = resource.get("identifier")
    if identifiers:
        seen: set[tuple[Any, Any]] = set()
        kept = []
        for ident in identifiers:
            value = ident.get("value")
            key = (ident.get("system"), value)
            if value and key not in seen:
                seen.add(key)
                kept.append(ident)
        if kept:
            resource["identifier"] = kept
        else:
            del resource["identifier"]
    return resource

"""Document text of MDM messages (``python:`` hook and ``py:`` filter on the MDM rules).

The HL7 v2-to-FHIR IG OBX[DocumentReference] map (https://hl7.org/fhir/uv/v2mappings/ConceptMap-segment-obx-to-documentreference.html)
puts the text OBX of a document into one attachment, each repetition (and each OBX line) a line feed, base64 in
attachment.data: a join across segments, which a template cannot state. ED values become their own attachment
(ED.5 data, as the IG's ED[Attachment]); RP values a url. A Composition section's narrative must be XHTML:
``composition_sections`` escapes each text OBX, repetitions as lines, and wraps it in a div.
"""

from __future__ import annotations

import base64
from html import escape
from typing import Any

_TEXT = {"TX", "FT", "ST"}
_MEDIA = {"AP": "application", "IM": "image", "TX": "text", "TEXT": "text", "AU": "audio", "VD": "video"}


def _obx(reader: Any) -> list[tuple[str, str]]:
    """(value type, value with repetitions on separate lines) of every OBX of the message."""
    out = []
    for n in range(1, 1000):
        kind, code, value = (reader.get(f"OBX[{n}]-{f}") for f in (2, 3, 5))
        if not (kind or code or value):
            break
        reps = [value or ""]
        for r in range(2, 100):
            more = reader.get(f"OBX[{n}]-5({r})")
            if not more:
                break
            reps.append(more)
        out.append(((kind or "").strip().upper(), "\n".join(reps)))
    return out


def _base64(text: str) -> bool:
    """Whether ED.5 holds base64 data (samples carry placeholders such as ``<Base64 encoded>``)."""
    try:
        return bool(text) and bool(base64.b64decode(text, validate=True))
    except ValueError:
        return False


def document_content(resource: dict[str, Any], reader: Any) -> dict[str, Any]:
    """Add the OBX text (one text/plain attachment) and each ED/RP value to DocumentReference.content."""
    content = [c for c in resource.get("content", []) if c.get("attachment")]
    lines = [value for kind, value in _obx(reader) if kind in _TEXT and value.strip()]
    extra: list[dict[str, Any]] = []
    if lines:
        data = base64.b64encode("\n".join(lines).encode("utf-8")).decode("ascii")
        extra.append({"attachment": {"contentType": "text/plain; charset=utf-8", "data": data}})
    for n in range(1, 1000):
        kind = (reader.get(f"OBX[{n}]-2") or "").strip().upper()
        if not (kind or reader.get(f"OBX[{n}]-3")):
            break
        if kind == "ED" and _base64((reader.get(f"OBX[{n}]-5.5") or "").strip()):
            major = _MEDIA.get((reader.get(f"OBX[{n}]-5.2") or "").strip().upper())
            minor = (reader.get(f"OBX[{n}]-5.3") or "").strip().lower()
            att = {"data": reader.get(f"OBX[{n}]-5.5").strip()}
            if major and minor:
                att["contentType"] = f"{major}/{minor}"
            extra.append({"attachment": att})
        elif kind == "RP" and (reader.get(f"OBX[{n}]-5.1") or "").strip():
            extra.append({"attachment": {"url": reader.get(f"OBX[{n}]-5.1").strip()}})
    if extra:
        # the header attachment (title, creation) describes the same document: carry it onto the first content
        head = content[0]["attachment"] if content else {}
        extra[0]["attachment"] = {**head, **extra[0]["attachment"]}
        content = extra + content[1:]
    resource["content"] = content
    return resource


def _narrative(text: str) -> str:
    body = "<br/>".join(escape(line) for line in text.splitlines())
    return f'<div xmlns="http://www.w3.org/1999/xhtml">{body}</div>'


def composition_sections(resource: dict[str, Any], reader: Any) -> dict[str, Any]:
    """Give each section (one per text OBX, in order) its OBX's whole text, every repetition a line, as XHTML."""
    texts = [value for kind, value in _obx(reader) if kind in _TEXT]
    for section, text in zip(resource.get("section", []), texts, strict=False):
        if text.strip():
            section["text"] = {"status": "generated", "div": _narrative(text)}
    return resource

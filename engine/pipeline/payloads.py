"""Intake for payloads that are not HL7 v2: FHIR JSON, NDJSON and XML become journal entries. No I/O here.

Each received payload (an HTTP body, a file, an NDJSON line, an XML record) is one entry. One that cannot be
read is journaled too, with status ERROR and a reason that names where (a field path, ``file:line``), so the
sender's mistake is on record and the next payload is served as usual.
"""

from __future__ import annotations

from collections.abc import Iterator

import orjson
from lxml import etree

from engine.domain.formats.fhir import MAX_FHIR_BYTES, FhirError, read_fhir, read_resource
from engine.domain.formats.xml import MAX_XML_BYTES, XmlError, parse_xml
from engine.domain.masking import mask_text
from engine.domain.outcome import MessageStatus
from engine.store.journal import JournalEntry

HEAD_BYTES = 4096  # what is kept of a payload too large to take


def _refused(channel: str, source: str, received_at: float, raw: bytes, reason: str, kind: str = "") -> JournalEntry:
    return JournalEntry(
        channel, source, received_at, raw, message_type=kind, status=MessageStatus.ERROR, error=mask_text(reason)
    )


def too_large(head: bytes, limit: int, *, channel: str, source: str, received_at: float) -> JournalEntry:
    """A payload over the limit: its head is journaled with the reason, so the operator sees who sent what."""
    reason = f"payload exceeds the limit of {limit} bytes"
    return _refused(channel, source, received_at, head[:HEAD_BYTES], reason)


def receive_fhir(
    data: bytes,
    *,
    channel: str,
    source: str,
    received_at: float,
    max_bytes: int = MAX_FHIR_BYTES,
    expect: str | None = None,
) -> JournalEntry:
    """One FHIR resource or Bundle. ``expect``: the resource type the URL names (``Bundle`` for a FHIR base)."""
    try:
        payload = read_fhir(data, max_bytes=max_bytes)
        kind = payload.resource["resourceType"]
        if expect == "Bundle" and payload.message_type not in ("Bundle^transaction", "Bundle^batch"):
            raise FhirError(f"the FHIR base takes a transaction or batch Bundle, got {payload.message_type}")
        if expect is not None and kind != expect:
            raise FhirError(f"resourceType {kind} does not match the URL, which names {expect}")
    except FhirError as exc:
        return _refused(channel, source, received_at, data[: max_bytes + 1], str(exc))
    return JournalEntry(
        channel,
        source,
        received_at,
        data,
        message_type=payload.message_type,
        control_id=payload.control_id,
        charset="utf-8",
    )


def _lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    for number, line in enumerate(data.split(b"\n"), 1):
        if line.strip():
            yield number, line.rstrip(b"\r")


def receive_ndjson(
    data: bytes, *, channel: str, source: str, received_at: float, max_bytes: int = MAX_FHIR_BYTES
) -> list[JournalEntry]:
    """One entry per line (one FHIR resource each); a bad line is journaled ERROR as ``file:line: reason``."""
    out = []
    for number, line in _lines(data):
        where = f"{source}:{number}"
        try:
            if len(line) > max_bytes:
                raise FhirError(f"line of {len(line)} bytes exceeds the limit of {max_bytes} bytes")
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise FhirError(f"invalid JSON: {exc.msg} at column {exc.colno}") from None
            resource = read_resource(value)
        except FhirError as exc:
            out.append(_refused(channel, where, received_at, line, f"{where}: {exc}"))
            continue
        out.append(
            JournalEntry(
                channel,
                where,
                received_at,
                line,
                message_type=resource["resourceType"],
                control_id=str(resource["id"]) if isinstance(resource.get("id"), str) else "",
                charset="utf-8",
            )
        )
    return out


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


def _control_id(element: etree._Element) -> str:
    """The record's own id: a direct child ``<id extension="...">`` (CDA, WS/T 500), else ``<id>text</id>``."""
    for child in element:
        if isinstance(child.tag, str) and _local(child) == "id":
            value = child.get("extension") or (child.text or "").strip()
            if value:
                return value[:64]
    return ""


def receive_xml(
    data: bytes,
    *,
    channel: str,
    source: str,
    received_at: float,
    max_bytes: int = MAX_XML_BYTES,
    split: str | None = None,
) -> list[JournalEntry]:
    """One entry per document, or per ``split`` element when a response lists several records."""
    try:
        root = parse_xml(data, max_bytes=max_bytes)
    except XmlError as exc:
        return [_refused(channel, source, received_at, data[: max_bytes + 1], str(exc))]
    if split is None:
        return [
            JournalEntry(
                channel,
                source,
                received_at,
                data,
                message_type=_local(root)[:32],
                control_id=_control_id(root),
                charset="utf-8",
            )
        ]
    records = [e for e in root.iter() if isinstance(e.tag, str) and _local(e) == split]
    if not records:
        reason = f"no <{split}> element in the {_local(root)} document (source.split names the record element)"
        return [_refused(channel, source, received_at, data, reason, _local(root)[:32])]
    return [
        JournalEntry(
            channel,
            source,
            received_at,
            etree.tostring(record, encoding="UTF-8", xml_declaration=False),
            message_type=split[:32],
            control_id=_control_id(record),
            charset="utf-8",
        )
        for record in records
    ]

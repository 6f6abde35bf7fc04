"""From journaled bytes to mapped FHIR: decode by the channel's input format, pick the mapping, map.

Runs behind the journal (in the destinations that need FHIR, and in ``huitong convert``/``test``), so
a mapping error never costs the sender its ACK; it marks the delivery with the mapping's own words.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from engine.domain.formats.hl7v2 import HL7Error, Message, message_charset, read_header, split_messages
from engine.domain.formats.xml import parse_xml
from engine.domain.mapping import Mapped, MappingError, MappingSet, NoMapping, Resource

FORMATS = ("hl7v2", "xml", "fhir", "json")


def sniff(data: bytes) -> str:
    """The format of a file from its first bytes: HL7 v2 (MSH/FHS/BHS), XML (<), a database row message (a JSON
    object with table and row, docs/database-source.md) or FHIR JSON ({)."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:3]
    if head in (b"MSH", b"FHS", b"BHS"):
        return "hl7v2"
    if head[:1] == b"<":
        return "xml"
    if head[:1] in (b"{", b"["):
        return "json" if is_row_message(data) else "fhir"
    raise MappingError("cannot tell the format (expected HL7 v2, XML or FHIR JSON); give --from")


def decode_hl7v2(raw: bytes, charset: str | None) -> Message:
    """``charset``: the codec the journal recorded, or the channel's default for a file never journaled."""
    default = charset or "utf-8"
    try:
        header = read_header(raw, default)
        codec = message_charset(header.charset, default, raw)
    except HL7Error as exc:
        raise MappingError(str(exc)) from None
    return Message(raw.decode(codec, "replace").lstrip("\ufeff"), header)


def is_row_message(data: bytes) -> bool:
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    return isinstance(parsed, dict) and "resourceType" not in parsed and {"table", "row"} <= parsed.keys()


def fhir_resources(data: Any) -> list[dict[str, Any]]:
    """A resource, or the resources of a Bundle (entries in order)."""
    if isinstance(data, dict) and data.get("resourceType") == "Bundle":
        return [e["resource"] for e in data.get("entry") or [] if isinstance(e, dict) and "resource" in e]
    if isinstance(data, dict) and data.get("resourceType"):
        return [data]
    raise MappingError("not a FHIR resource: no resourceType")


def passthrough(data: Any) -> Mapped:
    """FHIR in, FHIR out: each resource keeps the source's id, which is also its key in the record."""
    out = []
    for r in fhir_resources(data):
        key = f"{r['resourceType']}/{r['id']}" if r.get("id") else ""
        out.append(Resource("fhir", key, r))
    return Mapped("fhir", "passthrough", tuple(out))


def map_message(
    mappings: MappingSet,
    names: Sequence[str] | None,
    raw: bytes,
    *,
    format: str,
    charset: str | None = None,
    source_system: str = "",
) -> Mapped:
    """Map one journaled message; MappingError when no mapping takes it or the mapping fails."""
    if format == "fhir":
        try:
            return passthrough(orjson.loads(raw))
        except orjson.JSONDecodeError as exc:
            raise MappingError(f"not valid JSON: {exc}") from None
    if format == "json":
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise MappingError(f"not valid JSON: {exc}") from None
        table = data.get("table") if isinstance(data, dict) else None
        if not isinstance(table, str) or not table:
            raise MappingError("not a row message: no table (expected {\"table\": ..., \"row\": {...}})")
        mapping = mappings.choose(names, table, input="json")
        if mapping is None:
            raise NoMapping(f"no mapping takes rows of table {table}")
        return mapping.map(data, source_system=source_system, message_type=table)
    if format == "xml":
        root = parse_xml(raw)
        message_type = root.tag.rpartition("}")[2]
        mapping = mappings.choose(names, message_type, input="xml")
        if mapping is None:
            raise NoMapping(f"no mapping takes XML documents of type {message_type}")
        return mapping.map(root, source_system=source_system, message_type=message_type)
    message = decode_hl7v2(raw, charset)
    message_type = message.header.message_type
    mapping = mappings.choose(names, message_type)
    if mapping is None:
        raise NoMapping(f"no mapping takes {message_type or 'messages without a type'}")
    return mapping.map(
        message, source_system=source_system, message_type=message_type, control_id=message.header.control_id
    )


def map_file(
    mappings: MappingSet,
    names: Sequence[str] | None,
    data: bytes,
    *,
    format: str | None = None,
    charset: str | None = None,
    source_system: str = "",
) -> list[tuple[str, Mapped]]:
    """Every message of a file (an HL7 v2 batch gives several), each with a seed for stable full URLs."""
    kind = format or sniff(data)
    if kind == "hl7v2":
        out = []
        for i, raw in enumerate(split_messages(data)):
            mapped = map_message(mappings, names, raw, format=kind, charset=charset, source_system=source_system)
            out.append((f"{i}|{read_header(raw, charset or 'utf-8').control_id}", mapped))
        return out
    return [("0", map_message(mappings, names, data, format=kind, charset=charset, source_system=source_system))]

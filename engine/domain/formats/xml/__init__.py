"""XML as it arrives from outside (CDA documents, public-health records): parsed so that it cannot hurt.

Entities are never expanded, no DTD is loaded, nothing is fetched from the network, and a document that
declares a DOCTYPE is refused outright: no health document we take needs one, and every XML attack that
matters (XXE, billion laughs, quadratic blow-up) starts there.
"""

from __future__ import annotations

from lxml import etree

__all__ = ["MAX_XML_BYTES", "XmlError", "parse_xml"]

MAX_XML_BYTES = 20 * 1024 * 1024


_DOCTYPE = (
    "XML with a DOCTYPE declaration is refused: entity and DTD declarations are not accepted "
    "(they enable XXE and entity-expansion attacks); send the document without a DOCTYPE"
)


class XmlError(ValueError):
    """Why an XML document was refused; safe to show (no values from the document)."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        load_dtd=False,
        dtd_validation=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_xml(data: bytes, *, max_bytes: int = MAX_XML_BYTES) -> etree._Element:
    """The root element of ``data``; raises XmlError for anything oversized, malformed or with a DOCTYPE."""
    if len(data) > max_bytes:
        raise XmlError(f"XML document of {len(data)} bytes exceeds the limit of {max_bytes} bytes")
    if not data.strip():
        raise XmlError("empty XML document")
    if b"<!DOCTYPE" in data or "<!DOCTYPE".encode("utf-16-le") in data or "<!DOCTYPE".encode("utf-16-be") in data:
        raise XmlError(_DOCTYPE)
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise XmlError(f"malformed XML at line {exc.lineno}, column {exc.offset}: {exc.msg}") from None
    doc = root.getroottree().docinfo
    if doc.doctype or doc.internalDTD is not None or doc.externalDTD is not None:
        raise XmlError(_DOCTYPE)
    return root

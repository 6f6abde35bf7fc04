"""Lazy read access to a decoded HL7 v2 message: split only what is asked for.

The pipeline reads a handful of values per message (PID-3 for per-person ordering, a few fields for
filters); mappings read more. Splitting every field, repetition and component up front, as python-hl7
does, costs 10-200x more than reading what is needed, so segments are split into fields on first use.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .header import Header

__all__ = ["Message", "Segment", "unescape"]

_PATH = re.compile(r"([A-Z0-9]{3})(?:\[(\d+)\])?(?:-(\d+)(?:\((\d+)\))?(?:\.(\d+))?(?:\.(\d+))?)?")


@lru_cache(maxsize=1024)
def _parse_path(path: str) -> tuple[str, int, int, int, int, int]:
    """``"OBX[2]-5(1).1.2"`` -> (segment, occurrence, field, repetition, component, subcomponent)."""
    m = _PATH.fullmatch(path.strip())
    if m is None:
        raise ValueError(f"not an HL7 path: {path!r} (expected e.g. 'PID-3.1' or 'OBX[2]-5')")
    seg, occ, field, rep, comp, sub = m.groups()
    return seg, int(occ or 1), int(field or 0), int(rep or 1), int(comp or 0), int(sub or 0)


class Segment:
    """One segment; fields are split from its text on first access."""

    __slots__ = ("_fields", "_message", "text")

    def __init__(self, text: str, message: Message) -> None:
        self.text = text
        self._message = message
        self._fields: list[str] | None = None

    @property
    def id(self) -> str:
        return self.text[:3]

    def fields(self) -> list[str]:
        """Raw field texts, indexed by field number (index 0 is the segment ID; MSH-1 is the separator)."""
        if self._fields is None:
            fs = self._message.header.field_sep
            parts = self.text.split(fs)
            if parts[0] == "MSH":
                parts.insert(1, fs)
            self._fields = parts
        return self._fields

    def field(self, number: int) -> str:
        """Raw text of field ``number`` (all repetitions), ``""`` when absent."""
        parts = self.fields()
        return parts[number] if 0 < number < len(parts) else ""

    def get(self, field: int, repetition: int = 1, component: int = 0, subcomponent: int = 0) -> str:
        """Unescaped value at the given position; 0 for component/subcomponent means "the whole thing"."""
        value = self.field(field)
        if not value:
            return ""
        seps = self._message.header.encoding_chars
        if self.text.startswith("MSH") and field in (1, 2):
            return value
        if seps[1] in value or repetition > 1:
            reps = value.split(seps[1])
            value = reps[repetition - 1] if repetition <= len(reps) else ""
        if component:
            parts = value.split(seps[0])
            value = parts[component - 1] if component <= len(parts) else ""
            if subcomponent:
                parts = value.split(seps[3])
                value = parts[subcomponent - 1] if subcomponent <= len(parts) else ""
        return unescape(value, seps, self._message.header.field_sep) if seps[2] in value else value

    def __repr__(self) -> str:
        return f"Segment({self.id})"


class Message:
    """A decoded message with its already-read header; ``get("PID-3.1")`` reads one value."""

    __slots__ = ("_by_id", "_segments", "header", "text")

    def __init__(self, text: str, header: Header) -> None:
        self.text = text
        self.header = header
        self._segments: list[str] | None = None
        self._by_id: dict[str, list[int]] | None = None

    def segment_texts(self) -> list[str]:
        """Every segment's text in order (``\\r``, ``\\n`` or ``\\r\\n`` line ends, blank lines skipped)."""
        if self._segments is None:
            text = self.text
            if "\n" in text:
                text = text.replace("\r\n", "\r").replace("\n", "\r")
            segs = text.split("\r")
            if "" in segs or not segs[-1].strip() or "\r " in text:
                segs = [s for s in segs if s.strip()]
            self._segments = segs
        return self._segments

    def _index(self) -> dict[str, list[int]]:
        if self._by_id is None:
            index: dict[str, list[int]] = {}
            for i, s in enumerate(self.segment_texts()):
                index.setdefault(s[:3], []).append(i)
            self._by_id = index
        return self._by_id

    def segments(self, segment_id: str | None = None) -> list[Segment]:
        """All segments, or those with ``segment_id`` (``"OBX"``), in message order."""
        texts = self.segment_texts()
        if segment_id is None:
            return [Segment(t, self) for t in texts]
        return [Segment(texts[i], self) for i in self._index().get(segment_id, ())]

    def segment(self, segment_id: str, occurrence: int = 1) -> Segment | None:
        """The ``occurrence``-th (1-based) segment with this ID, or ``None``."""
        found = self._index().get(segment_id, ())
        if occurrence > len(found):
            return None
        return Segment(self.segment_texts()[found[occurrence - 1]], self)

    def get(self, path: str) -> str:
        """Value at an HL7 path, unescaped; ``""`` when absent.

        ``"PID-3"`` is the first repetition of the whole field, ``"PID-3.1"`` its first component,
        ``"PID-5.1.1"`` a subcomponent, ``"PID-3(2).1"`` the second repetition, ``"OBX[2]-5"`` the second OBX.
        """
        seg_id, occurrence, field, rep, comp, sub = _parse_path(path)
        seg = self.segment(seg_id, occurrence)
        if seg is None or field == 0:
            return "" if seg is None else seg.text
        if field in (1, 2) and seg_id == "MSH":
            return seg.field(field)
        return seg.get(field, rep, comp, sub)

    def __repr__(self) -> str:
        return f"Message({self.header.message_type!r}, control_id={self.header.control_id!r})"


def unescape(value: str, encoding_chars: str, field_sep: str = "|") -> str:
    """Resolve HL7 escape sequences: ``\\F\\ \\S\\ \\T\\ \\R\\ \\E\\``, ``\\Xhh\\`` and ``\\.br\\``.

    Formatting sequences other than ``.br`` are dropped; unknown ones are kept verbatim.
    """
    comp, rep, esc = encoding_chars[0], encoding_chars[1], encoding_chars[2]
    sub = encoding_chars[3] if len(encoding_chars) > 3 else "&"
    parts = value.split(esc)
    if len(parts) < 3:
        return value
    out = [parts[0]]
    i = 1
    while i < len(parts) - 1:
        code = parts[i]
        simple = {"F": field_sep, "S": comp, "T": sub, "R": rep, "E": esc}
        if code in simple:
            out.append(simple[code])
        elif code == ".br":
            out.append("\n")
        elif code[:1] == "X" and len(code) > 1 and len(code) % 2 == 1:
            try:
                out.append(bytes.fromhex(code[1:]).decode("latin-1"))
            except ValueError:
                out.append(esc + code + esc)
        elif code in ("H", "N") or code[:1] == ".":
            pass  # highlighting / formatting: no text
        else:
            out.append(esc + code + esc)
        out.append(parts[i + 1])
        i += 2
    if i < len(parts):  # a lone escape character with no closing partner
        out.append(esc + esc.join(parts[i:]))
    return "".join(out)

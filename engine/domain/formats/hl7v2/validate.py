"""Content checks for a readable message, as HL7 table 0357 problems.

Two levels. ``basic`` runs on every message on the ACK path and stays cheap: segment IDs, control
characters, one MSH per message. It is liberal where real senders deviate harmlessly: an unknown MSH-11
processing ID, an empty MSH-12 and empty fields past a segment's last defined one are accepted with a
note (severity ``W``). ``strict`` is opt-in per channel, refuses those, and walks the message against the
HL7 reference data of its own version (required segments and fields, data type formats, OBX-5 against
OBX-2, coding systems in CE/CWE/CNE). Problem texts name positions and rules, never field values,
so they can go into ACKs and logs without leaking personal data.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass

from ._reference import LATEST, VersionRef, all_datatypes, coding_systems, reference
from .header import _PROCESSING_IDS, _PROCESSING_MODES, KNOWN_VERSIONS, Header
from .message import Message

__all__ = ["ERROR_CODES", "Problem", "header_notes", "notes_only", "validate"]

#: HL7 table 0357 (message error condition codes) as used by this engine.
ERROR_CODES = {
    0: "Message accepted",
    100: "Segment sequence error",
    101: "Required field missing",
    102: "Data type error",
    103: "Table value not found",
    200: "Unsupported message type",
    201: "Unsupported event code",
    202: "Unsupported processing id",
    203: "Unsupported version id",
    204: "Unknown key identifier",
    205: "Duplicate key identifier",
    206: "Application record locked",
    207: "Application internal error",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding: a 0357 code, where (``"MSH-10"``, ``"OBX[2]-5"``), what (readable, no values)."""

    code: int
    location: str
    text: str
    severity: str = "E"  # "W": a deviation ``basic`` accepts, kept as a note


def notes_only(problems: list[Problem]) -> bool:
    """True when every problem is a note (``W``): the message is accepted (AA) and the notes journaled."""
    return all(p.severity == "W" for p in problems)


def header_notes(header: Header, level: str) -> list[Problem] | None:
    """``basic``'s notes for an MSH-11/MSH-12 the header check refused; None when the refusal stands.

    Called only when MSH-9 and MSH-10 passed (the header check stops at the first error, in field order). A
    processing ID outside table 0103 (``N``, ``Q`` …) is read as production and an empty MSH-12 with the
    latest reference data; an MSH-12 that names an unknown version is still refused, as is all of it in
    ``strict``.
    """
    if level != "basic":
        return None
    notes = []
    pid, _, mode = header.processing_id.partition(header.encoding_chars[0])
    if pid not in _PROCESSING_IDS or mode.partition(header.encoding_chars[0])[0] not in _PROCESSING_MODES:
        notes.append(Problem(202, "MSH-11", "MSH-11 (processing ID) is not P, D or T; read as P", "W"))
    if not header.version:
        notes.append(Problem(203, "MSH-12", "MSH-12 (version ID) is empty; read as the latest version", "W"))
    elif header.version not in KNOWN_VERSIONS:
        return None
    return notes


def validate(message: Message, level: str) -> list[Problem]:
    """Problems found in ``message`` at ``level`` (``"basic"`` or ``"strict"``); empty when clean."""
    if level == "basic":
        return _basic(message) + _trailing(message, "W")
    if level == "strict":
        return _basic(message) + _strict(message) + _trailing(message, "E")
    raise ValueError(f"validation level must be 'basic' or 'strict', not {level!r}")


# ---------------------------------------------------------------------------------------------- basic

_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{2}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab is tolerated in text
_valid_ids: set[str] = set()


def _is_segment_id(sid: str) -> bool:
    if sid in _valid_ids:
        return True
    if _SEGMENT_ID.fullmatch(sid):
        if len(_valid_ids) < 4096:
            _valid_ids.add(sid)
        return True
    return False


def _where(segs: list[str], n: int, sid: str) -> str:
    occurrence = sum(1 for s in segs[:n] if s.startswith(sid)) + 1
    return sid if occurrence == 1 else f"{sid}[{occurrence}]"


def _basic(message: Message) -> list[Problem]:
    problems: list[Problem] = []
    fs = message.header.field_sep
    segs = message.segment_texts()
    for n, s in enumerate(segs):
        sid = s[:3]
        if not (_is_segment_id(sid) and (len(s) == 3 or s[3] == fs)):
            text = f"segment {n + 1} does not start with a segment ID and field separator"
            problems.append(Problem(100, f"#{n + 1}", text))
            continue
        if n and sid == "MSH":
            problems.append(Problem(100, f"#{n + 1}", f"segment {n + 1} is a second MSH inside one message"))
        if not s.isprintable():
            m = _CONTROL.search(s)
            if m:
                field = s.count(fs, 0, m.start()) + (1 if sid == "MSH" else 0)
                where = f"{_where(segs, n, sid)}-{field}"
                problems.append(Problem(102, where, f"{where} contains a control character"))
    return problems


def _trailing(message: Message, severity: str) -> list[Problem]:
    """Segments that end in empty fields past the last field their version defines (``|||`` padding).

    Only segments whose text ends with the field separator are looked up, so a clean message costs one
    string test per segment. A note in ``basic``, an error in ``strict``."""
    h = message.header
    fs = h.field_sep
    ref = reference(h.version) if h.version else reference(LATEST)
    if ref is None:
        return []
    problems = []
    segs = message.segment_texts()
    for n, s in enumerate(segs):
        if not s.endswith(fs):
            continue
        sid = s[:3]
        defs = ref.segments.get(sid)
        if not defs:
            continue
        fields = s.split(fs)
        if sid == "MSH":
            fields.insert(1, fs)
        last = len(fields) - 1
        while last > 0 and not fields[last]:
            last -= 1
        defined = max(fd.number for fd in defs)
        if len(fields) - 1 > defined and last <= defined:
            where = _where(segs, n, sid)
            text = f"{where} has empty fields past {where}-{defined}, the last one v{ref.version} defines"
            problems.append(Problem(102, f"{where}-{defined + 1}", text, severity))
    return problems


# --------------------------------------------------------------------------------------------- strict


def _digits(v: str) -> bool:
    """ASCII digits only: str.isdigit() also takes ² and ①, which int() refuses (and HL7 does not allow)."""
    return v.isascii() and v.isdigit()


def _is_date(v: str) -> bool:
    n = len(v)
    if n not in (4, 6, 8) or not _digits(v):
        return False
    if n >= 6 and not 1 <= int(v[4:6]) <= 12:
        return False
    if n == 8:
        days = calendar.monthrange(int(v[:4]), int(v[4:6]))[1]
        return 1 <= int(v[6:8]) <= days
    return True


def _is_time(v: str) -> bool:
    """HH[MM[SS[.S[S[S[S]]]]]] without offset."""
    whole, _, fraction = v.partition(".")
    if fraction and (len(whole) != 6 or not (1 <= len(fraction) <= 4) or not _digits(fraction)):
        return False
    if len(whole) not in (2, 4, 6) or not _digits(whole):
        return False
    return (
        int(whole[:2]) <= 23 and (len(whole) < 4 or int(whole[2:4]) <= 59) and (len(whole) < 6 or int(whole[4:6]) <= 59)
    )


def _split_offset(v: str) -> tuple[str, bool]:
    for sign in "+-":
        i = v.find(sign)
        if i >= 0:
            offset = v[i + 1 :]
            ok = len(offset) == 4 and _digits(offset) and int(offset[:2]) <= 14 and int(offset[2:]) <= 59
            return v[:i], ok
    return v, True


def _is_dtm(v: str) -> bool:
    """YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ], with real calendar dates."""
    v, offset_ok = _split_offset(v)
    if not offset_ok:
        return False
    whole, dot, _ = v.partition(".")
    if len(whole) in (4, 6, 8):
        return not dot and _is_date(whole)
    if len(whole) in (10, 12, 14):
        return _is_date(whole[:8]) and _is_time(v[8:])
    return False


def _is_tm(v: str) -> bool:
    v, offset_ok = _split_offset(v)
    return offset_ok and _is_time(v)


_NM = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)", re.ASCII)
_FORMATS: dict[str, Callable[[str], bool]] = {
    "NM": lambda v: _NM.fullmatch(v.strip()) is not None,
    "SI": lambda v: _digits(v) and len(v) <= 4,
    "DT": _is_date,
    "DTM": _is_dtm,
    "TM": _is_tm,
}
_LOCAL_CODING = re.compile(r"99[A-Za-z0-9]{3}|L|HL7\d{4}|ISO\d{4}|X12De?\d+|IBT\d{4}")


def _is_coding_system(v: str) -> bool:
    return v in coding_systems() or _LOCAL_CODING.fullmatch(v) is not None


class _Checker:
    """Walks one message against one version's reference data, collecting problems."""

    def __init__(self, message: Message, ref: VersionRef) -> None:
        self.ref = ref
        self.latest = reference(LATEST)
        h = message.header
        self.fs = h.field_sep
        enc = h.encoding_chars
        self.comp, self.rep, self.sub = enc[0], enc[1], enc[3]
        self.problems: list[Problem] = []

    def composite(self, datatype: str) -> tuple[tuple[str, str, str | None] | None, ...] | None:
        found = self.ref.datatypes.get(datatype)
        if found is None and self.latest is not None and datatype not in _FORMATS and datatype != "TS":
            found = self.latest.datatypes.get(datatype)
        return found

    def value(self, value: str, datatype: str, table: str | None, where: str, label: str, level: int) -> None:
        """Check one repetition (level 0), component (1) or subcomponent (2) against its data type."""
        if datatype == "TS" or datatype in _FORMATS:
            # Extra components in a primitive are ignored, as HL7 tells receivers to do.
            head = value.split(self.comp)[0] if level == 0 else value
            if level < 2:
                head = head.split(self.sub)[0]
            check = _FORMATS.get(datatype, _is_dtm)
            if head and head != '""' and not check(head):
                self.add(102, where, f"{label} is not a valid {'DTM' if datatype == 'TS' else datatype}")
            return
        if table == "HL70396":
            # Only the coding-system table is enforced: the other HL7 tables grow with every version
            # and national profiles extend them, so membership checks reject valid traffic.
            code = value.split(self.comp)[0] if level == 0 else value
            if not _is_coding_system(code):
                self.add(103, where, f"{label} is not a coding system of HL7 table 0396 or a local one")
            return
        struct = self.composite(datatype) if level < 2 else None
        if not struct:
            return
        parts = value.split(self.comp if level == 0 else self.sub)
        for i, part in enumerate(parts[: len(struct)]):
            component = struct[i]
            if part and part != '""' and component is not None:
                dt, name, tbl = component
                self.value(part, dt, tbl, f"{where}.{i + 1}", f"{where}.{i + 1} ({name})", level + 1)

    def add(self, code: int, where: str, text: str) -> None:
        self.problems.append(Problem(code, where, text))

    def observation(self, obx: list[str], where: str) -> None:
        """OBX-5 must fit the type OBX-2 declares: the sender states it, so a misfit is a sender error."""
        value = obx[5] if len(obx) > 5 else ""
        if not value or value == '""':
            return
        vtype = obx[2].split(self.comp)[0].strip() if len(obx) > 2 else ""
        if not vtype:
            self.add(101, f"{where}-2", f"{where}-2 (value type) is empty while {where}-5 holds a value")
            return
        if vtype not in all_datatypes():
            self.add(103, f"{where}-2", f"{where}-2 (value type) is not an HL7 data type")
            return
        primitive = self.composite(vtype) is None and vtype != "TS"
        for n, rep in enumerate(value.split(self.rep), start=1):
            if not rep or rep == '""':
                continue
            at = f"{where}-5" if n == 1 else f"{where}-5({n})"
            if primitive and self.comp in rep:
                self.add(102, at, f"{at} has components but {where}-2 declares the primitive type {vtype}")
                continue
            self.value(rep, vtype, None, at, f"{at} (observation value)", 0)


def _strict(message: Message) -> list[Problem]:
    h = message.header
    ref = reference(h.version)
    problems = [Problem(102, "MSH-2", note) for note in h.notes]
    if not h.sending_app.strip(h.encoding_chars[0] + " ") and not h.sending_facility.strip(h.encoding_chars[0] + " "):
        problems.append(Problem(101, "MSH-3", "MSH-3 and MSH-4 (sending application and facility) are both empty"))
    if ref is None:
        return problems
    segs = message.segment_texts()
    ids = [s[:3] for s in segs]
    structure = ref.structure_for(h.message_type, h.structure)
    if structure:
        present = set(ids)
        for required in ref.structures[structure]:
            if required not in present:
                text = f"segment {required}, required by {structure} v{h.version}, is missing"
                problems.append(Problem(100, required, text))
    checker = _Checker(message, ref)
    checker.problems = problems
    seen: dict[str, int] = {}
    fs = checker.fs
    for s, sid in zip(segs, ids, strict=True):
        if not _is_segment_id(sid):
            continue  # already reported by the basic checks
        occurrence = seen[sid] = seen.get(sid, 0) + 1
        where = sid if occurrence == 1 else f"{sid}[{occurrence}]"
        defs = ref.segments.get(sid)
        if defs is None:
            if sid[0] != "Z":
                checker.add(100, where, f"segment {sid} is not defined in HL7 v{h.version}")
            continue
        fields = s.split(fs)
        if sid == "MSH":
            fields.insert(1, fs)
        count = len(fields)
        for fd in defs:
            k = fd.number
            if sid == "MSH" and k <= 2:
                continue
            value = fields[k] if k < count else ""
            if not value:
                if fd.required:
                    checker.add(101, f"{where}-{k}", f"{where}-{k} ({fd.name}) is required but empty")
                continue
            if value == '""' or (sid == "OBX" and k == 5):
                continue
            reps = value.split(checker.rep) if checker.rep in value else (value,)
            for n, rep in enumerate(reps, start=1):
                if rep and rep != '""':
                    at = f"{where}-{k}" if n == 1 else f"{where}-{k}({n})"
                    checker.value(rep, fd.datatype, fd.table, at, f"{at} ({fd.name})", 0)
        if sid == "OBX":
            checker.observation(fields, where)
    return checker.problems

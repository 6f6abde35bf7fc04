"""Original-mode acknowledgements (HL7 v2.5 chapter 2): ACK, with MSA and one ERR per problem.

Time and control IDs are passed in, never read here, so an ACK is a pure function of its inputs and
a resent message can be answered byte-for-byte the same way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import HL7Error
from .header import Header, _valid_delimiters, read_header
from .message import Message
from .validate import ERROR_CODES, Problem
from .wire import charset_for, charset_name, split_messages

__all__ = ["AckSummary", "build_ack", "build_batch_ack", "escape", "read_ack"]

_CODES = frozenset(("AA", "AE", "AR", "CA", "CE", "CR"))
_LOCATION = re.compile(r"(?:([A-Z0-9]{3})(?:\[(\d+)\])?)?(?:#(\d+))?(?:-(\d+)(?:\((\d+)\))?(?:\.(\d+))?(?:\.(\d+))?)?")
_DEFAULT_ENCODING = "^~\\&"
_VERSIONS_WITH_ERR_1_ONLY = ("2.1", "2.2", "2.3", "2.3.1", "2.4")
# What an ACK may echo of the message it answers: anything else is the sender's mistake, not to be copied.
_TRIGGER = re.compile(r"[A-Z0-9]{3}")
_VERSION = re.compile(r"2\.[1-9](?:\.[1-9])?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _delimiters_usable(header: Header) -> bool:
    """The message's delimiters, as the header reader takes them, and none a "." (the ACK writes MSH-12 "2.5")."""
    fs, enc = header.field_sep, header.encoding_chars
    if len(fs) != 1 or not ("!" <= fs <= "~") or fs.isalnum() or "." in fs + enc:
        return False
    return not _valid_delimiters(ord(fs), enc.encode())


def _charset(msh18: str) -> str:
    """MSH-18 when it names a character set the engine knows, else nothing."""
    try:
        charset_for(msh18, "")
    except HL7Error:
        return ""
    return msh18


def _plain(text: str, esc: str = "\\") -> str:
    """Control characters as HL7 hex escapes (\\X0B\\), never raw in an ACK."""
    return _CONTROL.sub(lambda m: f"{esc}X{ord(m.group(0)):02X}{esc}", text)


def escape(text: str, field_sep: str = "|", encoding_chars: str = _DEFAULT_ENCODING) -> str:
    """Escape delimiters so free text can sit in one field; line breaks become spaces."""
    comp, rep, esc = encoding_chars[0], encoding_chars[1], encoding_chars[2]
    sub = encoding_chars[3] if len(encoding_chars) > 3 else "&"
    out = text.replace("\r\n", " ").replace("\r", " ").replace("\n", " ")
    if esc in out:
        out = out.replace(esc, f"{esc}E{esc}")
    for ch, code in ((field_sep, "F"), (comp, "S"), (rep, "R"), (sub, "T")):
        if ch in out:
            out = out.replace(ch, f"{esc}{code}{esc}")
    return out


def _erl(location: str, comp: str) -> list[str]:
    """``"OBX[2]-5.1"`` -> ERL components [segment, sequence, field, repetition, component, subcomponent]."""
    m = _LOCATION.fullmatch(location)
    if m is None:
        return []
    seg, occ, line, field, rep, component, sub = m.groups()
    parts = [
        seg or "",
        occ or line or ("1" if seg else ""),
        field or "",
        rep or ("1" if field else ""),
        component or "",
        sub or "",
    ]
    while parts and not parts[-1]:
        parts.pop()
    return parts


def build_ack(
    header: Header | None,
    code: str,
    *,
    control_id: str,
    timestamp: str,
    problems: Sequence[Problem] = (),
    text: str = "",
    codec: str = "utf-8",
) -> str:
    """The ACK for one message, segments joined with ``"\\r"`` (the transport adds the final one).

    ``codec`` is what the ACK will be encoded with: an ACK holding more than ASCII names it in MSH-18 when the
    message did not, so its reader splits the right bytes (a GB 18030 character may hold the byte of ``|``).

    ``header`` is the original message's header (``None`` when it was unreadable: a minimal MSH is used
    and MSA-2 stays empty). Sender and receiver are swapped, MSH-11/12/18 echoed, MSH-9 is
    ``ACK^<trigger>^ACK``. For AE/AR each problem becomes an ERR segment (ERR-2 location, ERR-3 the
    table 0357 code, ERR-4 severity, ERR-8 the text); for versions before 2.5, ERR-1 carries the same.
    ``text`` goes to MSA-3; it defaults to the first problem's text.
    """
    if code not in _CODES:
        raise ValueError(f"acknowledgement code must be one of {sorted(_CODES)}, not {code!r}")
    if header is not None and _delimiters_usable(header):
        fs, enc = header.field_sep, header.encoding_chars
        comp = enc[0]
        trigger = header.trigger if _TRIGGER.fullmatch(header.trigger) else ""
        msh9 = f"ACK{comp}{trigger}{comp}ACK" if trigger else "ACK"
        processing = header.processing_id[:1] if header.processing_id[:1] in ("P", "D", "T") else "P"
        version = header.version if _VERSION.fullmatch(header.version) else "2.5"
        msh = [
            "MSH",
            enc,
            *(_CONTROL.sub("", f) for f in (header.receiving_app, header.receiving_facility)),
            *(_CONTROL.sub("", f) for f in (header.sending_app, header.sending_facility)),
            timestamp,
            "",
            msh9,
            control_id,
            processing,
            version,
        ]
        charset = _charset(header.charset)
        if charset:
            msh += ["", "", "", "", "", charset]
        original_id = header.control_id
    else:  # unreadable, or delimiters no reader could use: a minimal ACK, the control ID (if any) escaped
        fs, enc, comp, version = "|", _DEFAULT_ENCODING, "^", "2.5"
        msh = ["MSH", enc, "", "", "", "", timestamp, "", "ACK", control_id, "P", version]
        original_id = header.control_id if header is not None else ""
    if not text and problems:
        text = problems[0].text
    msa = ("MSA", code, _plain(escape(original_id, fs, enc), enc[2]), _plain(escape(text, fs, enc), enc[2]))
    if len(msh) == 12 and not "".join((*msh, *msa)).isascii() and charset_name(codec):
        msh += ["", "", "", "", "", charset_name(codec)]
    segments = [fs.join(msh), fs.join(msa)]
    if code in ("AE", "AR", "CE", "CR"):
        old_style = version in _VERSIONS_WITH_ERR_1_ONLY
        sub = enc[3]
        for p in problems:
            description = ERROR_CODES.get(p.code, "")
            location = _erl(p.location, comp)
            err3 = comp.join((str(p.code), description, "HL70357"))
            err1 = ""
            if old_style:
                eld = [*location[:3], "", "", ""][:3]
                err1 = comp.join([*eld, sub.join((str(p.code), description, "HL70357"))])
            fields = ["ERR", err1, comp.join(location), err3, p.severity, "", "", "", escape(p.text, fs, enc)]
            segments.append(fs.join(fields))
    return "\r".join(segments)


def build_batch_ack(acks: Sequence[str], *, timestamp: str, control_id: str) -> str:
    """Wrap ACKs for a batch: BHS (BHS-7 time, BHS-11 batch control ID), the ACKs, ``BTS|<count>``."""
    bhs = f"BHS|{_DEFAULT_ENCODING}|||||{timestamp}||||{control_id}"
    return "\r".join([bhs, *acks, f"BTS|{len(acks)}"])


# -- reading what a peer answered ------------------------------------------------------------------------
_SEVERITY = {"AA": 0, "CA": 0, "AE": 1, "CE": 1, "AR": 2, "CR": 2}


@dataclass(frozen=True, slots=True)
class AckSummary:
    code: str  # MSA-1 (AA, AE, AR, CA, CE, CR), "" when unreadable; the worst one for a batch of ACKs
    control_id: str  # MSA-2: the control ID of the message it answers
    text: str  # MSA-3, else the ERR user message / error code text


def _one(raw: bytes) -> AckSummary:
    header = read_header(raw)
    try:
        charset = charset_for(header.charset, "utf-8")
    except HL7Error:
        charset = "utf-8"
    message = Message(raw.decode(charset, "replace"), header)
    text = message.get("MSA-3") or message.get("ERR-8") or message.get("ERR-3.2") or message.get("ERR-1.4.2")
    return AckSummary(message.get("MSA-1"), message.get("MSA-2"), text)


def read_ack(data: bytes) -> AckSummary:
    """Summarise an ACK, or a batch of ACKs (worst code, texts joined); never raises."""
    try:
        parts = [_one(raw) for raw in split_messages(data)]
    except HL7Error as exc:
        return AckSummary("", "", f"unreadable acknowledgement: {exc}")
    if not parts:
        return AckSummary("", "", "empty acknowledgement")
    if len(parts) == 1:
        return parts[0]
    worst = max(parts, key=lambda p: _SEVERITY.get(p.code, 3))
    texts = "; ".join(f"{p.control_id}: {p.text}" for p in parts if p.text)
    return AckSummary(worst.code, ",".join(p.control_id for p in parts), texts)

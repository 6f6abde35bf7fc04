"""Read the MSH segment, and only it, straight from the bytes.

The intake must know who sent a message, its control ID, version and charset before it can ACK, and it
must not parse the rest of the message to learn them. ``read_header`` looks at the first line only.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._frozen import builder
from .errors import HeaderError, UnknownCharset
from .wire import BOM, charset_for, message_charset

__all__ = ["KNOWN_VERSIONS", "Header", "read_header", "scan_header"]

#: HL7 v2 versions this engine recognises in MSH-12.1.
KNOWN_VERSIONS = frozenset(
    [
        *("2.1", "2.2", "2.3", "2.3.1", "2.4", "2.5", "2.5.1"),
        *("2.6", "2.7", "2.7.1", "2.8", "2.8.1", "2.8.2", "2.9"),
    ]
)
_PROCESSING_IDS = frozenset("PDT")  # HL7 table 0103
_PROCESSING_MODES = frozenset(("", "A", "I", "R", "T"))  # HL7 table 0207; empty means current processing
_PROCESSING_COMMON = frozenset(("P", "D", "T"))


@dataclass(frozen=True, slots=True)
class Header:
    """What the MSH segment says; composite fields keep their components (``"LAB^1.2.3^ISO"``)."""

    field_sep: str
    encoding_chars: str
    sending_app: str
    sending_facility: str
    receiving_app: str
    receiving_facility: str
    timestamp: str
    message_type: str  # "ADT^A01", or "ADT" when MSH-9 has no trigger event
    structure: str  # MSH-9.3, "" when absent
    control_id: str
    processing_id: str  # MSH-11 as sent, e.g. "P" or "P^T"
    version: str  # MSH-12.1
    charset: str  # MSH-18.1 as sent, "" when absent
    notes: tuple[str, ...] = ()  # deviations that were tolerated, e.g. a doubled escape character

    @property
    def trigger(self) -> str:
        """MSH-9.2, the trigger event (``"A01"``), or ``""``."""
        _, _, trigger = self.message_type.partition("^")
        return trigger


def _valid_delimiters(fs: int, enc: bytes) -> str:
    """Why ``enc`` cannot serve as MSH-2 with field separator ``fs``; ``""`` when it can."""
    if len(enc) not in (4, 5):
        return f"has {len(enc)} characters, expected 4 (or 5 with the truncation character)"
    for ch in enc:
        if not (0x21 <= ch <= 0x7E) or chr(ch).isalnum():
            return "contains a letter, digit, space or control character"
    if len(set(enc)) != len(enc) or fs in enc:
        return "repeats a character or the field separator"
    return ""


def scan_header(raw: bytes, default_charset: str = "utf-8") -> tuple[Header | None, HeaderError | None]:
    """Best-effort MSH reading: the header (when the delimiters are usable) and the first error found.

    The intake uses this form so that an AR can still echo the control ID and swap the sender and the
    receiver when, say, MSH-12 is wrong. Header text is decoded with MSH-18 (or ``default_charset``).
    """
    if not raw.startswith(b"MSH"):
        stripped = raw[3:].lstrip() if raw.startswith(BOM) else raw.lstrip()
        if not stripped:
            return None, HeaderError("message is empty", "MSH", 100)
        if not stripped.startswith(b"MSH"):
            return None, HeaderError("message does not start with an MSH segment", "MSH", 100)
        raw = stripped
    end = raw.find(b"\r", 0, 2048)  # an MSH is far shorter; the window spares a scan of LF-only files
    if end < 0:
        end = raw.find(b"\r")
        if end < 0:
            end = len(raw)
    lf = raw.find(b"\n", 0, end)
    if lf >= 0:
        end = lf
    seg = raw[:end]
    if len(seg) < 4:
        return None, HeaderError("MSH-1 (field separator) is missing", "MSH-1", 102)
    fs = seg[3]
    if not (0x21 <= fs <= 0x7E) or chr(fs).isalnum():
        return None, HeaderError("MSH-1 (field separator) is not a printable non-alphanumeric character", "MSH-1", 102)
    fsep = chr(fs)
    text = seg.decode("ascii") if seg.isascii() else _decode_header(seg, default_charset)
    f = text.split(fsep)
    if len(f) < 18:
        f += [""] * (18 - len(f))
    enc = f[1]
    notes: tuple[str, ...] = ()
    if fs != 124 or enc != "^~\\&":  # anything but the usual "|^~\&" gets the full check
        enc_b = enc.encode("utf-8")
        why = _valid_delimiters(fs, enc_b)
        if why and len(enc_b) == 5 and enc_b[2] == enc_b[3]:
            # "^~\\&": the escape character written twice, an artefact of string literals in source code.
            repaired = enc_b[:3] + enc_b[4:]
            if not _valid_delimiters(fs, repaired):
                notes = ("MSH-2 repeats the escape character (read as 4 encoding characters)",)
                why, enc = "", repaired.decode("ascii")
        if why:
            return None, HeaderError(f"MSH-2 (encoding characters) {why}", "MSH-2", 102)
    comp = enc[0]
    mcode, _, rest = f[8].partition(comp)
    trigger, _, rest = rest.partition(comp)
    control_id = f[9].strip()
    processing = f[10]
    version = f[11].partition(comp)[0].strip()
    charset = f[17]
    if charset:
        charset = charset.partition(enc[1])[0].partition(comp)[0].strip()
    header = _new_header(
        fsep,
        enc,
        f[2],
        f[3],
        f[4],
        f[5],
        f[6].partition(comp)[0],
        f"{mcode}^{trigger}" if trigger else mcode,
        rest.partition(comp)[0],
        control_id,
        processing,
        version,
        charset,
        notes,
    )
    if (
        len(mcode) == 3
        and len(trigger) in (0, 3)
        and control_id
        and processing in _PROCESSING_COMMON
        and version in KNOWN_VERSIONS
        and (mcode + trigger).isalnum()
        and mcode.isascii()
    ):
        return header, None
    return header, _check(mcode, trigger, control_id, processing, comp, version)


_new_header = builder(Header)


def _check(mcode: str, trigger: str, control_id: str, processing: str, comp: str, version: str) -> HeaderError | None:
    if not mcode:
        return HeaderError("MSH-9 (message type) is empty", "MSH-9", 101)
    if len(mcode) != 3 or not mcode.isalnum() or not mcode.isascii():
        return HeaderError("MSH-9.1 (message code) is not a three-character code", "MSH-9", 200)
    if trigger and (len(trigger) != 3 or not trigger.isalnum() or not trigger.isascii()):
        return HeaderError("MSH-9.2 (trigger event) is not a three-character code", "MSH-9", 201)
    if not control_id:
        return HeaderError("MSH-10 (message control ID) is empty", "MSH-10", 101)
    pid, _, mode = processing.partition(comp)
    if pid not in _PROCESSING_IDS or len(pid) != 1:
        return HeaderError("MSH-11 (processing ID) is not P, D or T", "MSH-11", 202)
    if mode.partition(comp)[0] not in _PROCESSING_MODES:
        return HeaderError("MSH-11.2 (processing mode) is not A, I, R or T", "MSH-11", 202)
    if not version:
        return HeaderError("MSH-12 (version ID) is empty", "MSH-12", 203)
    if version not in KNOWN_VERSIONS:
        reason = f"MSH-12 (version ID) {version[:16]!r} is not a known HL7 v2 version"
        return HeaderError(reason, "MSH-12", 203)
    return None


def _decode_header(seg: bytes, default_charset: str) -> str:
    """Decode a non-ASCII MSH with its own MSH-18 (falling back to latin-1, which never fails).

    The fields are split before decoding, as bytes, and a GB 18030 or Big5 character may hold the byte of the field
    separator (0x7C is a valid second byte): such a character in MSH-3..17 shifts MSH-18 to the right. So MSH-18 is
    the first field from the 18th on that names a known character set."""
    fields = seg.split(seg[3:4])
    enc = fields[1] if len(fields) > 1 else b""

    def first_value(field: bytes) -> bytes:
        return field.split(enc[1:2])[0].split(enc[0:1])[0] if len(enc) >= 2 else field

    values = [first_value(f) for f in fields[17:]]
    msh18 = next((v for v in values if v and _known_charset(v)), values[0] if values else b"")
    try:
        codec = message_charset(msh18.decode("ascii", "replace"), default_charset, seg)
        return seg.decode(codec, "replace")
    except (UnknownCharset, LookupError):
        return seg.decode("latin-1")


def _known_charset(value: bytes) -> bool:
    try:
        charset_for(value.decode("ascii"), "")
    except (UnicodeDecodeError, UnknownCharset):
        return False
    return True


def read_header(raw: bytes, default_charset: str = "utf-8") -> Header:
    """Parse the MSH segment of one message; raise ``HeaderError(reason, field)`` if it is unusable.

    Unusable means the message cannot be read at all: no MSH, bad delimiters, missing or invalid MSH-9 or
    MSH-10, an MSH-12 naming an unknown version. An MSH-11 outside tables 0103/0207 or an empty MSH-12 does not
    stop reading: whether to accept them is the validation level's call (``validate.header_notes``), and a
    message the intake accepted must stay readable for mapping and routing.
    """
    header, error = scan_header(raw, default_charset)
    if error is not None and not (
        header is not None and error.code in (202, 203) and (not header.version or header.version in KNOWN_VERSIONS)
    ):
        raise error
    assert header is not None
    return header

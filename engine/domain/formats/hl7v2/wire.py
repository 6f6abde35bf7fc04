"""Bytes on the wire: split frames and files into messages, normalise segment ends, name the charset.

Everything here works on undecoded bytes. That is safe because every charset this engine accepts is
ASCII-compatible for the bytes that structure a message (``\\r``, ``\\n``, ``MSH``, the separators), and it
is fast: the intake must not decode or parse a message just to find where it starts and ends.
"""

from __future__ import annotations

import codecs
import re

from .errors import BatchError, UnknownCharset

__all__ = ["BOM", "canonical", "charset_for", "charset_name", "message_charset", "split_messages"]

BOM = b"\xef\xbb\xbf"
_ENVELOPE = frozenset((b"FHS", b"BHS", b"BTS", b"FTS"))
_LINE = re.compile(rb"[^\r\n]+")
# A line that looks like a segment: an ID of three capitals/digits, then a separator or nothing.
_SEGMENT = re.compile(rb"[A-Z][A-Z0-9]{2}(?:[^A-Za-z0-9\s]|\Z)")
_WS = b" \t\r\n\f\v"


def _has_trailer(data: bytes) -> bool:
    """A BTS/FTS among the last lines (one pass over a short tail, not over the message)."""
    tail = data[-96:]
    return b"\rBTS" in tail or b"\nBTS" in tail or b"\rFTS" in tail or b"\nFTS" in tail


def _is_header(line: bytes, name: bytes) -> bool:
    """``line`` is segment ``name`` followed by a field separator (or nothing)."""
    return line[:3] == name and (len(line) == 3 or not line[3:4].isalnum())


def split_messages(data: bytes) -> list[bytes]:
    """Cut one MLLP frame or one file into the raw bytes of each message it holds.

    Batch envelopes (FHS/BHS/BTS/FTS) are checked and dropped; blank lines, a leading BOM and text lines
    that are not segments between messages (comments some files carry) are skipped. Each slice runs from
    its ``MSH`` to the end of its last segment and is an exact sub-range of ``data``; a non-segment line
    inside a message (a field broken by a line feed) stays in it, so validation reports it.

    Raises ``BatchError`` when the input holds no MSH, has segments outside any message, or when
    BTS-1/FTS-1 counts contradict what was found.
    """
    start = 3 if data.startswith(BOM) else 0
    # Fast path: one message, no envelope, no second MSH. This is every MLLP frame in practice.
    if data.startswith(b"MSH", start) and data.count(b"MSH") == 1 and not _has_trailer(data):
        end = len(data.rstrip(_WS))
        if end == len(data) and start == 0:
            return [data]
        return [data[start:end]]
    return _split_slow(data, start)


def _split_slow(data: bytes, start: int) -> list[bytes]:
    messages: list[bytes] = []
    cur_start = -1  # start offset of the open message, -1 when none
    cur_end = 0  # end of its last segment line
    in_message_count = 0  # messages in the current (explicit or implicit) batch
    batch_open = False
    batches = 0  # batches closed or opened so far (implicit ones included)
    saw_fhs = saw_fts = False
    implicit_batch = False  # messages seen outside any BHS

    def close() -> None:
        nonlocal cur_start
        if cur_start >= 0:
            messages.append(data[cur_start:cur_end])
            cur_start = -1

    for m in _LINE.finditer(data, start):
        line = m.group()
        if not line.strip():
            continue
        if saw_fts:
            raise BatchError("data follows the FTS file trailer")
        head = line[:3]
        if _is_header(line, b"MSH"):
            close()
            cur_start, cur_end = m.start(), m.end()
            in_message_count += 1
            if not batch_open:
                implicit_batch = True
        elif head in _ENVELOPE and (len(line) == 3 or not line[3:4].isalnum()):
            close()
            fields = line.split(line[3:4]) if len(line) > 3 else [head]
            if head == b"FHS":
                if saw_fhs or messages or batches:
                    raise BatchError("FHS file header is not at the start of the file")
                saw_fhs = True
            elif head == b"BHS":
                if batch_open:
                    raise BatchError("BHS opens a batch before the previous batch was closed by BTS")
                if implicit_batch and in_message_count:
                    batches += 1  # messages before this BHS formed a batch of their own
                batch_open, implicit_batch, in_message_count = True, False, 0
                batches += 1
            elif head == b"BTS":
                _check_count(fields, "BTS-1", in_message_count, "messages in the batch")
                if not batch_open:
                    batches += 1  # a trailer without header closes an implicit batch
                batch_open, implicit_batch, in_message_count = False, False, 0
            else:  # FTS
                if implicit_batch and in_message_count:
                    batches += 1
                    implicit_batch = False
                _check_count(fields, "FTS-1", batches, "batches in the file")
                saw_fts = True
        elif _SEGMENT.match(line):
            if cur_start < 0:
                raise BatchError(f"segment {head.decode('ascii')} is outside any message (no MSH before it)")
            cur_end = m.end()
        # Other lines (comments, text) belong to a message only when one of its segments follows them.
    close()
    if not messages:
        raise BatchError("no MSH segment found" if data[start:].strip() else "no data")
    return messages


def _check_count(fields: list[bytes], name: str, found: int, what: str) -> None:
    raw = fields[1].split(b"^")[0].strip() if len(fields) > 1 else b""
    if not raw:
        return  # the count is optional
    if not raw.isdigit():
        raise BatchError(f"{name} is not a count")
    if int(raw) != found:
        raise BatchError(f"{name} says {int(raw)} but {found} {what} were found")


def canonical(raw: bytes) -> bytes:
    """The form destinations forward: no BOM, every segment ended by ``\\r``, no blank lines.

    Bytes are otherwise untouched (no decoding), so the journal's raw copy and the forwarded copy differ
    only in line ends.
    """
    if raw.startswith(BOM):
        raw = raw[3:]
    if not raw:
        return raw
    if b"\n" in raw:
        raw = raw.replace(b"\r\n", b"\r").replace(b"\n", b"\r")
    if b"\r\r" not in raw and raw[0] != 13 and b"\r " not in raw and b"\r\t" not in raw:
        return raw if raw[-1] == 13 else raw + b"\r"
    kept = [line for line in raw.split(b"\r") if line.strip()]
    return b"\r".join(kept) + b"\r" if kept else b""


# HL7 table 0211 plus spellings seen in the field, mapped to Python codecs. GB2312 and GBK are read as
# GB 18030, their superset: senders that declare GB2312 routinely send GBK-only characters.
_CHARSETS: dict[str, str] = {
    "ASCII": "ascii",
    "US-ASCII": "ascii",
    "8859/1": "iso8859-1",
    "8859/2": "iso8859-2",
    "8859/3": "iso8859-3",
    "8859/4": "iso8859-4",
    "8859/5": "iso8859-5",
    "8859/6": "iso8859-6",
    "8859/7": "iso8859-7",
    "8859/8": "iso8859-8",
    "8859/9": "iso8859-9",
    "8859/15": "iso8859-15",
    "ISO8859_1": "iso8859-1",
    "ISO-8859-1": "iso8859-1",
    "ISO8859-1": "iso8859-1",
    "UNICODE UTF-8": "utf-8",
    "UNICODE": "utf-8",  # Mindray analysers: means UTF-8 in practice
    "UTF-8": "utf-8",
    "UTF8": "utf-8",
    "GB 18030-2000": "gb18030",
    "GB18030": "gb18030",
    "GB 18030": "gb18030",
    "GBK": "gb18030",
    "GB2312": "gb18030",
    "GB 2312": "gb18030",
    "BIG-5": "big5",
    "BIG5": "big5",
    "KS X 1001": "euc_kr",
    "ISO IR14": "iso2022_jp",
    "ISO IR87": "iso2022_jp",
    "ISO IR159": "iso2022_jp_2",
}
# In table 0211 but not usable: not ASCII-compatible, so segments cannot be found in the bytes.
_UNSUPPORTED = {
    "UNICODE UTF-16": "is not ASCII-compatible",
    "UNICODE UTF-32": "is not ASCII-compatible",
    "CNS 11643-1992": "has no codec in this engine",
}


def charset_for(msh18: str, default: str) -> str:
    """Python codec for an MSH-18 value; ``default`` (the channel's setting) when MSH-18 is empty.

    Raises ``UnknownCharset`` for values outside HL7 table 0211 and its known aliases.
    """
    key = msh18.strip().upper()
    if not key:
        return default
    codec = _CHARSETS.get(key)
    if codec is not None:
        return codec
    key = " ".join(key.split())
    codec = _CHARSETS.get(key)
    if codec is not None:
        return codec
    if key in _UNSUPPORTED:
        raise UnknownCharset(msh18, f"MSH-18 character set {msh18.strip()!r} {_UNSUPPORTED[key]}")
    raise UnknownCharset(msh18.strip())


def message_charset(msh18: str, default: str, data: bytes) -> str:
    """The codec of one message: its MSH-18's; when MSH-18 is empty, the channel's default, unless the bytes are
    UTF-8 with characters beyond ASCII. A HIS configured for GB 18030 whose interface engine sends UTF-8 is common,
    and GB 18030 would read such bytes without an error, as the wrong characters; Chinese text in GB 18030 (or
    Latin-1) is almost never valid UTF-8, so valid UTF-8 is taken as what it is. Raises like ``charset_for``."""
    codec = charset_for(msh18, default)
    if msh18.strip() or data.isascii() or codec.lower().replace("-", "").replace("_", "") in ("utf8", "utf8sig"):
        return codec
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return codec
    return "utf-8"


def charset_name(codec: str) -> str:
    """The MSH-18 value (HL7 table 0211) for a codec, e.g. "GB 18030-2000" for gb18030; "" when it has none."""
    try:
        name = codecs.lookup(codec).name
    except LookupError:
        return ""
    return next((key for key, value in _CHARSETS.items() if codecs.lookup(value).name == name), "")

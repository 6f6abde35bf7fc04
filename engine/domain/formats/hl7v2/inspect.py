"""The one call the intake makes per message: can we accept it, and what do we answer?

``inspect`` reads the header from the bytes, picks the charset, decodes, runs the channel's validation
level and turns the outcome into an original-mode ACK code with one readable reason. It never raises
for bad input: every malformed message gets an answer (architecture invariant 5).
"""

from __future__ import annotations

from dataclasses import dataclass

from ._frozen import builder
from .errors import UnknownCharset
from .header import Header, scan_header
from .message import Message
from .validate import Problem, header_notes, notes_only, validate
from .wire import BOM, canonical, message_charset

__all__ = ["Inspection", "inspect"]

_LEVELS = ("basic", "strict")


@dataclass(frozen=True, slots=True)
class Inspection:
    """Outcome of inspecting one message.

    ``header`` is what could be read even when the message is refused (so the AR can echo MSH-10);
    ``text`` is the decoded message as received (BOM removed; ``message`` reads any line ends);
    ``reason`` is ``""`` for AA.
    """

    header: Header | None
    charset: str | None
    text: str | None
    problems: tuple[Problem, ...]
    ack_code: str  # "AA" | "AE" | "AR"
    reason: str
    message: Message | None = None  # the lazy accessor over ``text``, for the pipeline to reuse


_new = builder(Inspection)


def _refuse(header: Header | None, charset: str | None, problem: Problem) -> Inspection:
    return _new(header, charset, None, (problem,), "AR", problem.text, None)


def inspect(raw: bytes, *, default_charset: str, validation: str = "basic") -> Inspection:
    """Inspect one message (one slice from ``split_messages``) for the intake.

    AR: the message cannot be accepted at all (no or unusable MSH, unknown charset, undecodable bytes).
    AE: it is readable but its content breaks the rules of ``validation`` (``"basic"`` or ``"strict"``).
    AA: otherwise, also when ``basic`` found only harmless deviations (notes, severity ``W``, kept in
    ``problems`` with ``reason`` empty). ``default_charset`` is the channel's codec for messages with an empty
    MSH-18.
    """
    if validation not in _LEVELS:
        raise ValueError(f"validation must be 'basic' or 'strict', not {validation!r}")
    header, error = scan_header(raw, default_charset)
    notes: list[Problem] = []
    if error is not None and header is not None and error.code in (202, 203):
        tolerated = header_notes(header, validation)
        if tolerated is not None:
            error, notes = None, tolerated
    if error is not None or header is None:
        assert error is not None
        return _refuse(header, None, Problem(error.code, error.field, error.reason))
    body = raw[3:] if raw.startswith(BOM) else raw
    try:
        codec = message_charset(header.charset, default_charset, body)
    except UnknownCharset as exc:
        return _refuse(header, None, Problem(103, "MSH-18", exc.reason))
    try:
        # ASCII decodes the same in every ASCII-compatible codec, and much faster than gb18030's decoder
        text = body.decode("ascii") if body.isascii() and not codec.startswith("iso2022") else body.decode(codec)
    except UnicodeDecodeError as exc:
        before = body[: exc.start]
        segment = canonical(before).count(b"\r") + (1 if before[-1:] in (b"", b"\r", b"\n") else 0)
        return _refuse(header, codec, Problem(102, f"#{segment}", f"segment {segment} is not valid {codec} text"))
    except LookupError:
        return _refuse(header, None, Problem(207, "MSH-18", f"the channel's default charset {codec!r} is not a codec"))
    message = Message(text, header)
    problems = notes + validate(message, validation)
    if notes_only(problems):
        return _new(header, codec, text, tuple(problems), "AA", "", message)
    reason = problems[0].text
    if len(problems) > 1:
        reason += f" (and {len(problems) - 1} more)"
    return _new(header, codec, text, tuple(problems), "AE", reason, message)

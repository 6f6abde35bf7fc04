"""Intake: raw bytes from a source become journal entries and the ACK each one earns. No I/O here.

A frame or file may hold a batch; every message in it gets its own journal entry. A message the intake
rejects (AE/AR) is journaled too, with status ERROR and the reason, so nothing that arrived is lost.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from engine.domain.formats.hl7v2 import (
    BatchError,
    Inspection,
    Rules,
    build_ack,
    build_batch_ack,
    check_observations,
    inspect,
    split_messages,
)
from engine.domain.masking import mask_text
from engine.domain.outcome import MessageStatus
from engine.store.journal import JournalEntry

STORE_FAILED = "the message could not be stored; send it again later"
NOTED = "accepted with notes: "  # how an accepted message's error column starts when basic validation noted deviations


@dataclass(slots=True)
class Received:
    entry: JournalEntry
    inspection: Inspection | None  # None: nothing readable (an empty frame, a batch without messages)


def _rejected(channel: str, source: str, received_at: float, raw: bytes, reason: str) -> Received:
    entry = JournalEntry(channel, source, received_at, raw, status=MessageStatus.ERROR, error=reason)
    return Received(entry, None)


def receive(
    data: bytes,
    *,
    channel: str,
    source: str,
    received_at: float,
    default_charset: str,
    validation: str,
    profile: Rules | None = None,
) -> list[Received]:
    """One entry per message in `data` (a frame or a file), each with its inspection (and profile check)."""
    try:
        raws = split_messages(data)
    except BatchError as exc:
        return [_rejected(channel, source, received_at, data, mask_text(str(exc)))]
    out = []
    for raw in raws:
        try:
            found = _inspect(raw, default_charset, validation, profile)
        except Exception as exc:  # a checker's own bug must cost this message an AR, never the connection
            reason = f"the message could not be checked ({type(exc).__name__}: {mask_text(str(exc))})"
            out.append(_rejected(channel, source, received_at, raw, reason))
            continue
        header = found.header
        entry = JournalEntry(
            channel,
            source,
            received_at,
            raw,
            message_type=header.message_type if header else "",
            control_id=header.control_id if header else "",
            charset=found.charset,
            parsed=found.message,
        )
        if found.ack_code != "AA":
            entry.status = MessageStatus.ERROR
            entry.error = mask_text(found.reason)
        elif found.problems:  # accepted with notes (basic validation): the journal keeps them
            entry.error = NOTED + "; ".join(p.text for p in found.problems)
        out.append(Received(entry, found))
    return out


def _inspect(raw: bytes, default_charset: str, validation: str, profile: Rules | None) -> Inspection:
    found = inspect(raw, default_charset=default_charset, validation=validation)
    if profile and found.ack_code == "AA" and found.message is not None:
        broken = check_observations(found.message, profile)
        if broken:
            found = replace(found, problems=tuple(broken), ack_code="AE", reason=broken[0].text)
    return found


def too_large(head: bytes, size: int, limit: int, *, channel: str, source: str, received_at: float) -> Received:
    """A frame over the limit: journal its head with the reason, so the sender gets AR and the operator a trace."""
    reason = f"message of {size} bytes exceeds max_frame_bytes ({limit})"
    return _rejected(channel, source, received_at, head, reason)


def ack_bytes(items: list[Received], store_error: Exception | None, *, control_id: str, timestamp: str) -> bytes:
    """The answer to one frame: one ACK, or a batch of ACKs when the frame held several messages."""
    charset = items[0].inspection.charset if items[0].inspection and items[0].inspection.charset else "utf-8"
    acks = [
        _ack(item, store_error, f"{control_id}{i}" if len(items) > 1 else control_id, timestamp, charset)
        for i, item in enumerate(items)
    ]
    text = acks[0] if len(acks) == 1 else build_batch_ack(acks, timestamp=timestamp, control_id=control_id)
    return (text + "\r").encode(charset, "replace")  # every segment ends with CR, the last one too


def _ack(item: Received, store_error: Exception | None, control_id: str, timestamp: str, codec: str) -> str:
    found = item.inspection
    header = found.header if found else None
    if store_error is not None:
        return build_ack(header, "AE", control_id=control_id, timestamp=timestamp, text=STORE_FAILED, codec=codec)
    if found is None:
        text = item.entry.error or ""
        return build_ack(None, "AR", control_id=control_id, timestamp=timestamp, text=text, codec=codec)
    return build_ack(
        header,
        found.ack_code,
        control_id=control_id,
        timestamp=timestamp,
        problems=found.problems,
        text=mask_text(found.reason) if found.reason else "",
        codec=codec,
    )

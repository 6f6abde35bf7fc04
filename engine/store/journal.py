"""The journal: every received message, committed before it is acknowledged."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, bindparam, or_, select, tuple_, update

from engine.domain.outcome import MessageStatus
from engine.store.schema import message_keys, messages


def content_hash(raw: bytes) -> str:
    """Key for recognising a resend: same bytes, same hash (128-bit BLAKE2b, hex)."""
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


@dataclass(slots=True)
class JournalEntry:
    channel: str
    source: str
    received_at: float
    raw: bytes
    message_type: str = ""
    control_id: str = ""
    charset: str | None = None
    status: str = MessageStatus.RECEIVED
    error: str | None = None
    content_hash: str = field(default="")
    id: int | None = None

    def __post_init__(self) -> None:
        if not self.content_hash:
            self.content_hash = content_hash(self.raw)


def append(conn: Connection, entries: Sequence[JournalEntry], node: str) -> None:
    """Insert entries in one statement and set their ids (in order)."""
    rows = [
        {
            "channel": e.channel,
            "source": e.source,
            "received_at": e.received_at,
            "message_type": e.message_type[:32],
            "control_id": e.control_id[:64],
            "content_hash": e.content_hash,
            "charset": e.charset,
            "raw": e.raw,
            "status": e.status,
            "error": e.error,
            "node": node,
        }
        for e in entries
    ]
    stmt = messages.insert().returning(messages.c.id, sort_by_parameter_order=True)
    for entry, row in zip(entries, conn.execute(stmt, rows), strict=True):
        entry.id = row.id


def received(
    conn: Connection, channels: Sequence[str], *, node: str, older_than: float | None, limit: int
) -> list[JournalEntry]:
    """Messages not yet processed, oldest first: this node's own, and others' older than `older_than`.

    Rows are locked against other nodes on PostgreSQL (SKIP LOCKED), so two nodes never process one.
    """
    query = (
        select(messages)
        .where(messages.c.status == MessageStatus.RECEIVED, messages.c.channel.in_(channels))
        .order_by(messages.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if older_than is not None:
        query = query.where(or_(messages.c.node == node, messages.c.received_at < older_than))
    return [
        JournalEntry(
            channel=r.channel,
            source=r.source,
            received_at=r.received_at,
            raw=r.raw,
            message_type=r.message_type,
            control_id=r.control_id,
            charset=r.charset,
            status=r.status,
            error=r.error,
            content_hash=r.content_hash,
            id=r.id,
        )
        for r in conn.execute(query)
    ]


def claim_keys(conn: Connection, entries: Sequence[JournalEntry]) -> dict[int, int]:
    """Register each entry's duplicate key; return {entry id: id of the earlier message} for the duplicates."""
    keyed = [e for e in entries if e.control_id]
    if not keyed:
        return {}
    wanted = {(e.channel, e.control_id, e.content_hash) for e in keyed}
    existing = {
        (r.channel, r.control_id, r.content_hash): r.message_id
        for r in conn.execute(
            select(message_keys).where(
                tuple_(message_keys.c.channel, message_keys.c.control_id, message_keys.c.content_hash).in_(list(wanted))
            )
        )
    }
    duplicates: dict[int, int] = {}
    new_rows = []
    for e in keyed:
        key = (e.channel, e.control_id, e.content_hash)
        first = existing.get(key)
        if first is not None and first != e.id:
            duplicates[e.id] = first  # type: ignore[index]
        elif first is None:
            existing[key] = e.id  # type: ignore[assignment]
            new_rows.append(
                {"channel": e.channel, "control_id": e.control_id, "content_hash": e.content_hash, "message_id": e.id}
            )
    if new_rows:
        conn.execute(message_keys.insert(), new_rows)
    return duplicates


def set_outcomes(conn: Connection, outcomes: Sequence[dict[str, object]]) -> None:
    """Record each processed message's status (keys: id, status, error, duplicate_of, processed_at)."""
    if not outcomes:
        return
    stmt = (
        update(messages)
        .where(messages.c.id == bindparam("b_id"), messages.c.status == MessageStatus.RECEIVED)
        .values(
            status=bindparam("b_status"),
            error=bindparam("b_error"),
            duplicate_of=bindparam("b_duplicate_of"),
            processed_at=bindparam("b_processed_at"),
        )
    )
    conn.execute(stmt, [{"b_" + k: v for k, v in o.items()} for o in outcomes])


def reset_for_reprocess(conn: Connection, ids: Sequence[int]) -> int:
    """Put messages back to RECEIVED so the pipeline runs them again; returns how many."""
    if not ids:
        return 0
    result = conn.execute(
        update(messages)
        .where(messages.c.id.in_(ids), messages.c.status != MessageStatus.RECEIVED)
        .values(status=MessageStatus.RECEIVED, error=None, duplicate_of=None, processed_at=None)
    )
    return result.rowcount

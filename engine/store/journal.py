"""The journal: every received message, committed before it is acknowledged."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, bindparam, literal_column, or_, select, update

from engine.domain.formats.hl7v2 import Message
from engine.domain.outcome import MessageStatus
from engine.store import dbapi
from engine.store.schema import messages

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def storable(text: str, limit: int | None = None) -> str:
    """A value as a text column can hold it: control characters (PostgreSQL refuses NUL in text) as HL7 hex
    escapes, then cut to the column's length. The message's raw bytes keep the original."""
    text = _CONTROL.sub(lambda m: f"\\X{ord(m.group(0)):02X}\\", text)
    return text if limit is None else text[:limit]


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
    duplicate_of: int | None = None
    processed_at: float | None = None
    ack: bytes | None = None  # the answer the sender got, kept (stage "ack") when it was AE or AR
    parsed: Message | None = None  # the intake's accessor, so processing does not decode the message again

    def __post_init__(self) -> None:
        if not self.content_hash:
            self.content_hash = content_hash(self.raw)
        # What a sender put in MSH-9/MSH-10 must not cost the message (or its batch) its place in the journal.
        self.message_type = storable(self.message_type, 32)
        self.control_id = storable(self.control_id, 64)
        self.source = storable(self.source, 255)
        self.charset = None if self.charset is None else storable(self.charset, 32)


_INSERT = (
    "INSERT INTO messages (channel, source, received_at, message_type, control_id, content_hash, charset, raw,"
    " status, error, duplicate_of, processed_at, node) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def append(conn: Connection, entries: Sequence[JournalEntry], node: str) -> None:
    """Insert entries (with whatever status they carry) and set their ids, in order."""
    rows = [
        (
            e.channel,
            e.source,
            e.received_at,
            e.message_type,
            e.control_id,
            e.content_hash,
            e.charset,
            e.raw,
            e.status,
            None if e.error is None else storable(e.error),
            e.duplicate_of,
            e.processed_at,
            node,
        )
        for e in entries
    ]
    for entry, new_id in zip(entries, dbapi.insert_returning_ids(conn, _INSERT, rows), strict=True):
        entry.id = new_id
    dbapi.executemany(
        conn,
        "INSERT INTO content (message_id, stage, body) VALUES (?, 'ack', ?)",
        [(e.id, e.ack) for e in entries if e.ack is not None],
    )


def received(
    conn: Connection, channels: Sequence[str], *, node: str, older_than: float | None, limit: int
) -> list[JournalEntry]:
    """Messages not yet processed, oldest first: this node's own, and others' older than `older_than`.

    Rows are locked against other nodes on PostgreSQL (SKIP LOCKED), so two nodes never process one.
    """
    query = (
        select(messages)
        # a literal, so SQLite can use the partial index ix_messages_received
        .where(messages.c.status == literal_column(f"'{MessageStatus.RECEIVED}'"), messages.c.channel.in_(channels))
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


Key = tuple[str, str, str]  # (channel, control id, content hash)


def known_keys(conn: Connection, entries: Sequence[JournalEntry]) -> dict[Key, int]:
    """Duplicate keys already registered for these entries, with the message that owns each."""
    by_channel: dict[str, set[str]] = {}
    for e in entries:
        if e.control_id:
            by_channel.setdefault(e.channel, set()).add(e.control_id)
    found: dict[Key, int] = {}
    for channel, control_ids in by_channel.items():
        marks = ", ".join("?" * len(control_ids))
        query = (
            "SELECT channel, control_id, content_hash, message_id FROM message_keys"
            f" WHERE channel = ? AND control_id IN ({marks})"
        )
        found.update({(r[0], r[1], r[2]): r[3] for r in dbapi.fetchall(conn, query, [channel, *sorted(control_ids)])})
    return found


def register_keys(conn: Connection, owners: Sequence[JournalEntry]) -> None:
    """Make these entries the owners of their duplicate keys (the first message with that content)."""
    dbapi.executemany(
        conn,
        "INSERT INTO message_keys (channel, control_id, content_hash, message_id) VALUES (?, ?, ?, ?)",
        [(e.channel, e.control_id, e.content_hash, e.id) for e in owners],
    )


def point_duplicates(conn: Connection, pairs: Sequence[tuple[int, int]]) -> None:
    """Set duplicate_of for (duplicate id, original id) pairs found inside one batch (rare)."""
    dbapi.executemany(conn, "UPDATE messages SET duplicate_of = ? WHERE id = ?", [(o, d) for d, o in pairs])


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

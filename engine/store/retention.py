"""Pruning the journal (docs/retention.md): old messages lose their content, then their rows, in small batches.

Only messages whose every delivery is done (not QUEUED, not ERROR) and which have been processed are touched: what a
destination still waits for is never pruned, however old.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from engine.store import dbapi, message_text

PRUNED = b""  # the raw message of a journal row whose content was pruned


def _marks(ids: Sequence[int]) -> str:
    return ", ".join("?" * len(ids))


_DONE = (
    "m.channel = ? AND m.received_at >= ? AND m.received_at < ? AND m.status != 'RECEIVED'"
    " AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = m.id AND o.status IN ('QUEUED', 'ERROR'))"
)


def prunable(
    conn: Connection, channel: str, since: float, before: float, *, with_content: bool, limit: int
) -> list[int]:
    """The channel's messages received in [since, before) that may be pruned (with raw content still there, when
    `with_content`), oldest first."""
    query = f"SELECT m.id FROM messages m WHERE {_DONE}" + (" AND length(m.raw) > 0" if with_content else "")
    return [row[0] for row in dbapi.fetchall(conn, query + " ORDER BY m.id LIMIT ?", [channel, since, before, limit])]


def count_prunable(conn: Connection, channel: str, since: float, before: float, *, with_content: bool) -> int:
    query = f"SELECT COUNT(*) FROM messages m WHERE {_DONE}" + (" AND length(m.raw) > 0" if with_content else "")
    return int(dbapi.fetchall(conn, query, [channel, since, before])[0][0])


def drop_content(conn: Connection, ids: Sequence[int]) -> None:
    """The raw messages (and their text in the search index), their stored stages (ACK, what was sent) and the
    destinations' answers; the rows stay."""
    if not ids:
        return
    message_text.drop(conn, ids)
    dbapi.executemany(conn, f"DELETE FROM content WHERE message_id IN ({_marks(ids)})", [list(ids)])
    dbapi.executemany(conn, f"UPDATE outbox SET response = NULL WHERE message_id IN ({_marks(ids)})", [list(ids)])
    dbapi.executemany(conn, f"UPDATE messages SET raw = ? WHERE id IN ({_marks(ids)})", [[PRUNED, *ids]])


def drop_messages(conn: Connection, ids: Sequence[int]) -> None:
    """The journal rows themselves, with their deliveries, content, indexed text and duplicate-detection keys."""
    if not ids:
        return
    message_text.drop(conn, ids)
    for table in ("content", "outbox", "message_keys"):
        dbapi.executemany(conn, f"DELETE FROM {table} WHERE message_id IN ({_marks(ids)})", [list(ids)])
    dbapi.executemany(conn, f"DELETE FROM messages WHERE id IN ({_marks(ids)})", [list(ids)])

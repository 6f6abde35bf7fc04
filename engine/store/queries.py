"""Read-side queries for the CLI: what happened to each message, per channel totals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, func, select

from engine.domain.outcome import DeliveryStatus, MessageStatus
from engine.store.schema import content, messages, outbox


@dataclass
class DeliveryView:
    name: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: float | None
    sent_at: float | None
    response: bytes | None = None


@dataclass
class MessageView:
    id: int
    channel: str
    source: str
    received_at: float
    message_type: str
    control_id: str
    status: str
    error: str | None
    charset: str | None
    duplicate_of: int | None
    destinations: list[DeliveryView] = field(default_factory=list)
    raw: bytes | None = None
    content: dict[str, bytes] = field(default_factory=dict)


def find_ids(
    conn: Connection,
    *,
    channel: str | None = None,
    status: str | None = None,
    since: float | None = None,
    until: float | None = None,
    limit: int | None = None,
    newest_first: bool = True,
) -> list[int]:
    query = select(messages.c.id)
    if channel:
        query = query.where(messages.c.channel == channel)
    if status:
        query = query.where(messages.c.status == status)
    if since is not None:
        query = query.where(messages.c.received_at >= since)
    if until is not None:
        query = query.where(messages.c.received_at < until)
    query = query.order_by(messages.c.id.desc() if newest_first else messages.c.id)
    if limit:
        query = query.limit(limit)
    return [r.id for r in conn.execute(query)]


def dead_message_ids(conn: Connection, channel: str | None = None) -> list[int]:
    query = select(outbox.c.message_id).where(outbox.c.status == DeliveryStatus.DEAD).distinct()
    if channel:
        query = query.where(outbox.c.channel == channel)
    return sorted(r.message_id for r in conn.execute(query))


def messages_by_id(conn: Connection, ids: Sequence[int], *, with_content: bool = False) -> list[MessageView]:
    if not ids:
        return []
    columns = [c for c in messages.c if with_content or c.name != "raw"]
    views = {
        r.id: MessageView(
            r.id,
            r.channel,
            r.source,
            r.received_at,
            r.message_type,
            r.control_id,
            r.status,
            r.error,
            r.charset,
            r.duplicate_of,
            raw=r.raw if with_content else None,
        )
        for r in conn.execute(select(*columns).where(messages.c.id.in_(ids)))
    }
    deliveries = select(outbox).where(outbox.c.message_id.in_(ids)).order_by(outbox.c.id)
    for r in conn.execute(deliveries):
        views[r.message_id].destinations.append(
            DeliveryView(
                r.destination,
                r.status,
                r.attempts,
                r.last_error,
                r.next_attempt_at if r.status in (DeliveryStatus.QUEUED, DeliveryStatus.ERROR) else None,
                r.sent_at,
                r.response if with_content else None,
            )
        )
    if with_content:
        for r in conn.execute(select(content).where(content.c.message_id.in_(ids))):
            views[r.message_id].content[r.stage] = r.body
    return [views[i] for i in ids if i in views]


MESSAGE_COUNTS: dict[str, str | None] = {
    "received": None,
    "processed": MessageStatus.PROCESSED,
    "filtered": MessageStatus.FILTERED,
    "errored": MessageStatus.ERROR,
    "duplicates": MessageStatus.DUPLICATE,
    "pending": MessageStatus.RECEIVED,
}
DELIVERY_COUNTS: dict[str, str] = {
    "queued": DeliveryStatus.QUEUED,
    "retrying": DeliveryStatus.ERROR,
    "sent": DeliveryStatus.SENT,
    "dead": DeliveryStatus.DEAD,
    "skipped": DeliveryStatus.SKIPPED,
}


def stats(conn: Connection) -> dict[str, dict[str, int]]:
    """Per channel: messages by status and deliveries by status."""
    out: dict[str, dict[str, int]] = {}

    def row(channel: str) -> dict[str, int]:
        return out.setdefault(channel, dict.fromkeys([*MESSAGE_COUNTS, *DELIVERY_COUNTS], 0))

    for r in conn.execute(
        select(messages.c.channel, messages.c.status, func.count()).group_by(messages.c.channel, messages.c.status)
    ):
        counts = row(r[0])
        counts["received"] += r[2]
        for key, status in MESSAGE_COUNTS.items():
            if status == r[1]:
                counts[key] += r[2]
    for r in conn.execute(
        select(outbox.c.channel, outbox.c.status, func.count()).group_by(outbox.c.channel, outbox.c.status)
    ):
        counts = row(r[0])
        for key, delivery_status in DELIVERY_COUNTS.items():
            if delivery_status == r[1]:
                counts[key] += r[2]
    return dict(sorted(out.items()))

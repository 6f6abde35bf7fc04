"""What monitoring reads from the store at scrape or alert time: per destination, its queue and dead letters; per
channel, its last message and its errors in a window. Each is an index range (ix_outbox_due,
ix_messages_channel_received_at) over the rows that count, never a scan of the journal or the outbox."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, select, text

from engine.domain.outcome import PENDING_DELIVERY, DeliveryStatus, MessageStatus
from engine.store.schema import messages, outbox


@dataclass(frozen=True, slots=True)
class Queue:
    depth: int  # QUEUED or ERROR (waiting for a retry)
    oldest: float | None  # when the oldest of them was queued (epoch seconds)
    dead: int


def queue(conn: Connection, channel: str, destination: str) -> Queue:
    c = outbox.c
    mine = (c.channel == channel, c.destination == destination)
    pending = conn.execute(
        select(func.count(), func.min(c.created_at)).where(*mine, c.status.in_(PENDING_DELIVERY))
    ).one()
    dead = conn.execute(select(func.count()).where(*mine, c.status == DeliveryStatus.DEAD)).scalar_one()
    return Queue(int(pending[0]), pending[1], int(dead))


def last_received(conn: Connection, channel: str) -> float | None:
    """When the channel's newest message arrived (None: never)."""
    c = messages.c
    return conn.execute(select(func.max(c.received_at)).where(c.channel == channel)).scalar_one()  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class Window:
    received: int
    errors: int  # refused at intake or not routable (status ERROR)


def window(conn: Connection, channel: str, since: float) -> Window:
    c = messages.c
    row = conn.execute(
        select(func.count(), func.count().filter(c.status == MessageStatus.ERROR)).where(
            c.channel == channel, c.received_at >= since
        )
    ).one()
    return Window(int(row[0]), int(row[1]))


def answers(conn: Connection) -> None:
    """Raises unless the store answers a query."""
    conn.execute(text("SELECT 1")).one()

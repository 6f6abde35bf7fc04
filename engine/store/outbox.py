"""Per-destination outbox: at-least-once delivery, one row per (message, destination).

Rows are leased while a node sends them, so several nodes on one PostgreSQL never send the same row at
once. A lease is short and renewed while its batch is worked on, so a crashed node's leases run out soon
and another node takes the rows; a node whose lease lapsed anyway (it stalled) finds the rows no longer
held when it comes to record them, and leaves them to the new holder. With `ordered`, a row waits while an
earlier row for the same person (order key) is still pending, so a destination sees each person's messages in
order, whichever node sends them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, and_, bindparam, func, or_, select, update

from engine.domain.delivery import Delivery, Result
from engine.domain.outcome import PENDING_DELIVERY, DeliveryStatus
from engine.store import dbapi
from engine.store.schema import messages, outbox


class Queued(NamedTuple):
    message_id: int
    channel: str
    destination: str
    order_key: str | None


def enqueue(conn: Connection, rows: Sequence[Queued], now: float) -> None:
    """Queue deliveries, due now. A row that exists already (a reprocessed message) is left as it is."""
    dbapi.executemany(
        conn,
        "INSERT INTO outbox (message_id, channel, destination, status, attempts, next_attempt_at, order_key,"
        " created_at) VALUES (?, ?, ?, 'QUEUED', 0, ?, ?, ?) ON CONFLICT DO NOTHING",
        [(r.message_id, r.channel, r.destination, now, r.order_key, now) for r in rows],
    )


def claim(
    conn: Connection,
    channel: str,
    destination: str,
    *,
    node: str,
    now: float,
    lease: float,
    limit: int,
    ordered: bool,
) -> list[Delivery]:
    """Lease up to `limit` due rows, oldest first. Ordered: of each person only the run of due rows that starts at
    their earliest pending one (a row waiting for a retry, or leased elsewhere, ends the run)."""
    o = outbox.c
    due = and_(
        o.channel == channel,
        o.destination == destination,
        o.status.in_(PENDING_DELIVERY),
        o.next_attempt_at <= now,
        or_(o.lease_until.is_(None), o.lease_until < now),
    )
    found = conn.execute(
        select(o.id, o.order_key).where(due).order_by(o.id).limit(limit).with_for_update(skip_locked=True)
    ).all()
    ids = [r.id for r in found] if not ordered else _runs(conn, channel, destination, found)
    if not ids:
        return []
    conn.execute(update(outbox).where(o.id.in_(ids)).values(lease_until=now + lease, leased_by=node))
    query = (
        select(
            o.id,
            o.message_id,
            o.channel,
            o.destination,
            o.status,
            o.attempts,
            messages.c.raw,
            messages.c.message_type,
            messages.c.control_id,
            messages.c.charset,
            o.order_key,
        )
        .join(messages, messages.c.id == o.message_id)
        .where(o.id.in_(ids))
        .order_by(o.id)
    )
    return [Delivery(*tuple(row)) for row in conn.execute(query)]


def _runs(conn: Connection, channel: str, destination: str, found: Sequence[Any]) -> list[int]:
    """Of the due rows found, those without a person and, per person, the run from their earliest pending row."""
    due = {r.id for r in found}
    keys = sorted({r.order_key for r in found if r.order_key is not None})
    ids = [r.id for r in found if r.order_key is None]
    if keys:
        last = max(r.id for r in found)
        marks = ", ".join("?" * len(keys))
        pending = dbapi.fetchall(
            conn,
            "SELECT order_key, id FROM outbox WHERE channel = ? AND destination = ? AND order_key IS NOT NULL"
            f" AND status IN ('QUEUED', 'ERROR') AND order_key IN ({marks}) AND id <= ? ORDER BY order_key, id",
            [channel, destination, *keys, last],
        )
        blocked: set[str] = set()
        for key, row_id in pending:
            if key in blocked:
                continue
            if row_id in due:
                ids.append(row_id)
            else:
                blocked.add(key)  # not due, or leased: this person's later rows wait for it
    return sorted(ids)


def renew_leases(conn: Connection, ids: Sequence[int], node: str, until: float) -> int:
    """Extend the leases this node still holds on these rows (not those another node has taken since)."""
    o = outbox.c
    return conn.execute(update(outbox).where(o.id.in_(ids), o.leased_by == node).values(lease_until=until)).rowcount


def held(conn: Connection, ids: Sequence[int], node: str) -> set[int]:
    """Of these rows, those still leased by this node, locked until the transaction ends (PostgreSQL), so no
    other node can take them while their results are written."""
    if not ids:
        return set()
    o = outbox.c
    query = select(o.id).where(o.id.in_(ids), o.leased_by == node).with_for_update()
    return set(conn.execute(query).scalars())


def record(conn: Connection, results: Sequence[Result]) -> None:
    """Store the outcome of each attempt and release its lease."""
    if not results:
        return
    stmt = (
        update(outbox)
        .where(outbox.c.id == bindparam("r_id"))
        .values(
            status=bindparam("r_status"),
            attempts=bindparam("r_attempts"),
            next_attempt_at=bindparam("r_next"),
            last_error=bindparam("r_error"),
            response=bindparam("r_response"),
            sent_at=bindparam("r_sent_at"),
            lease_until=None,
            leased_by=None,
        )
    )
    conn.execute(
        stmt,
        [
            {
                "r_id": r.id,
                "r_status": r.status,
                "r_attempts": r.attempts,
                "r_next": r.next_attempt_at,
                "r_error": r.error,
                "r_response": r.response,
                "r_sent_at": r.sent_at,
            }
            for r in results
        ],
    )


def next_due(conn: Connection, channel: str, destination: str) -> float | None:
    """When the earliest pending row of a destination becomes due (None if nothing is pending)."""
    return conn.execute(
        select(func.min(outbox.c.next_attempt_at)).where(
            outbox.c.channel == channel,
            outbox.c.destination == destination,
            outbox.c.status.in_(PENDING_DELIVERY),
        )
    ).scalar()


def release_leases(conn: Connection, node: str, channel: str | None = None, destination: str | None = None) -> int:
    """Drop the leases a node holds: of all its rows when it starts again after a crash, or of one destination's
    rows when a delivery round of that node failed and their results were never recorded."""
    o = outbox.c
    where = [o.leased_by == node]
    if channel is not None and destination is not None:
        where += [o.channel == channel, o.destination == destination]
    return conn.execute(update(outbox).where(*where).values(lease_until=None, leased_by=None)).rowcount


def requeue(conn: Connection, message_ids: Sequence[int], now: float, destination: str | None = None) -> int:
    """Queue again every delivery of these messages that was not SENT (to ``destination`` only, if given);
    attempts start over."""
    if not message_ids:
        return 0
    query = update(outbox).where(outbox.c.message_id.in_(message_ids), outbox.c.status != DeliveryStatus.SENT)
    if destination is not None:
        query = query.where(outbox.c.destination == destination)
    return conn.execute(
        query.values(
            status=DeliveryStatus.QUEUED,
            attempts=0,
            next_attempt_at=now,
            lease_until=None,
            leased_by=None,
            last_error=None,
        )
    ).rowcount


# -- a node's run (a backfill): its channel's deliveries from a message id on -----------------------------------
def _of_node(channel: str, node: str, first_id: int) -> Any:
    o = outbox.c
    return and_(o.channel == channel, o.message_id >= first_id, messages.c.node == node)


def node_pending(conn: Connection, channel: str, node: str, first_id: int, due_by: float | None = None) -> int:
    """Deliveries of the node's messages still to do (those due by ``due_by``, if given)."""
    o = outbox.c
    query = (
        select(func.count())
        .select_from(outbox.join(messages, messages.c.id == o.message_id))
        .where(_of_node(channel, node, first_id), o.status.in_(PENDING_DELIVERY))
    )
    if due_by is not None:
        query = query.where(o.next_attempt_at <= due_by)
    return int(conn.execute(query).scalar_one())


def node_statuses(conn: Connection, channel: str, node: str, first_id: int) -> dict[str, int]:
    o = outbox.c
    rows = conn.execute(
        select(o.status, func.count())
        .select_from(outbox.join(messages, messages.c.id == o.message_id))
        .where(_of_node(channel, node, first_id))
        .group_by(o.status)
    )
    return {status: int(n) for status, n in rows}


def node_unsent(conn: Connection, channel: str, node: str, first_id: int) -> Iterator[Any]:
    """(status, destination, last error, message source) of each delivery not SENT, streamed in id order (an
    archive may leave millions SKIPPED)."""
    o = outbox.c
    rows = conn.execute(
        select(o.status, o.destination, o.last_error, messages.c.source)
        .select_from(outbox.join(messages, messages.c.id == o.message_id))
        .where(_of_node(channel, node, first_id), o.status != DeliveryStatus.SENT)
        .order_by(o.id)
        .execution_options(yield_per=1000)
    )
    yield from rows

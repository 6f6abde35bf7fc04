"""Read-side queries for the CLI and the management API: what happened to each message, per channel totals, the
queues of each destination, traffic per minute."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Connection, Select, cast, func, or_, select

from engine.domain.outcome import PENDING_DELIVERY, DeliveryStatus, MessageStatus
from engine.store import message_text
from engine.store.schema import content, messages, outbox, record_links, record_resources, record_versions


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


def id_query(
    conn: Connection,
    *,
    channel: str | None = None,
    status: str | None = None,
    since: float | None = None,
    until: float | None = None,
    message_type: str | None = None,
    control_id: str | None = None,
    among: Sequence[int] | None = None,
    containing: Sequence[bytes] = (),
    text: str | None = None,
    unindexed: bool = False,
    limit: int | None = None,
    offset: int = 0,
    newest_first: bool = True,
) -> Select[tuple[int]]:
    """The ids of the messages matching every filter given. ``among``: only these ids (a person's messages);
    ``containing``: the raw message holds any of these byte strings (one text in each charset the sources use), a
    LIKE over the journal that scans the rows the other filters leave, so the caller bounds it with ``limit``;
    ``text``: the message's text holds it, looked up in the text index (message_text: MIN_TERM characters or
    more)."""
    query = select(messages.c.id)
    order: ColumnElement[int] = messages.c.id
    if text:
        index, indexed_id, holds = message_text.matches(conn, text)
        # ordered by the index's own id: SQLite's FTS5 then yields the newest matches first and stops at the page
        query, order = query.join_from(messages, index, indexed_id == messages.c.id).where(holds), indexed_id
    if channel:
        query = query.where(messages.c.channel == channel)
    if status:
        query = query.where(messages.c.status == status)
    if since is not None:
        query = query.where(messages.c.received_at >= since)
    if until is not None:
        query = query.where(messages.c.received_at < until)
    if message_type:  # ADT matches ADT^A01; ADT^A01 only itself
        query = query.where(
            or_(
                messages.c.message_type == message_type,
                messages.c.message_type.startswith(message_type + "^", autoescape=True),
            )
        )
    if control_id:
        query = query.where(messages.c.control_id == control_id)
    if among is not None:
        query = query.where(messages.c.id.in_(list(among)))
    if containing:
        query = query.where(or_(*(_holds(conn, each) for each in containing)))
    if unindexed:
        query = query.where(message_text.unindexed(conn))
    query = query.order_by(order.desc() if newest_first else order)
    if limit:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    return query


def find_ids(conn: Connection, **filters: Any) -> list[int]:
    """Message ids matching every filter given (id_query's), newest first unless ``newest_first=False``. With a
    ``text``: what the index finds, and what the messages it does not hold yet hold (journaled since it last caught
    up: few, read and decoded here, so they match as the index would)."""
    text = filters.get("text")
    if not text:
        return [r.id for r in conn.execute(id_query(conn, **filters))]
    limit, offset, newest = filters.pop("limit", None), filters.pop("offset", 0), filters.get("newest_first", True)
    found = [r.id for r in conn.execute(id_query(conn, **filters, limit=limit + offset if limit else None))]
    recent = id_query(conn, **(filters | {"text": None}), unindexed=True)
    # streamed: right after the upgrade to migration 0015 that is the whole journal, until the daemon has indexed it
    recent = recent.with_only_columns(messages.c.id, messages.c.raw, messages.c.charset).execution_options(
        stream_results=True, yield_per=500
    )
    found += [r.id for r in conn.execute(recent) if r.raw and text in message_text.searchable(r.raw, r.charset)]
    found.sort(reverse=newest)
    return found[offset : offset + limit if limit else None]


def _holds(conn: Connection, part: bytes) -> ColumnElement[bool]:
    """The raw message holds these bytes: instr on SQLite (its LIKE reads the bytes as UTF-8, which a GB18030
    message is not), a bytea LIKE on PostgreSQL."""
    if conn.dialect.name == "sqlite":
        return func.instr(messages.c.raw, part) > 0
    literal = part.replace(b"\\", b"\\\\").replace(b"%", b"\\%").replace(b"_", b"\\_")  # LIKE's own escape, \\
    return messages.c.raw.op("LIKE", is_comparison=True)(b"%" + literal + b"%")


def person_message_ids(conn: Connection, persons: Sequence[str]) -> list[int]:
    """The messages whose facts reached these persons' records (each version's message and each further source's)."""
    resources = select(record_resources.c.id).where(record_resources.c.person_id.in_(list(persons)))
    said = select(record_versions.c.message_id).where(record_versions.c.resource_id.in_(resources))
    linked = select(record_links.c.message_id).where(record_links.c.resource_id.in_(resources))
    return sorted({r[0] for r in conn.execute(said.union(linked)) if r[0] is not None})


def dead_message_ids(conn: Connection, channel: str | None = None, destination: str | None = None) -> list[int]:
    query = select(outbox.c.message_id).where(outbox.c.status == DeliveryStatus.DEAD).distinct()
    if channel:
        query = query.where(outbox.c.channel == channel)
    if destination:
        query = query.where(outbox.c.destination == destination)
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


# The dashboard asks for these on every load, so each is counted from an index that holds its columns (the journal's
# rows are 1-2 KB each; reading them made the count of a million messages take seconds): messages by
# ix_messages_channel_status, deliveries in the order of ix_outbox_due (channel, destination, status, ...), so the
# grouping needs no sort of its own.
MESSAGES_BY_STATUS = select(messages.c.channel, messages.c.status, func.count()).group_by(
    messages.c.channel, messages.c.status
)
DELIVERIES_BY_STATUS = select(outbox.c.channel, outbox.c.status, func.count()).group_by(
    outbox.c.channel, outbox.c.destination, outbox.c.status
)


def stats(conn: Connection) -> dict[str, dict[str, int]]:
    """Per channel: messages by status and deliveries by status."""
    out: dict[str, dict[str, int]] = {}

    def row(channel: str) -> dict[str, int]:
        return out.setdefault(channel, dict.fromkeys([*MESSAGE_COUNTS, *DELIVERY_COUNTS], 0))

    for r in conn.execute(MESSAGES_BY_STATUS):
        counts = row(r[0])
        counts["received"] += r[2]
        for key, status in MESSAGE_COUNTS.items():
            if status == r[1]:
                counts[key] += r[2]
    for r in conn.execute(DELIVERIES_BY_STATUS):  # one row per destination: its counts add up per channel
        counts = row(r[0])
        for key, delivery_status in DELIVERY_COUNTS.items():
            if delivery_status == r[1]:
                counts[key] += r[2]
    return dict(sorted(out.items()))


@dataclass(frozen=True, slots=True)
class Queue:
    """One destination's outbox: what waits (queued or retrying), since when, and what is dead."""

    channel: str
    destination: str
    waiting: int
    oldest: float | None  # created_at of the oldest waiting row
    dead: int


def queues(conn: Connection) -> list[Queue]:
    """Every destination that has waiting or dead rows, by channel and destination."""
    found: dict[tuple[str, str], list[int | float | None]] = {}
    counted = (
        select(outbox.c.channel, outbox.c.destination, outbox.c.status, func.count(), func.min(outbox.c.created_at))
        .where(outbox.c.status.in_([*PENDING_DELIVERY, DeliveryStatus.DEAD]))
        .group_by(outbox.c.channel, outbox.c.destination, outbox.c.status)
    )
    for channel, destination, status, count, oldest in conn.execute(counted):
        row = found.setdefault((channel, destination), [0, None, 0])
        if status == DeliveryStatus.DEAD:
            row[2] = count
        else:
            row[0] = int(row[0] or 0) + count
            row[1] = oldest if row[1] is None else min(float(row[1]), oldest)
    return [
        Queue(channel, destination, int(w or 0), None if o is None else float(o), int(d or 0))
        for (channel, destination), (w, o, d) in sorted(found.items())
    ]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    message_id: int
    channel: str
    destination: str
    attempts: int
    last_error: str | None
    created_at: float


def dead_letters(
    conn: Connection, *, channel: str | None = None, destination: str | None = None, limit: int, offset: int = 0
) -> list[DeadLetter]:
    """DEAD deliveries, newest first."""
    query = select(
        outbox.c.message_id,
        outbox.c.channel,
        outbox.c.destination,
        outbox.c.attempts,
        outbox.c.last_error,
        outbox.c.created_at,
    ).where(outbox.c.status == DeliveryStatus.DEAD)
    if channel:
        query = query.where(outbox.c.channel == channel)
    if destination:
        query = query.where(outbox.c.destination == destination)
    rows = conn.execute(query.order_by(outbox.c.id.desc()).limit(limit).offset(offset))
    return [DeadLetter(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]


def per_minute(conn: Connection, channel: str, since: float) -> dict[int, dict[str, int]]:
    """One channel's messages from ``since`` on, counted per minute (epoch minute) and status."""
    minute: ColumnElement[int]
    if conn.dialect.name == "sqlite":  # SQLite's CAST truncates; PostgreSQL's rounds, so it floors first
        minute = cast(messages.c.received_at / 60, BigInteger)
    else:
        minute = cast(func.floor(messages.c.received_at / 60), BigInteger)
    counted = (
        select(minute, messages.c.status, func.count())
        .where(messages.c.channel == channel, messages.c.received_at >= since)
        .group_by(minute, messages.c.status)
    )
    out: dict[int, dict[str, int]] = {}
    for at, status, count in conn.execute(counted):
        out.setdefault(int(at), {})[status] = int(count)
    return out


@dataclass(frozen=True, slots=True)
class Last:
    """A channel's newest message: when, from where (peer or file), and its id."""

    message_id: int
    received_at: float
    source: str


def last_message(conn: Connection, channel: str) -> Last | None:
    row = conn.execute(
        select(messages.c.id, messages.c.received_at, messages.c.source)
        .where(messages.c.channel == channel)
        .order_by(messages.c.received_at.desc())
        .limit(1)
    ).first()
    return None if row is None else Last(row[0], row[1], row[2])


def nodes(conn: Connection, channels: Sequence[str], since: float) -> dict[str, float]:
    """The engine nodes that journaled messages of these channels from ``since`` on, each with its latest."""
    out: dict[str, float] = {}
    for channel in channels:  # one channel at a time: each query walks its (channel, received_at) index range
        query = (
            select(messages.c.node, func.max(messages.c.received_at))
            .where(messages.c.channel == channel, messages.c.received_at >= since, messages.c.node.is_not(None))
            .group_by(messages.c.node)
        )
        for node, at in conn.execute(query):
            out[node] = max(out.get(node, 0.0), float(at))
    return dict(sorted(out.items()))

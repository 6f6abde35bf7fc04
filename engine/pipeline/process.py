"""The processing stage: duplicate check → filter → routes → outbox rows, for a batch of journal entries.

Routing by message type is cheap and pure, so the store writer runs it inside the intake transaction: a message
is inserted with its final status and its deliveries, in the same commit that makes it durable, before the ACK.
Messages put back to RECEIVED (reprocessing, or a channel that was not running) take the same decisions later,
through `process_received`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import orjson
from sqlalchemy import Connection

from engine.domain.contract.push import ORDER_TAG_SYSTEM
from engine.domain.formats.hl7v2 import Message, read_header
from engine.domain.masking import mask_text
from engine.domain.outcome import MessageStatus
from engine.domain.routing import ChannelRoutes, decide
from engine.store import journal, outbox
from engine.store.journal import JournalEntry
from engine.store.outbox import Queued

Woken = set[tuple[str, str]]


def person_key(entry: JournalEntry) -> str | None:
    """A stable, non-identifying key for the patient of a message (hash of PID-3 id + assigning authority).

    The engine's own JSON and FHIR change messages (care_events.py) carry theirs: ``order_key``, or a Bundle's
    ``meta.tag`` in the order-key system.
    """
    if entry.raw[:1] == b"{":
        return _carried_key(entry.raw)
    message = entry.parsed
    if message is None:  # journaled earlier (reprocessing): read it again, in the charset it arrived in
        charset = entry.charset or "utf-8"
        message = Message(entry.raw.decode(charset, "replace"), read_header(entry.raw, charset))
    pid = message.get("PID-3.1")
    if not pid:
        return None
    authority = message.get("PID-3.4")
    return hashlib.blake2b(f"{pid}^{authority}".encode(), digest_size=12).hexdigest()


def _carried_key(raw: bytes) -> str | None:
    data = orjson.loads(raw)
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("order_key"), str):
        return str(data["order_key"])
    tags = (data.get("meta") or {}).get("tag") or []
    return next((str(t["code"]) for t in tags if isinstance(t, dict) and t.get("system") == ORDER_TAG_SYSTEM), None)


def _route(entry: JournalEntry, channel: ChannelRoutes, now: float) -> list[tuple[str, str | None]]:
    """Set the entry's status; return its (destination, order key) deliveries."""
    entry.processed_at = now
    decision = decide(channel, entry.message_type)
    if decision.filtered:
        entry.status, entry.error = MessageStatus.FILTERED, decision.reason
        return []
    try:
        key = person_key(entry) if any(r.ordered for r in decision.routes) else None
    except Exception as exc:  # accepted by the intake, yet its PID-3 cannot be read
        entry.status, entry.error = MessageStatus.ERROR, mask_text(f"cannot read PID-3 for ordering: {exc}")
        return []
    entry.status = MessageStatus.PROCESSED
    return [(r.destination, key if r.ordered else None) for r in decision.routes]


def _decide_all(
    conn: Connection, entries: Sequence[JournalEntry], channels: Mapping[str, ChannelRoutes], now: float
) -> tuple[list[JournalEntry], list[tuple[JournalEntry, JournalEntry]], list[tuple[JournalEntry, str, str | None]]]:
    """Statuses for RECEIVED entries: (key owners, in-batch duplicates (dup, first), deliveries)."""
    known = journal.known_keys(conn, entries)
    first_in_batch: dict[journal.Key, JournalEntry] = {}
    owners: list[JournalEntry] = []
    batch_duplicates: list[tuple[JournalEntry, JournalEntry]] = []
    deliveries: list[tuple[JournalEntry, str, str | None]] = []
    for entry in entries:
        channel = channels.get(entry.channel)
        if entry.status != MessageStatus.RECEIVED or channel is None:
            continue  # rejected at intake, or its channel is not running here: stays for later
        key = (entry.channel, entry.control_id, entry.content_hash)
        if entry.control_id:
            earlier = known.get(key)
            if earlier is not None and earlier != entry.id:
                entry.status, entry.duplicate_of, entry.processed_at = MessageStatus.DUPLICATE, earlier, now
                continue
            if key in first_in_batch:
                entry.status, entry.processed_at = MessageStatus.DUPLICATE, now
                batch_duplicates.append((entry, first_in_batch[key]))
                continue
            if earlier is None:
                first_in_batch[key] = entry
                owners.append(entry)
        deliveries.extend((entry, dest, key_) for dest, key_ in _route(entry, channel, now))
    return owners, batch_duplicates, deliveries


def _queue(conn: Connection, deliveries: list[tuple[JournalEntry, str, str | None]], now: float) -> Woken:
    outbox.enqueue(conn, [Queued(e.id, e.channel, d, k) for e, d, k in deliveries], now)  # type: ignore[arg-type]
    return {(e.channel, d) for e, d, _ in deliveries}


def commit_intake(
    conn: Connection, entries: Sequence[JournalEntry], channels: Mapping[str, ChannelRoutes], node: str, now: float
) -> Woken:
    """Journal new entries with their final status and deliveries; returns the destinations to wake."""
    owners, batch_duplicates, deliveries = _decide_all(conn, entries, channels, now)
    journal.append(conn, entries, node)
    journal.register_keys(conn, owners)
    journal.point_duplicates(conn, [(dup.id, first.id) for dup, first in batch_duplicates])  # type: ignore[misc]
    return _queue(conn, deliveries, now)


def process_received(
    conn: Connection, entries: Sequence[JournalEntry], channels: Mapping[str, ChannelRoutes], now: float
) -> Woken:
    """Decide for entries already in the journal as RECEIVED (reprocessing, a channel started late)."""
    owners, batch_duplicates, deliveries = _decide_all(conn, entries, channels, now)
    for dup, first in batch_duplicates:
        dup.duplicate_of = first.id
    journal.register_keys(conn, owners)
    journal.set_outcomes(
        conn,
        [
            {"id": e.id, "status": e.status, "error": e.error, "duplicate_of": e.duplicate_of, "processed_at": now}
            for e in entries
            if e.status != MessageStatus.RECEIVED
        ],
    )
    return _queue(conn, deliveries, now)

"""The processing stage: journaled messages → duplicate check → filter → routes → outbox rows.

Runs inside one store transaction per batch; the statuses it writes are the whole story of a message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from sqlalchemy import Connection

from engine.domain.formats.hl7v2 import Message, read_header
from engine.domain.masking import mask_text
from engine.domain.outcome import MessageStatus
from engine.domain.routing import ChannelRoutes, decide
from engine.store import journal, outbox
from engine.store.journal import JournalEntry


def person_key(entry: JournalEntry) -> str | None:
    """A stable, non-identifying key for the patient of a message (hash of PID-3 id + assigning authority)."""
    header = read_header(entry.raw)
    message = Message(entry.raw.decode(entry.charset or "utf-8", "replace"), header)
    pid = message.get("PID-3.1")
    if not pid:
        return None
    authority = message.get("PID-3.4")
    return hashlib.blake2b(f"{pid}^{authority}".encode(), digest_size=12).hexdigest()


def process(
    conn: Connection, entries: Sequence[JournalEntry], channels: Mapping[str, ChannelRoutes], now: float
) -> set[tuple[str, str]]:
    """Process RECEIVED entries; returns the (channel, destination) pairs that got new deliveries."""
    entries = [e for e in entries if e.channel in channels]
    duplicates = journal.claim_keys(conn, entries)
    outcomes: list[dict[str, object]] = []
    queued: list[dict[str, object]] = []
    woken: set[tuple[str, str]] = set()
    for entry in entries:
        outcome: dict[str, object] = {"id": entry.id, "error": None, "duplicate_of": None, "processed_at": now}
        first = duplicates.get(entry.id)  # type: ignore[arg-type]
        if first is not None:
            outcome.update(status=MessageStatus.DUPLICATE, duplicate_of=first)
            outcomes.append(outcome)
            continue
        channel = channels[entry.channel]
        decision = decide(channel, entry.message_type)
        if decision.filtered:
            outcome.update(status=MessageStatus.FILTERED, error=decision.reason)
            outcomes.append(outcome)
            continue
        try:
            key = person_key(entry) if any(r.ordered for r in decision.routes) else None
        except Exception as exc:  # a message the intake accepted but the key reader cannot read
            outcome.update(status=MessageStatus.ERROR, error=mask_text(f"cannot read PID-3 for ordering: {exc}"))
            outcomes.append(outcome)
            continue
        for route in decision.routes:
            queued.append(
                {
                    "message_id": entry.id,
                    "channel": entry.channel,
                    "destination": route.destination,
                    "order_key": key if route.ordered else None,
                }
            )
            woken.add((entry.channel, route.destination))
        outcome["status"] = MessageStatus.PROCESSED
        outcomes.append(outcome)
    outbox.enqueue(conn, queued, now)
    journal.set_outcomes(conn, outcomes)
    return woken

"""Reprocessing: run messages through the pipeline again, re-queueing every delivery that did not succeed.

Deliveries already SENT are not sent again (their outbox rows are the idempotency keys); DEAD and failed ones
start over with fresh attempts. The daemon's sweep picks the messages up within seconds.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from engine.store import audit, journal, outbox


def reprocess(conn: Connection, ids: Sequence[int], now: float, *, reason: str = "") -> tuple[int, int]:
    """Returns (messages put back to RECEIVED, deliveries re-queued); the request is audited."""
    messages = journal.reset_for_reprocess(conn, ids)
    deliveries = outbox.requeue(conn, ids, now)
    audit.record(
        conn,
        "reprocess",
        f"messages:{len(ids)}",
        {"ids": list(ids)[:1000], "messages": messages, "deliveries": deliveries, "reason": reason},
    )
    return messages, deliveries

"""Reprocessing: run messages through the pipeline again, re-queueing every delivery that did not succeed.

Deliveries already SENT are not sent again (their outbox rows are the idempotency keys); DEAD and failed ones
start over with fresh attempts. The daemon's sweep picks the messages up within seconds.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from engine.store import audit, journal, outbox, queries

AUDITED = 1000  # the messages an audit row names (and whose statuses before it keeps), of a larger request


def reprocess(
    conn: Connection,
    ids: Sequence[int],
    now: float,
    *,
    reason: str = "",
    actor: str | None = None,
    destination: str | None = None,
) -> tuple[int, int]:
    """Returns (messages put back to RECEIVED, deliveries re-queued); the request is audited with ``actor`` (the
    console's user; the OS user for the CLI), each message's status and deliveries before, and what was re-queued.
    With ``destination`` only that destination's deliveries start over: a dead letter resent to a LIS that is back
    does not also resend what another destination refused."""
    named = list(ids)[:AUDITED]
    before = {
        str(v.id): {"status": v.status, "deliveries": {d.name: d.status for d in v.destinations}}
        for v in queries.messages_by_id(conn, named)
    }
    messages = journal.reset_for_reprocess(conn, ids)
    deliveries = outbox.requeue(conn, ids, now, destination)
    audit.record(
        conn,
        "reprocess",
        f"messages:{len(ids)}",
        {
            "ids": named,
            "messages": messages,
            "deliveries": deliveries,
            "reason": reason,
            "before": before,
            **({"destination": destination} if destination else {}),
        },
        actor=actor,
    )
    return messages, deliveries

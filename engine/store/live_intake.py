"""Live intake's heartbeat: when a node's intake last journaled messages from live senders, and how many at once.

The daemon's store writer writes it inside its intake commits (at most every few hundred milliseconds, never in a
transaction of its own); a backfill and the record workers read it to give live traffic the store first
(engine/runtime/pacing.py). One row per node, so nodes sharing a PostgreSQL store each have their own.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, insert, select, update

from engine.store.schema import live_intake


@dataclass(frozen=True)
class Live:
    seen_at: float  # the newest beat of any node
    queued: int  # messages per intake commit at the last beat, summed over the nodes that beat since `since`


def beat(conn: Connection, node: str, at: float, queued: int) -> None:
    """This node's intake journaled ``queued`` messages at ``at`` (one writer per node: update-then-insert)."""
    c = live_intake.c
    done = conn.execute(update(live_intake).where(c.node == node).values(seen_at=at, queued=queued))
    if done.rowcount == 0:
        conn.execute(insert(live_intake).values(node=node, seen_at=at, queued=queued))


def since(conn: Connection, at: float) -> Live | None:
    """Live intake at or after ``at``, over every node; None when no node had any."""
    c = live_intake.c
    row = conn.execute(select(func.max(c.seen_at), func.sum(c.queued)).where(c.seen_at >= at)).one()
    return None if row[0] is None else Live(float(row[0]), int(row[1]))

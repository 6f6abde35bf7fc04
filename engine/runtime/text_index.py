"""The journal's text index kept up apart from the intake (message_text.catch_up): batches through the store writer,
each a transaction of its own that runs after the pending intake, so an ACK never waits on indexing."""

from __future__ import annotations

import functools

from engine.runtime.writer import StoreWriter
from engine.store import message_text

BATCH = 500  # messages a transaction: the intake waits at most one such batch (~50 ms on SQLite)
EVERY = 1.0  # seconds between the daemon's catch-ups: how long a message is found by a scan, not the index


async def catch_up(writer: StoreWriter) -> int:
    """Index every journaled message the index does not hold yet, a batch a transaction; how many."""
    total = 0
    while True:
        done = await writer.submit(functools.partial(message_text.catch_up, limit=BATCH))
        total += done
        if done < BATCH:
            return total

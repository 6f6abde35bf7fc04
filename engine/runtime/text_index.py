"""The journal's text index kept up apart from the intake (message_text.catch_up): batches through the store writer,
each a transaction of its own that runs after the pending intake, so an ACK never waits on indexing. While senders
are active a run stops after BUSY seconds: indexing runs on the writer's thread, and under a full intake it would
take the ACKs' time; the rest waits for a quieter second (searches scan it meanwhile)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

from engine.runtime.writer import StoreWriter
from engine.store import message_text

BATCH = 256  # messages a transaction: the intake waits at most one such batch (~30 ms on SQLite)
EVERY = 1.0  # seconds between the daemon's catch-ups: how long a message is found by a scan, not the index
BUSY = 0.05  # seconds a catch-up goes on while senders are active: ~5% of the writer's time


async def catch_up(writer: StoreWriter, *, busy: Callable[[], bool] = lambda: False) -> int:
    """Index the journaled messages the index does not hold yet, a batch a transaction, all of them unless
    ``busy()`` past BUSY seconds; how many."""
    total, started = 0, time.monotonic()
    while True:
        done = await writer.submit(functools.partial(message_text.catch_up, limit=BATCH))
        total += done
        if done < BATCH or (busy() and time.monotonic() - started > BUSY):
            return total

"""The event loop's half of group commit: entries from every connection wait here while a commit is in flight.

Exactly one batch is with the store writer at a time; whatever arrives meanwhile becomes the next batch.
One thread hop each way per batch, however many connections fed it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from engine.runtime.writer import StoreWriter
from engine.store.journal import JournalEntry

Done = Callable[[Exception | None], None]


class IntakeQueue:
    def __init__(self, writer: StoreWriter, loop: asyncio.AbstractEventLoop) -> None:
        self._writer = writer
        self._loop = loop
        self._pending: list[tuple[list[JournalEntry], Done]] = []
        self._in_flight = False
        self._idle = asyncio.Event()
        self._idle.set()

    def submit(self, entries: list[JournalEntry], done: Done) -> None:
        """Journal entries; `done(error)` runs on the loop once they are durable (error None) or not."""
        self._pending.append((entries, done))
        self._idle.clear()
        if not self._in_flight:
            self._flush()

    async def submit_and_wait(self, entries: list[JournalEntry]) -> Exception | None:
        future: asyncio.Future[Exception | None] = self._loop.create_future()
        self.submit(entries, future.set_result)
        return await future

    async def drained(self) -> None:
        await self._idle.wait()

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        self._in_flight = True
        entries = [e for group, _ in batch for e in group]
        self._writer.append(entries, lambda error: self._loop.call_soon_threadsafe(self._committed, batch, error))

    def _committed(self, batch: list[tuple[list[JournalEntry], Done]], error: Exception | None) -> None:
        self._in_flight = False
        for _, done in batch:
            done(error)
        if self._pending:
            self._flush()
        else:
            self._idle.set()

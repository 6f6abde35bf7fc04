"""Live traffic first: the pace of bulk writers (a backfill, the record workers) beside the daemon's live intake.

A sender waits for its ACK until its message is committed, and on SQLite a commit waits for the one write lock,
held meanwhile by whichever process took it. So while live senders are active (the daemon's heartbeat in the store,
engine/store/live_intake.py, is fresh), a bulk writer keeps each transaction within BUDGET seconds of holding the
lock (the rows it takes are sized from how long its last ones held it, as the store writer measures from BEGIN to
COMMIT) and leaves a gap of PAUSE seconds per message in the live intake's last commits (its queue) after each one,
PAUSE_MAX at the most. A writer waiting for the lock looks at it closely (engine.store.database), so the daemon's
intake takes the lock in that gap: an ACK waits for about one bulk transaction (of each bulk process), and bulk
work goes on at most of its pace. With no live senders there is no gap and transactions are full.

PostgreSQL has no single write lock: its bulk writers are not paced (``of``), and live ACKs do not wait for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

from sqlalchemy import Engine

from engine.store import live_intake
from engine.store.live_intake import Live

ACTIVE = 1.0  # seconds after live intake's last heartbeat during which its senders count as active
LOOK = 0.1  # seconds between looks at the heartbeat
BUDGET = 0.015  # seconds a bulk transaction may hold the write lock while live senders are active
PAUSE = 0.002  # seconds between bulk transactions, per message in a live intake commit
PAUSE_MAX = 0.02  # ... at the most: bulk work goes on at no less than one transaction per PAUSE_MAX + BUDGET
SMOOTHING = 0.3  # weight of the last transaction in the time per row


def of(engine: Engine) -> Pacer | None:
    """The pacer of a bulk process on this store: one on SQLite, none on PostgreSQL (see the module doc)."""
    return Pacer(engine) if engine.dialect.name == "sqlite" else None


class Pacer:
    """One per bulk process: its transactions take turns, paced by live intake."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock
        self._looked = float("-inf")
        self._live: Live | None = None
        self._turns = asyncio.Lock()
        self._next = 0.0  # monotonic time before which the next transaction waits
        self._held = 0.0  # seconds the store was held during the turn in progress
        self.paced = 0  # turns that paused for live senders

    def held(self, seconds: float) -> None:
        """The store writer held the store this long for a transaction (from BEGIN to the end of COMMIT)."""
        self._held += seconds

    def live(self) -> Live | None:
        """Live intake now, looked up at most every LOOK seconds; None when no sender is active."""
        now = time.monotonic()
        if now - self._looked >= LOOK:
            self._looked = now
            with self._engine.connect() as conn:
                self._live = live_intake.since(conn, self._clock() - ACTIVE)
        return self._live

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[Turn]:
        """One bulk transaction: after the pause the previous one left, and one at a time."""
        async with self._turns:
            wait = self._next - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._held = 0.0
            done = Turn()
            try:
                yield done
            finally:
                done.held = self._held
                pause = self.pause()
                if pause:
                    self.paced += 1
                self._next = time.monotonic() + pause

    def pause(self) -> float:
        """Seconds to leave the store to live intake after a bulk transaction."""
        live = self.live()
        return 0.0 if live is None else min(PAUSE_MAX, PAUSE * max(1, live.queued))


class Turn:
    held = 0.0  # seconds the turn's transactions held the store, once it is over


class Paced:
    """One kind of bulk transaction (a delivery worker's, a backfill's reading): how many rows the next may take,
    and its turn. Without a pacer (the daemon's own workers) every transaction takes ``most`` rows at once."""

    def __init__(self, pacer: Pacer | None, most: int) -> None:
        self._pacer = pacer
        self.most = most
        self._per_row: float | None = None  # seconds per row, smoothed; None until measured

    def active(self) -> bool:
        """Paced now: a bulk process on SQLite while live senders are active."""
        return self._pacer is not None and self._pacer.live() is not None

    def rows(self) -> int:
        """Rows for the next transaction: ``most``, or while live senders are active what fits in BUDGET."""
        if not self.active():
            return self.most
        if self._per_row is None:
            return 1
        return max(1, min(self.most, int(BUDGET / self._per_row) if self._per_row > 0 else self.most))

    @contextlib.asynccontextmanager
    async def turn(self, rows: int) -> AsyncIterator[None]:
        """A transaction writing ``rows`` rows (0: too few to measure by), in the pacer's turn."""
        if self._pacer is None:
            yield
            return
        async with self._pacer.turn() as done:
            yield
        if rows:
            per_row = done.held / rows
            last = self._per_row
            self._per_row = per_row if last is None else last + SMOOTHING * (per_row - last)

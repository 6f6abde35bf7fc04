"""The store writer: every write of the daemon, one transaction at a time, in as few commits as can be.

Statements run on the event loop's thread. The COMMIT (an fsync) is where the choice is:
- one sender: commit right there. Handing work to a thread and back costs ~90 µs of wake-ups on this machine
  (an asyncio echo server doing that hand-off falls from 8.5k to 4.4k msg/s on one connection);
- several senders: commit on a helper thread (the fsync releases the GIL) while the loop keeps reading frames;
  everything that arrives meanwhile goes into the next transaction. That is the group commit.
Several senders also means waiting a moment before committing: while one batch commits, the senders answered by
the previous one send again, and without a pause the two groups alternate, each paying a whole fsync for half the
messages. So a batch is committed when every active sender has a message in it, or after GATHER seconds.
Intake comes first in each round; delivery claims and results, and sweeps for RECEIVED messages, follow in
transactions of their own. Intake commits also beat live intake's heartbeat (engine/store/live_intake.py, every
BEAT seconds at most), by which a backfill and the record workers in other processes see live senders and leave
the store to them first (engine/runtime/pacing.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import structlog
from sqlalchemy import Connection, Engine

from engine.domain.routing import ChannelRoutes
from engine.pipeline.process import Woken, commit_intake, process_received
from engine.runtime import metrics
from engine.runtime.pacing import Pacer
from engine.store import journal, live_intake, source_state
from engine.store.database import WRITER
from engine.store.journal import JournalEntry

T = TypeVar("T")
log = structlog.get_logger("huitong.writer")

IntakeDone = Callable[[Exception | None], None]


class StoreWriter:
    SWEEP_BATCH = 256
    GATHER = 0.0005  # the event loop's timers round this up to 1 ms; it only runs out when a sender goes quiet
    BEAT = 0.2  # seconds between heartbeats of live intake, written in an intake commit (never one of its own)

    def __init__(
        self,
        engine: Engine,
        channels: Mapping[str, ChannelRoutes],
        *,
        node: str,
        on_woken: Callable[[Woken], None],
        sweep_age: float | None,
        clock: Callable[[], float],
        senders: Callable[[], int] = lambda: 1,
        pacer: Pacer | None = None,
    ) -> None:
        """``pacer``: a bulk process's on SQLite (engine/runtime/pacing.py); it is told how long each transaction
        held the store, BEGIN to COMMIT."""
        self._engine = engine
        self.node = node
        self.channels = dict(channels)
        self._on_woken = on_woken
        self._sweep_age = sweep_age
        self._clock = clock
        self._conn: Connection | None = None
        self._intake: list[tuple[list[JournalEntry], IntakeDone]] = []
        self._jobs: list[tuple[Callable[[Connection], Any], asyncio.Future[Any]]] = []
        self._sweep_wanted = False
        self._senders = senders
        self._pacer = pacer
        self._committer = ThreadPoolExecutor(1, thread_name_prefix="huitong-commit")
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._gathering: asyncio.Future[None] | None = None
        self._pending = 0  # intake messages waiting for the next commit
        self._process = node.partition("/")[2] or "daemon"  # <node>/record, <node>/backfill: the commit time's label
        self._beaten = float("-inf")  # when live intake's heartbeat was last written
        self._most = 0  # the most messages in one intake commit since then

    # -- API (event loop thread) -----------------------------------------------------------------------------
    def append(self, entries: list[JournalEntry], done: IntakeDone) -> None:
        """Journal entries in the next commit; `done(error)` runs once they are durable (error None) or not."""
        self._intake.append((entries, done))
        self._pending += 1
        gathering = self._gathering
        if gathering is not None and not gathering.done() and self._pending >= self._senders():
            gathering.set_result(None)
        self._schedule()

    async def append_and_wait(self, entries: list[JournalEntry]) -> Exception | None:
        future: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()
        self.append(entries, future.set_result)
        return await future

    async def append_with(self, entries: list[JournalEntry], also: Callable[[Connection], None]) -> None:
        """Journal entries and run `also(connection)` in the same transaction (a polled page and the source's new
        position), so both are durable or neither is. Raises when the transaction fails."""

        def work(conn: Connection) -> Woken:
            woken = commit_intake(conn, entries, self.channels, self.node, self._clock())
            also(conn)
            return woken

        woken = await self.submit(work)
        if woken:
            self._on_woken(woken)

    async def append_with_state(self, entries: list[JournalEntry], channel: str, state: Mapping[str, str]) -> None:
        """Entries and a source's new position (source_state) in one transaction."""
        await self.append_with(entries, lambda conn: source_state.write(conn, channel, state) if state else None)

    async def read_state(self, channel: str) -> dict[str, str]:
        return await self.submit(lambda conn: source_state.read(conn, channel))

    def submit(self, job: Callable[[Connection], T]) -> asyncio.Future[T]:
        """Run job(connection) in a transaction of its own, after the pending intake."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._jobs.append((job, future))
        self._schedule()
        return future

    def request_sweep(self) -> None:
        """Look for RECEIVED messages: reprocessing requests, a crashed node's leftovers."""
        self._sweep_wanted = True
        self._schedule()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="store-writer")

    def recover(self) -> int:
        """Process this node's RECEIVED messages before intake starts, so resends stay behind originals."""
        total = 0
        while True:
            count, woken = self.run_now(self._sweep_once)
            total += count
            if woken:
                self._on_woken(woken)
            if count < self.SWEEP_BATCH:
                return total

    async def close(self) -> None:
        """Write what is pending, then let the connection go."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._round()
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._committer.shutdown()

    # -- machinery -------------------------------------------------------------------------------------------
    def _schedule(self) -> None:
        self._wake.set()

    def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = self._engine.connect().execution_options(**WRITER)
        return self._conn

    def _discard_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def run_now(self, work: Callable[[Connection], T]) -> T:
        """One transaction, committed on this thread (start-up work, before any sender exists)."""
        conn = self._connection()
        try:
            with conn.begin():
                return work(conn)
        except Exception:
            self._discard_connection()
            raise

    async def _transaction(self, work: Callable[[Connection], T], *, batch: int = 0) -> T:
        """One transaction: statements here; the COMMIT on the commit thread when a sender not in this `batch`
        may send meanwhile, else right here (see the module doc)."""
        conn = self._connection()
        txn = conn.begin()
        begun = time.perf_counter()
        try:
            result = work(conn)
            began = time.perf_counter()
            if self._senders() > batch:
                await asyncio.get_running_loop().run_in_executor(self._committer, txn.commit)
            else:
                txn.commit()
            done = time.perf_counter()
            metrics.committed(self._process, done - began)
            if self._pacer is not None:
                self._pacer.held(done - begun)
        except BaseException:
            with contextlib.suppress(Exception):
                if txn.is_active:  # a failed COMMIT has ended it already
                    txn.rollback()
            self._discard_connection()
            raise
        return result

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._round()

    async def _gather(self) -> None:
        """Wait until every active sender has a message pending, or GATHER seconds (see the module doc)."""
        senders = self._senders()
        if senders <= 1 or self._pending >= senders:
            return
        loop = asyncio.get_running_loop()
        self._gathering = gathering = loop.create_future()
        timer = loop.call_later(self.GATHER, _settle, gathering)
        try:
            await gathering
        finally:
            timer.cancel()
            self._gathering = None

    async def _round(self) -> None:
        while self._intake or self._jobs or self._sweep_wanted:
            if self._intake:
                await self._gather()
            intake, self._intake = self._intake, []
            self._pending = 0
            if intake:
                await self._commit(intake)
                continue  # intake first: what arrived during that commit goes next
            job, future = self._jobs.pop(0) if self._jobs else (None, None)
            if job is not None and future is not None:
                try:
                    result = await self._transaction(job)
                except Exception as exc:
                    if not future.done():
                        future.set_exception(exc)
                else:
                    if not future.done():
                        future.set_result(result)
                continue
            if self._sweep_wanted:
                self._sweep_wanted = False
                await self._sweep()

    async def _commit(self, intake: list[tuple[list[JournalEntry], IntakeDone]]) -> None:
        entries = [e for group, _ in intake for e in group]
        before = [(e.status, e.error) for e in entries]
        try:
            woken = await self._transaction(functools.partial(self._intake_work, entries=entries), batch=len(intake))
        except Exception as exc:
            # Routing must never cost a message its place in the journal: store them RECEIVED, sweep later.
            log.error("processing at intake failed; journaling unprocessed", error=str(exc), messages=len(entries))
            for entry, (status, reason) in zip(entries, before, strict=True):
                entry.status, entry.error, entry.duplicate_of, entry.processed_at = status, reason, None, None
            failed = await self._journal_each(intake)
            metrics.journaled(e for index, (group, _) in enumerate(intake) if index not in failed for e in group)
            self._sweep_wanted = self._sweep_wanted or len(failed) < len(intake)
            for index, (_, done) in enumerate(intake):
                done(failed.get(index))
            return
        metrics.journaled(entries)
        for _, done in intake:
            done(None)
        if woken:
            self._on_woken(woken)

    def _intake_work(self, conn: Connection, entries: list[JournalEntry]) -> Woken:
        now = self._clock()
        woken = commit_intake(conn, entries, self.channels, self.node, now)
        self._most = max(self._most, len(entries))
        if now - self._beaten >= self.BEAT:
            live_intake.beat(conn, self.node, now, self._most)
            self._beaten, self._most = now, 0
        return woken

    async def _journal_each(self, intake: list[tuple[list[JournalEntry], IntakeDone]]) -> dict[int, Exception]:
        """Journal each sender's entries in a transaction of its own, so one that cannot be stored fails alone
        (its sender gets AE and sends again); returns the failures by position in ``intake``."""
        failed: dict[int, Exception] = {}
        for index, (group, _) in enumerate(intake):
            try:
                await self._transaction(functools.partial(journal.append, entries=group, node=self.node))
            except Exception as exc:
                log.error("journal commit failed", error=str(exc), messages=len(group))
                failed[index] = exc
        return failed

    def _sweep_once(self, conn: Connection) -> tuple[int, Woken]:
        """One batch of RECEIVED messages nobody is processing: this node's, and other nodes' old ones."""
        now = self._clock()
        older = None if self._sweep_age is None else now - self._sweep_age
        found = journal.received(conn, list(self.channels), node=self.node, older_than=older, limit=self.SWEEP_BATCH)
        woken = process_received(conn, found, self.channels, now) if found else set()
        metrics.routed(found)
        return len(found), woken

    async def _sweep(self) -> None:
        try:
            count, woken = await self._transaction(self._sweep_once)
        except Exception as exc:
            log.error("processing RECEIVED messages failed; will retry", error=str(exc))
            return
        if count == self.SWEEP_BATCH:
            self.request_sweep()
        if woken:
            self._on_woken(woken)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)

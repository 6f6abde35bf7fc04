"""One delivery worker per destination or stage: claim due outbox rows, send them in order, record each outcome.

A stage (record, contracts) also writes what the batch produced, in the transaction that records the results."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Connection

from engine.connectors.destinations import Destination
from engine.domain.delivery import Delivery, Result, postpone, settle, settle_failure
from engine.domain.masking import mask_text
from engine.domain.outcome import DeliveryStatus
from engine.domain.retry import RetryPolicy
from engine.pipeline.stages import Stage
from engine.runtime import metrics
from engine.runtime.pacing import Paced, Pacer
from engine.runtime.writer import StoreWriter
from engine.store import outbox

log = structlog.get_logger("huitong.delivery")

T = TypeVar("T")


class DeliveryWorker:
    BATCH = 50
    GATHER = 0.005  # seconds to wait after a wake-up, so rows queued by the next few commits share a round
    # A stage's round costs reads, writes and a COMMIT whatever its size (~2 ms on SQLite), so a stage that keeps
    # up with its queue would claim a few rows a round and spend ~50% more CPU per message than on full batches
    # (bench/record_steps.py, batches of 8 and 50), CPU the intake needs on the same cores. After a partial batch
    # it waits this long for the queue to fill: the record lags the ACK by as much more, not the ACK itself.
    STAGE_GATHER = 0.05
    # Seconds a claimed batch belongs to this node, renewed every RENEW seconds until its results are recorded:
    # when a node dies, other nodes (and processes) sharing its store take its rows within LEASE.
    LEASE = 30.0
    RENEW = 10.0

    def __init__(
        self,
        channel: str,
        name: str,
        connector: Destination | Stage,
        policy: RetryPolicy,
        *,
        ordered: bool,
        writer: StoreWriter,
        scheduler: AsyncIOScheduler,
        pacer: Pacer | None = None,
    ) -> None:
        """``pacer``: a bulk process's (backfill, record workers), whose transactions give live intake the store
        first (engine/runtime/pacing.py); None in the daemon."""
        self.channel = channel
        self.name = name
        self.connector = connector
        self.policy = policy
        self.ordered = ordered
        self._writer = writer
        self._scheduler = scheduler
        self._wake = asyncio.Event()
        self._wake.set()  # look once at start: rows may be pending from before
        self._stopping = False
        self._busy = False  # the last round had rows to send
        self._orphaned = False  # a round failed after claiming: its rows are leased to this node, results unrecorded
        self._task: asyncio.Task[None] | None = None
        self._job_id = f"wake:{channel}:{name}"
        self._attempted: set[int] = set()  # rows of the batch in hand that were sent (not postponed)
        self._paced = Paced(pacer, self.BATCH)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self._job_id)

    def wake(self) -> None:
        self._wake.set()

    async def _wake_job(self) -> None:
        self._wake.set()

    async def stop(self, grace: float = 10.0) -> None:
        """Let the send in flight finish (up to `grace`), record it, then stop."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), grace)
            except TimeoutError:
                self._task.cancel()
        await self.connector.close()

    async def _run(self) -> None:
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            if not self._busy:  # after a quiet spell, let a batch build up: one claim and one record per batch
                await asyncio.sleep(self.GATHER)  # (while busy, rows pile up during each round anyway)
            try:
                due = await self._deliver()
            except Exception as exc:  # the store is unreachable: try again shortly
                log.error("delivery round failed", channel=self.channel, destination=self.name, error=str(exc))
                self._orphaned = True  # the rows this round claimed: take them back as soon as the store answers
                await asyncio.sleep(1.0)
                self._wake.set()
                continue
            self._schedule(due)

    async def _deliver(self) -> float | None:
        """Send what is due, batch after batch; returns when the next pending row falls due (None: nothing)."""
        results: list[Result] = []
        self._busy = False
        renewing: asyncio.Task[None] | None = None
        try:
            while not self._stopping:
                # The results of one batch are recorded in the same transaction that claims the next.
                rows = await self._record_then(results, self._record_and_claim)
                if renewing is not None:
                    renewing.cancel()
                results = []
                if not rows:
                    break
                self._busy = True
                renewing = asyncio.create_task(self._renew([r.id for r in rows]))
                results, more = await self._send(rows)
                await self.connector.commit()
                if not more:
                    break
                if len(rows) < self.BATCH and isinstance(self.connector, Stage):
                    await asyncio.sleep(self.STAGE_GATHER)
            return await self._record_then(results, self._record_and_look_ahead)
        finally:
            if renewing is not None:
                renewing.cancel()

    async def _record_then(self, results: list[Result], then: Callable[..., T]) -> T:
        """Record results in transactions of the rows the pace allows (all at once without a pacer, or while no
        live sender is active); the last of them in the transaction of ``then`` (the next claim, the look ahead)."""
        while len(results) > (rows := self._paced.rows()):
            now, results = results[:rows], results[rows:]
            async with self._paced.turn(len(now)):
                await self._writer.submit(functools.partial(self._record, results=now))
        async with self._paced.turn(len(results)):
            return await self._writer.submit(functools.partial(then, results=results))

    async def _renew(self, ids: list[int]) -> None:
        """Keep a claimed batch this node's until its results are recorded (a slow peer may take minutes)."""
        node = self._writer.node
        while True:
            await asyncio.sleep(self.RENEW)
            try:
                await self._writer.submit(lambda conn: outbox.renew_leases(conn, ids, node, time.time() + self.LEASE))
            except Exception as exc:  # the store is unreachable: the round fails too, and takes its rows back
                log.error("lease renewal failed", channel=self.channel, destination=self.name, error=str(exc))

    def _write(self, conn: Connection, results: list[Result]) -> list[Result]:
        """The results to record, each attempt counted by the status it is recorded with (a stage's write may
        still turn SENT into ERROR or DEAD)."""
        if not results:
            return results
        ids = {r.id for r in results}
        results = self._written(conn, results)
        metrics.attempts(self.channel, self.name, (r.status for r in results if r.id in self._attempted))
        self._attempted -= ids
        return results

    def _written(self, conn: Connection, results: list[Result]) -> list[Result]:
        """A stage's own writes, in a savepoint: if they fail, the batch is retried, not lost or stuck.

        Only rows this node still holds are written: a lease that lapsed (the node stalled past LEASE) may have
        been taken by another node, which writes them instead, so the record never gets them twice."""
        mine = outbox.held(conn, [r.id for r in results], self._writer.node)
        if len(mine) < len(results):
            log.warning(
                "leases lapsed; another node has the deliveries",
                channel=self.channel,
                destination=self.name,
                rows=len(results) - len(mine),
            )
            results = [r for r in results if r.id in mine]
        if not results or not isinstance(self.connector, Stage):
            return results
        savepoint = conn.begin_nested()
        try:
            written = self.connector.write(conn, results)
        except Exception as exc:
            savepoint.rollback()
            log.error("store write failed", channel=self.channel, destination=self.name, error=mask_text(str(exc)))
            now = time.time()
            return [
                settle_failure(r, f"cannot write to the store: {mask_text(str(exc))}", self.policy, now)
                for r in results
            ]
        savepoint.commit()
        return written

    def _record(self, conn: Connection, results: list[Result]) -> None:
        outbox.record(conn, self._write(conn, results))

    def _record_and_claim(self, conn: Connection, results: list[Result]) -> list[Delivery]:
        if self._orphaned:  # alive, so its own leases need not wait out their time (only a dead node's do)
            released = outbox.release_leases(conn, self._writer.node, self.channel, self.name)
            self._orphaned = False
            log.info("leases of a failed round taken back", channel=self.channel, destination=self.name, rows=released)
        outbox.record(conn, self._write(conn, results))
        return outbox.claim(
            conn,
            self.channel,
            self.name,
            node=self._writer.node,
            now=time.time(),
            lease=self.LEASE,
            limit=self.BATCH,
            ordered=self.ordered,
        )

    def _record_and_look_ahead(self, conn: Connection, results: list[Result]) -> float | None:
        outbox.record(conn, self._write(conn, results))
        return outbox.next_due(conn, self.channel, self.name)

    async def _send(self, rows: list[Delivery]) -> tuple[list[Result], bool]:
        """Send a claimed batch in order; returns the results and whether more may be due at once (a full batch, or
        any ordered round: the next row of each of its persons)."""
        results: list[Result] = []
        waiting: dict[str, float] = {}  # persons whose earlier row waits for a retry: their later rows wait with it
        for i, row in enumerate(rows):
            if self._stopping:
                results.extend(postpone(r, time.time()) for r in rows[i:])
                return results, False
            if row.order_key in waiting:
                results.append(postpone(row, waiting[row.order_key]))
                continue
            attempt = await self.connector.send(row)
            result = settle(row, attempt, self.policy, time.time())
            self._attempted.add(row.id)
            results.append(result)
            if not attempt.ok:
                log.warning(
                    "delivery failed",
                    channel=self.channel,
                    destination=self.name,
                    message_id=row.message_id,
                    attempts=result.attempts,
                    status=result.status,
                    error=attempt.error,
                )
                if attempt.destination_down:  # the rest of the batch waits for the same retry time
                    results.extend(postpone(r, result.next_attempt_at) for r in rows[i + 1 :])
                    return results, False
                if self.ordered and row.order_key is not None and result.status == DeliveryStatus.ERROR:
                    waiting[row.order_key] = result.next_attempt_at
        # Ordered, recording a round may free each of its persons' next rows at once.
        return results, len(rows) == self.BATCH or (self.ordered and bool(rows))

    def _schedule(self, due: float | None) -> None:
        if due is None or self._stopping:
            return
        # Due but not claimable means leased by another node or waiting behind an earlier row of the same
        # person: look again in a second rather than spin.
        run_at = max(due, time.time() + 1.0) if due <= time.time() else due
        self._scheduler.add_job(
            self._wake_job,
            "date",
            run_date=datetime.fromtimestamp(run_at),
            id=self._job_id,
            replace_existing=True,
            misfire_grace_time=None,
        )

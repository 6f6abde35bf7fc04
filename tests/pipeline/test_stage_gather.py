"""A stage that keeps up with its queue waits for it to fill after a partial batch, so rows that arrive one by one
are recorded in a few full rounds instead of a round each (each round has its own reads and COMMIT)."""

from __future__ import annotations

import asyncio
import time

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Connection, Engine

from engine.domain.delivery import Attempt, Delivery, Result
from engine.domain.retry import RetryPolicy
from engine.runtime.delivery import DeliveryWorker
from engine.runtime.writer import StoreWriter
from engine.store import journal, outbox
from engine.store.journal import JournalEntry
from engine.store.outbox import Queued
from tests.support.messages import adt

ARRIVALS = 0.05  # seconds between the rows that come after the first


class Recording:
    """A stage that remembers the rows of each round it writes; ``arrive`` runs after its first send."""

    def __init__(self, arrive: asyncio.Event) -> None:
        self.rounds: list[list[int]] = []
        self.arrive = arrive

    async def send(self, delivery: Delivery) -> Attempt:
        self.arrive.set()
        return Attempt(True)

    async def commit(self) -> None:
        return None

    def write(self, conn: Connection, results: list[Result]) -> list[Result]:
        self.rounds.append([r.id for r in results])
        return results

    async def close(self) -> None:
        return None


def _queue(conn: Connection, n: int) -> None:
    """A registration of person n journaled and queued for the record, as the intake does."""
    entry = JournalEntry("his", "127.0.0.1:1", time.time(), adt(f"G{n}", f"P{n}"), "ADT^A01", f"G{n}")
    journal.append(conn, [entry], "node-a")
    outbox.enqueue(conn, [Queued(entry.id, "his", "record", f"P{n}")], time.time())  # type: ignore[arg-type]


def test_rows_that_arrive_while_a_stage_waits_after_a_partial_batch_share_its_next_round(
    store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(DeliveryWorker, "STAGE_GATHER", 20 * ARRIVALS)
    with store.begin() as conn:
        _queue(conn, 0)

    async def scenario() -> list[list[int]]:
        writer = StoreWriter(store, {}, node="node-a", on_woken=lambda _: None, sweep_age=None, clock=time.time)
        writer.start()
        scheduler = AsyncIOScheduler()
        scheduler.start()
        arrive = asyncio.Event()
        stage = Recording(arrive)
        worker = DeliveryWorker("his", "record", stage, RetryPolicy(), ordered=True, writer=writer, scheduler=scheduler)
        worker.start()
        await arrive.wait()  # the first round has its one row: three more come one by one
        for n in (1, 2, 3):
            await asyncio.sleep(ARRIVALS)
            await writer.submit(lambda conn, n=n: _queue(conn, n))
            worker.wake()  # as the intake does after each commit
        while sum(len(r) for r in stage.rounds) < 4:
            await asyncio.sleep(0.01)
        await worker.stop()
        scheduler.shutdown(wait=False)
        await writer.close()
        return stage.rounds

    rounds = asyncio.run(scenario())
    assert [len(r) for r in rounds] == [1, 3]


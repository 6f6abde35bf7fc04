"""Live traffic first: while the daemon's intake has live senders, bulk writers (a backfill, the record workers)
keep their transactions within a budget and pause after each, so the intake's commits get the store between them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Engine, distinct, func, select

from engine.config.mappings import load_mappings
from engine.domain.delivery import Delivery, Result
from engine.domain.outcome import DeliveryStatus
from engine.domain.retry import RetryPolicy
from engine.pipeline.care_loop import CareLoop
from engine.pipeline.mapping import map_message
from engine.pipeline.stages.record import RecordStage
from engine.runtime import pacing
from engine.runtime.delivery import DeliveryWorker
from engine.runtime.pacing import Paced, Pacer
from engine.runtime.writer import StoreWriter
from engine.store import journal, live_intake, outbox
from engine.store.journal import JournalEntry
from engine.store.outbox import Queued
from engine.store.schema import outbox as outbox_table
from engine.store.schema import record_versions
from tests.support.corpus import SAMPLES
from tests.support.daemon import MAPPINGS
from tests.support.mpi import shipped_resolver

REGISTRATIONS = sorted((SAMPLES / "county" / "his").glob("*_a04_*.hl7"))


def live_sender_beat(store: Engine, at: float, queued: int = 1) -> None:
    with store.begin() as conn:
        live_intake.beat(conn, "vm", at, queued)


def test_the_daemons_intake_beats_the_heartbeat_with_its_commits(store: Engine) -> None:
    async def one_live_message() -> None:
        writer = StoreWriter(store, {}, node="vm", on_woken=lambda _: None, sweep_age=None, clock=time.time)
        writer.start()
        entry = JournalEntry("live-adt", "127.0.0.1:40001", time.time(), REGISTRATIONS[0].read_bytes(), "ADT^A04")
        assert await writer.append_and_wait([entry]) is None
        await writer.close()

    before = time.time()
    asyncio.run(one_live_message())
    with store.connect() as conn:
        live = live_intake.since(conn, before)
    assert live is not None and live.queued == 1


def test_without_live_senders_a_bulk_transaction_takes_its_whole_batch_without_a_pause(store: Engine) -> None:
    pacer = Pacer(store)
    assert Paced(pacer, 50).rows() == 50
    assert pacer.pause() == 0.0


def test_a_heartbeat_older_than_active_is_no_live_sender(store: Engine) -> None:
    live_sender_beat(store, time.time() - pacing.ACTIVE - 1)
    assert Paced(Pacer(store), 50).rows() == 50


def test_while_live_senders_beat_bulk_rows_are_sized_to_the_budget_by_the_time_the_last_ones_held_the_store(
    store: Engine,
) -> None:
    live_sender_beat(store, time.time())
    pacer = Pacer(store)
    paced = Paced(pacer, 50)
    assert paced.rows() == 1  # nothing measured yet

    async def turn(rows: int, held: float) -> None:
        async with paced.turn(rows):
            pacer.held(held)  # as the store writer tells it after each transaction

    asyncio.run(turn(10, pacing.BUDGET * 2))  # two budgets for ten rows
    assert paced.rows() == 5
    asyncio.run(turn(5, 0.0))  # faster rows: more of them, up to the whole batch
    assert paced.rows() > 5
    for _ in range(20):
        asyncio.run(turn(5, 0.0))
    assert paced.rows() == 50


def test_the_pause_after_a_bulk_transaction_grows_with_the_live_queue_up_to_its_bound(store: Engine) -> None:
    live_sender_beat(store, time.time(), queued=3)
    assert Pacer(store).pause() == pytest.approx(3 * pacing.PAUSE)
    live_sender_beat(store, time.time(), queued=10_000)
    assert Pacer(store).pause() == pacing.PAUSE_MAX  # bulk work always goes on


def test_a_bulk_transaction_begins_after_the_pause_the_last_one_left(store: Engine) -> None:
    live_sender_beat(store, time.time(), queued=10)
    pacer = Pacer(store)

    async def two_turns() -> float:
        async with pacer.turn():
            pass
        ended = time.monotonic()
        async with pacer.turn():
            return time.monotonic() - ended

    assert asyncio.run(two_turns()) >= 10 * pacing.PAUSE - 0.002  # (the event loop's clock resolution)


def test_only_bulk_writers_on_sqlite_are_paced(store: Engine) -> None:
    # PostgreSQL has no single write lock: a bulk transaction there does not hold up live intake's commits.
    assert (pacing.of(store) is not None) == (store.dialect.name == "sqlite")


@pytest.fixture
def queued_registrations(store: Engine) -> Iterator[Engine]:
    """The county's registrations journaled and queued for the record, as a backfill leaves them."""
    now = time.time()
    with store.begin() as conn:
        entries = [
            JournalEntry("his", path.name, now, path.read_bytes(), "ADT^A04", f"C{n}", charset="gb18030")
            for n, path in enumerate(REGISTRATIONS)
        ]
        journal.append(conn, entries, "vm/backfill")
        outbox.enqueue(conn, [Queued(e.id, "his", "record", None) for e in entries], now)  # type: ignore[arg-type]
    yield store


def record_the_queue(store: Engine, pacer: Pacer, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A paced record worker drains the queue; returns the rows each of its transactions recorded."""
    written: list[int] = []
    write = DeliveryWorker._write

    def counted(self: DeliveryWorker, conn, results: list[Result]) -> list[Result]:  # type: ignore[no-untyped-def]
        if results:
            written.append(len(results))
        return write(self, conn, results)

    monkeypatch.setattr(DeliveryWorker, "_write", counted)
    mappings, errors = load_mappings(MAPPINGS)
    assert not errors

    def mapper(d: Delivery):  # type: ignore[no-untyped-def]
        return map_message(mappings, ["hl7v2/adt"], d.raw, format="hl7v2", charset="gb18030")

    async def drain() -> None:
        writer = StoreWriter(
            store, {}, node="vm/backfill", on_woken=lambda _: None, sweep_age=None, clock=time.time, pacer=pacer
        )
        writer.start()
        scheduler = AsyncIOScheduler()
        scheduler.start()
        stage = RecordStage("his", "his.county", mapper, shipped_resolver(), CareLoop(), RetryPolicy())
        worker = DeliveryWorker(
            "his", "record", stage, RetryPolicy(), ordered=False, writer=writer, scheduler=scheduler, pacer=pacer
        )
        worker.start()
        while await asyncio.to_thread(sent, store) < len(REGISTRATIONS):
            await asyncio.sleep(0.02)
        await worker.stop()
        scheduler.shutdown(wait=False)
        await writer.close()

    asyncio.run(drain())
    with store.connect() as conn:
        recorded = conn.execute(select(func.count(distinct(record_versions.c.message_id)))).scalar_one()
    assert recorded == len(REGISTRATIONS)
    return written


def sent(store: Engine) -> int:
    with store.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(outbox_table).where(outbox_table.c.status == DeliveryStatus.SENT)
            ).scalar_one()
        )


def test_while_live_senders_beat_a_record_worker_records_its_batch_in_transactions_within_the_budget(
    queued_registrations: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pacing, "BUDGET", 0.0)  # a store held for no time at all: a row per transaction
    live_sender_beat(queued_registrations, time.time() + 60)  # beating for the whole test
    assert record_the_queue(queued_registrations, Pacer(queued_registrations), monkeypatch) == [1] * len(
        REGISTRATIONS
    )


def test_without_live_senders_a_record_worker_records_its_batch_in_one_transaction(
    queued_registrations: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pacing, "BUDGET", 0.0)
    assert record_the_queue(queued_registrations, Pacer(queued_registrations), monkeypatch) == [len(REGISTRATIONS)]

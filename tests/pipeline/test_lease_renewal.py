"""A delivery worker keeps the rows it is sending: its lease is renewed while a slow peer holds the batch, so
another node does not take them (and send them a second time) when the first lease would have run out."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Engine, select

from engine.connectors.destinations.mllp import MllpDestination
from engine.domain.outcome import DeliveryStatus
from engine.domain.retry import RetryPolicy
from engine.runtime.delivery import DeliveryWorker
from engine.runtime.writer import StoreWriter
from engine.store import journal, outbox
from engine.store.journal import JournalEntry
from engine.store.outbox import Queued
from engine.store.schema import outbox as outbox_table
from tests.support.messages import adt
from tests.support.mllp_peer import MllpPeer

LEASE = 1.0  # the worker's 30 s, shortened so the test waits out several leases in a few seconds
RENEW = 0.25


def test_a_batch_held_by_a_slow_peer_past_its_lease_stays_with_its_node(
    store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(DeliveryWorker, "LEASE", LEASE)
    monkeypatch.setattr(DeliveryWorker, "RENEW", RENEW)
    entry = JournalEntry("his", "127.0.0.1:1", time.time(), adt("SLOW1", "P1"), "ADT^A01", "SLOW1")
    with store.begin() as conn:
        journal.append(conn, [entry], "node-a")
        outbox.enqueue(conn, [Queued(entry.id, "his", "out", "p1")], time.time())  # type: ignore[arg-type]
    answer = threading.Event()

    def slow(_message: bytes) -> str:  # the peer's answer waits until the test has tried to take the row
        answer.wait(30)
        return "AA"

    async def scenario(peer: MllpPeer) -> tuple[list[int], str]:
        writer = StoreWriter(store, {}, node="node-a", on_woken=lambda _: None, sweep_age=None, clock=time.time)
        writer.start()
        scheduler = AsyncIOScheduler()
        scheduler.start()
        destination = MllpDestination("127.0.0.1", peer.port, ack_timeout=30, on_ae="retry", on_ar="dead")
        worker = DeliveryWorker(
            "his", "out", destination, RetryPolicy(), ordered=True, writer=writer, scheduler=scheduler
        )
        worker.start()
        while not peer.received:  # the send is in flight
            await asyncio.sleep(0.01)
        await asyncio.sleep(3 * LEASE)  # three first leases would have run out meanwhile
        with store.begin() as conn:
            taken = outbox.claim(
                conn, "his", "out", node="node-b", now=time.time(), lease=LEASE, limit=10, ordered=True
            )
        answer.set()
        while (status := _status(store)) not in (DeliveryStatus.SENT, DeliveryStatus.ERROR, DeliveryStatus.DEAD):
            await asyncio.sleep(0.01)
        await worker.stop()
        scheduler.shutdown(wait=False)
        await writer.close()
        return [d.id for d in taken], status

    with MllpPeer(answer=slow) as peer:
        taken, status = asyncio.run(scenario(peer))
        sent = len(peer.received)
    assert taken == []  # node-b found the row still held by node-a
    assert status == DeliveryStatus.SENT
    assert sent == 1


def _status(store: Engine) -> str:
    with store.connect() as conn:
        return str(conn.execute(select(outbox_table.c.status)).scalar_one())

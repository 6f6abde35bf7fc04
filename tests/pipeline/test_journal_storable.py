"""What a sender puts in MSH-9/MSH-10 never costs a message, or the other messages of its commit, the journal."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import Engine, select

from engine.pipeline.intake import receive
from engine.runtime.writer import StoreWriter
from engine.store.journal import JournalEntry
from engine.store.schema import messages
from tests.support.faults import refuse_inserts
from tests.support.messages import ADT

NEIGHBOUR = ADT.replace(b"|MSG00001|", b"|NEIGHBOUR-1|")


def entries(raw: bytes) -> list[JournalEntry]:
    items = receive(
        raw, channel="his", source="peer", received_at=time.time(), default_charset="utf-8", validation="basic"
    )
    return [item.entry for item in items]


def commit_together(engine: Engine, *groups: list[JournalEntry]) -> list[Exception | None]:
    """The groups of several senders in one group commit, as the daemon's intake makes it."""

    async def run() -> list[Exception | None]:
        writer = StoreWriter(
            engine, {}, node="n", on_woken=lambda _: None, sweep_age=None, clock=time.time, senders=lambda: len(groups)
        )
        writer.start()
        try:
            return list(await asyncio.gather(*(writer.append_and_wait(g) for g in groups)))
        finally:
            await writer.close()

    return asyncio.run(run())


def journal(engine: Engine) -> dict[str, bytes]:
    with engine.connect() as conn:
        return {c: r for c, r in conn.execute(select(messages.c.control_id, messages.c.raw))}


def test_a_nul_byte_in_msh10_is_journaled_escaped_and_its_neighbour_too(store: Engine) -> None:
    odd = ADT.replace(b"|MSG00001|", b"|MSG\x0000001|")
    assert commit_together(store, entries(odd), entries(NEIGHBOUR)) == [None, None]
    stored = journal(store)
    assert b"|MSG\x0000001|" in stored["MSG\\X00\\00001"]  # the raw message keeps what was sent
    assert "NEIGHBOUR-1" in stored


def test_an_msh10_longer_than_its_column_is_cut_and_its_neighbour_journaled(store: Engine) -> None:
    odd = ADT.replace(b"|MSG00001|", b"|" + b"7" * 100 + b"|")
    assert commit_together(store, entries(odd), entries(NEIGHBOUR)) == [None, None]
    stored = journal(store)
    assert b"|" + b"7" * 100 + b"|" in stored["7" * 64] and "NEIGHBOUR-1" in stored


def test_a_message_the_store_refuses_fails_alone_and_the_rest_of_the_commit_is_journaled(store: Engine) -> None:
    refuse_inserts(store, "messages", "control_id", "MSG00001")
    refused, neighbour = commit_together(store, entries(ADT), entries(NEIGHBOUR))
    assert refused is not None and neighbour is None
    assert list(journal(store)) == ["NEIGHBOUR-1"]

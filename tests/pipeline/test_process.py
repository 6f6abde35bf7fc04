"""The processing stage on a real store: duplicates, filter, routes and order keys, decided in the intake commit."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select

from engine.domain.outcome import MessageStatus
from engine.domain.routing import ChannelRoutes, Route
from engine.pipeline.process import commit_intake, process_received
from engine.store import journal
from engine.store.database import migrate, open_engine
from engine.store.journal import JournalEntry
from engine.store.schema import messages, outbox
from tests.support.messages import adt

CHANNELS = {"his": ChannelRoutes("his", ("ADT^A01",), (Route("archive"), Route("lis", ("ADT^A01",), ordered=True)))}


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = open_engine(store_url)
    migrate(engine)
    yield engine
    engine.dispose()


def entry(raw: bytes, control_id: str, message_type: str = "ADT^A01") -> JournalEntry:
    return JournalEntry("his", "peer", time.time(), raw, message_type=message_type, control_id=control_id)


def commit(engine: Engine, *entries: JournalEntry) -> set[tuple[str, str]]:
    with engine.begin() as conn:
        return commit_intake(conn, list(entries), CHANNELS, "node-a", time.time())


def rows(engine: Engine) -> dict[int, tuple[str, int | None]]:
    with engine.connect() as conn:
        return {r.id: (r.status, r.duplicate_of) for r in conn.execute(select(messages))}


def deliveries(engine: Engine) -> list[tuple[int, str, str | None]]:
    with engine.connect() as conn:
        return [(r.message_id, r.destination, r.order_key) for r in conn.execute(select(outbox).order_by(outbox.c.id))]


def test_a_routed_message_is_processed_with_one_delivery_per_destination(engine: Engine) -> None:
    first = entry(adt("P1", "PAT1"), "P1")
    assert commit(engine, first) == {("his", "archive"), ("his", "lis")}
    assert rows(engine) == {first.id: (MessageStatus.PROCESSED, None)}
    [(_, archive, no_key), (_, lis, key)] = deliveries(engine)
    assert (archive, no_key, lis) == ("archive", None, "lis")
    assert key and "PAT1" not in key  # ordered by a hash of PID-3, not the identifier itself


def test_the_same_patient_gets_the_same_order_key(engine: Engine) -> None:
    commit(engine, entry(adt("K1", "PAT9"), "K1"), entry(adt("K2", "PAT9"), "K2"), entry(adt("K3", "OTHER"), "K3"))
    keys = [k for _, d, k in deliveries(engine) if d == "lis"]
    assert keys[0] == keys[1] != keys[2]


def test_a_resend_in_a_later_batch_is_a_duplicate_of_the_first(engine: Engine) -> None:
    first, resend = entry(adt("D1"), "D1"), entry(adt("D1"), "D1")
    commit(engine, first)
    assert commit(engine, resend) == set()
    assert rows(engine)[resend.id] == (MessageStatus.DUPLICATE, first.id)
    assert {m for m, _, _ in deliveries(engine)} == {first.id}


def test_a_resend_in_the_same_batch_is_a_duplicate_of_the_first(engine: Engine) -> None:
    first, resend = entry(adt("S1"), "S1"), entry(adt("S1"), "S1")
    commit(engine, first, resend)
    assert rows(engine)[resend.id] == (MessageStatus.DUPLICATE, first.id)


def test_same_control_id_with_other_content_is_not_a_duplicate(engine: Engine) -> None:
    first, other = entry(adt("C1", "PAT1"), "C1"), entry(adt("C1", "PAT2"), "C1")
    commit(engine, first, other)
    assert rows(engine)[other.id] == (MessageStatus.PROCESSED, None)


def test_a_filtered_message_is_kept_with_the_reason_and_goes_nowhere(engine: Engine) -> None:
    filtered = entry(adt("F1"), "F1", message_type="ADT^A08")
    commit(engine, filtered)
    with engine.connect() as conn:
        row = conn.execute(select(messages)).one()
    assert row.status == MessageStatus.FILTERED and "ADT^A08" in row.error
    assert deliveries(engine) == []


def test_a_message_refused_at_intake_is_journaled_but_not_routed(engine: Engine) -> None:
    refused = entry(b"garbage", "")
    refused.status, refused.error = MessageStatus.ERROR, "no MSH segment"
    commit(engine, refused)
    assert rows(engine) == {refused.id: (MessageStatus.ERROR, None)}
    assert deliveries(engine) == []


def test_reprocessing_a_message_routes_it_again_without_calling_it_a_duplicate(engine: Engine) -> None:
    filtered = entry(adt("R1"), "R1", message_type="ADT^A08")
    commit(engine, filtered)
    with engine.begin() as conn:
        journal.reset_for_reprocess(conn, [filtered.id])  # type: ignore[list-item]
        found = journal.received(conn, ["his"], node="node-a", older_than=None, limit=10)
        widened = {"his": ChannelRoutes("his", ("ADT^*",), (Route("archive"),))}  # the filter was fixed
        process_received(conn, found, widened, time.time())
    assert rows(engine) == {filtered.id: (MessageStatus.PROCESSED, None)}
    assert [d for _, d, _ in deliveries(engine)] == ["archive"]

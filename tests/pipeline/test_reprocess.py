"""Reprocessing on a real store: what starts over, and what is left as it was."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select, update

from engine.domain.outcome import DeliveryStatus
from engine.pipeline.process import commit_intake
from engine.pipeline.reprocess import reprocess
from engine.store import queries
from engine.store.database import migrate, open_engine, writing
from engine.store.journal import JournalEntry
from engine.store.schema import outbox
from tests.pipeline.test_process import CHANNELS
from tests.support.messages import adt


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = open_engine(store_url)
    migrate(engine)
    yield engine
    engine.dispose()


def dead_to_both(engine: Engine) -> int:
    """A message routed to 'archive' and 'lis', both of which refused it for good."""
    entry = JournalEntry("his", "peer", time.time(), adt("D1", "PAT1"), message_type="ADT^A01", control_id="D1")
    with writing(engine) as conn:
        commit_intake(conn, [entry], CHANNELS, "node-a", time.time())
        conn.execute(update(outbox).values(status=DeliveryStatus.DEAD, attempts=5))
    assert entry.id is not None
    return entry.id


def statuses(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {r.destination: r.status for r in conn.execute(select(outbox.c.destination, outbox.c.status))}


def test_reprocessing_a_message_starts_every_delivery_that_did_not_succeed_over(engine: Engine) -> None:
    message = dead_to_both(engine)
    with writing(engine) as conn:
        assert reprocess(conn, [message], time.time()) == (1, 2)
    assert statuses(engine) == {"archive": DeliveryStatus.QUEUED, "lis": DeliveryStatus.QUEUED}


def test_reprocessing_a_destinations_dead_letters_leaves_another_destinations_dead_letter_dead(engine: Engine) -> None:
    message = dead_to_both(engine)
    with writing(engine) as conn:
        ids = queries.dead_message_ids(conn, destination="lis")
        assert ids == [message]
        assert reprocess(conn, ids, time.time(), reason="LIS is back", destination="lis") == (1, 1)
    assert statuses(engine) == {"archive": DeliveryStatus.DEAD, "lis": DeliveryStatus.QUEUED}

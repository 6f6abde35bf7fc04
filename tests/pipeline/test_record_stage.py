"""The record stage on a real store: a message the record cannot take fails alone, its neighbours are filed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select

from engine.config.mappings import load_mappings
from engine.domain.delivery import Delivery, Result, settle
from engine.domain.outcome import DeliveryStatus
from engine.domain.retry import RetryPolicy
from engine.pipeline.care_loop import CareLoop
from engine.pipeline.mapping import map_message
from engine.pipeline.stages.record import RecordStage
from engine.store.database import migrate, open_engine
from engine.store.schema import record_versions
from tests.conftest import postgres_schema_url
from tests.support.corpus import SAMPLES
from tests.support.daemon import MAPPINGS
from tests.support.faults import REASON, fail_once, refuse_record_versions
from tests.support.mpi import shipped_resolver

HIS = sorted((SAMPLES / "county" / "his").glob("*_a04_*.hl7"))[:3]
REFUSED = 2  # the message id the store refuses to version
POLICY = RetryPolicy(5, "fixed", 1.0, 1.0, 2.0)


@pytest.fixture
def store(store: Engine) -> Engine:
    """A store whose record refuses versions of message REFUSED, as a column or a constraint might."""
    refuse_record_versions(store, REFUSED)
    return store


@pytest.fixture
def postgres_store() -> Iterator[Engine]:
    """A migrated PostgreSQL store, where several record workers write at once."""
    for url in postgres_schema_url():
        engine = open_engine(url)
        migrate(engine)
        yield engine
        engine.dispose()


def record_the_county_registrations(store: Engine) -> list[Result]:
    """The three registrations mapped, then written in one transaction as a record worker does."""
    mappings, errors = load_mappings(MAPPINGS)
    assert not errors

    def mapper(d: Delivery):  # type: ignore[no-untyped-def]
        return map_message(mappings, ["hl7v2/adt"], d.raw, format="hl7v2", charset="gb18030")

    destination = RecordStage("his-adt", "his.county", mapper, shipped_resolver(), CareLoop(), POLICY)
    rows = [
        Delivery(n, n, "his-adt", "record", "QUEUED", 0, path.read_bytes(), "ADT^A04", f"C{n}")
        for n, path in enumerate(HIS, 1)
    ]
    results = [settle(row, asyncio.run(destination.send(row)), POLICY, 0.0) for row in rows]
    with store.begin() as conn:
        return destination.write(conn, results)


def test_a_message_the_record_cannot_take_fails_alone_and_its_neighbours_are_recorded(store: Engine) -> None:
    written = record_the_county_registrations(store)
    assert [r.status for r in written] == [DeliveryStatus.SENT, DeliveryStatus.ERROR, DeliveryStatus.SENT]
    assert REASON in (written[1].error or "")
    with store.connect() as conn:
        recorded = conn.execute(select(record_versions.c.message_id).distinct()).scalars().all()
    assert sorted(recorded) == [1, 3]


def test_a_batch_that_fails_only_as_a_batch_is_recorded_message_by_message(postgres_store: Engine) -> None:
    """Two record workers on one PostgreSQL: a batch may meet the other's writes (a deadlock) where each message
    alone goes in; the batch is then recorded message by message, nothing waits for a retry."""
    fail_once(postgres_store, "record_versions")
    written = record_the_county_registrations(postgres_store)
    assert [r.status for r in written] == [DeliveryStatus.SENT] * 3
    with postgres_store.connect() as conn:
        recorded = conn.execute(select(record_versions.c.message_id).distinct()).scalars().all()
    assert sorted(recorded) == [1, 2, 3]

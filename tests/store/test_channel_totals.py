"""The per-channel totals the console's dashboard shows on every load: right, and counted from indexes rather than by
reading the journal's rows (a million messages took seconds that way; docs/benchmarks.md, console)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.sql import Select

from engine.store import journal, outbox, queries
from engine.store.database import migrate, open_engine
from engine.store.journal import JournalEntry
from engine.store.outbox import Queued
from tests.conftest import ROOT

ADT = (ROOT / "samples" / "county" / "his" / "01_a04_wangjianguo_htn.hl7").read_bytes()


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = open_engine(store_url)
    migrate(engine)
    yield engine
    engine.dispose()


def plan(engine: Engine, statement: Select) -> str:  # type: ignore[type-arg]
    sql = str(statement.compile(dialect=engine.dialect))
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            return " ".join(str(r[-1]) for r in conn.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
        conn.execute(text("SET enable_seqscan = off"))  # a table of a few rows is scanned otherwise
        return " ".join(r[0] for r in conn.execute(text(f"EXPLAIN {sql}")))


def test_a_channels_totals_add_up_the_deliveries_of_each_of_its_destinations(engine: Engine) -> None:
    entries = [JournalEntry("his-adt", "10.0.0.8:5000", time.time(), ADT, control_id=f"C{i}") for i in range(2)]
    with engine.begin() as conn:
        journal.append(conn, entries, "node-a")
        rows = [Queued(e.id, "his-adt", d, None) for e in entries for d in ("record", "archive")]  # type: ignore[arg-type]
        outbox.enqueue(conn, rows, time.time())
    with engine.connect() as conn:
        counts = queries.stats(conn)["his-adt"]
    assert (counts["received"], counts["pending"], counts["queued"]) == (2, 2, 4)


def test_the_messages_per_channel_and_status_are_counted_from_their_index(engine: Engine) -> None:
    assert "ix_messages_channel_status" in plan(engine, queries.MESSAGES_BY_STATUS)


def test_the_deliveries_per_channel_and_status_are_counted_in_the_order_of_an_index(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL hashes the groups: the order of the rows does not matter to it")
    shown = plan(engine, queries.DELIVERIES_BY_STATUS)
    assert "COVERING INDEX ix_outbox_due" in shown and "TEMP B-TREE" not in shown, shown


def test_the_migration_adds_the_index_to_a_journal_already_on_file(engine: Engine) -> None:
    from alembic import command
    from alembic.config import Config

    from engine.store.database import MIGRATIONS

    with engine.begin() as conn:
        journal.append(conn, [JournalEntry("his-adt", "10.0.0.8:5000", time.time(), ADT)], "node-a")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0013_alerts")
    assert "ix_messages_channel_status" not in plan(engine, queries.MESSAGES_BY_STATUS)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    assert "ix_messages_channel_status" in plan(engine, queries.MESSAGES_BY_STATUS)
    with engine.connect() as conn:
        assert queries.stats(conn)["his-adt"]["received"] == 1

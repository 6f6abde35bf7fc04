"""Content search through the journal's text index (message_text): what the county HIS sends (GB 18030) is found by
a resident's Chinese name or ID as an index lookup, on both backends; the index is written apart from the intake
(catch_up) and a search also scans what it does not hold yet; pruning takes messages out of it; reprocessing
does not index a message twice; a term shorter than the index takes is still found, by a scan that says so."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, insert, text

from engine.pipeline.intake import receive
from engine.pipeline.reprocess import reprocess
from engine.store import journal, message_text, queries, retention
from engine.store.database import MIGRATIONS, migrate, open_engine
from engine.store.journal import JournalEntry
from engine.store.schema import messages
from engine.views.messages import Found, Search, search
from tests.conftest import ROOT

HIS = sorted((ROOT / "samples" / "county" / "his").glob("*.hl7"))
CHEN, CHEN_ID = "陈桂兰", "360426194909020421"  # a resident of the HIS samples: her name and resident ID


def received(at: float) -> list[JournalEntry]:
    """The HIS samples as the intake journals them: GB 18030, as the channel's sources send."""
    return [
        item.entry
        for path in HIS
        for item in receive(
            path.read_bytes().replace(b"\n", b"\r"),
            channel="his-adt",
            source="10.20.0.8:52114",
            received_at=at,
            default_charset="gb18030",
            validation="basic",
        )
    ]


def holding(text_: str) -> set[str]:
    """The control IDs (MSH-10) of the samples whose text holds this."""
    found = set()
    for path in HIS:
        decoded = path.read_bytes().decode("gb18030")
        if text_ in decoded:
            found.add(decoded.split("|")[9])
    return found


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = open_engine(store_url)
    migrate(engine)
    with engine.begin() as conn:
        journal.append(conn, received(time.time()), "node-a")
        message_text.catch_up(conn, 1000)
    yield engine
    engine.dispose()


def indexed_ids(engine: Engine) -> set[int]:
    column = "rowid" if engine.dialect.name == "sqlite" else "message_id"
    with engine.connect() as conn:
        return {r[0] for r in conn.execute(text(f"SELECT {column} FROM message_text"))}


def journal_again(engine: Engine) -> list[int]:
    """The samples journaled once more (as the intake does: not indexed); their ids."""
    again = [replace(e, id=None) for e in received(time.time())]
    with engine.begin() as conn:
        journal.append(conn, again, "node-a")
    return [e.id for e in again if e.id is not None]


def looked_for(engine: Engine, wanted: Search) -> tuple[set[str], str | None]:
    with engine.connect() as conn:
        found: Found = search(conn, wanted, limit=100)
    ids = [m.id for m in found.messages]
    assert len(ids) == len(set(ids))
    return {m.control_id for m in found.messages}, found.text_search


def test_a_chinese_name_in_a_gb18030_message_is_found_through_the_index(engine: Engine) -> None:
    assert holding(CHEN)  # the samples hold her name
    assert looked_for(engine, Search(text=CHEN)) == (holding(CHEN), "index")


def test_a_resident_id_inside_the_message_is_found_through_the_index(engine: Engine) -> None:
    assert looked_for(engine, Search(text=CHEN_ID)) == (holding(CHEN_ID), "index")
    assert looked_for(engine, Search(text=CHEN_ID[4:12])) == (holding(CHEN_ID), "index")  # a part of it too


def test_the_search_is_case_sensitive_as_the_scan_was(engine: Engine) -> None:
    assert looked_for(engine, Search(text="ADT^A04"))[0] == holding("ADT^A04") != set()
    assert looked_for(engine, Search(text="adt^a04")) == (set(), "index")


def test_the_text_index_answers_the_query_on_each_backend(engine: Engine) -> None:
    others = [e for e in received(time.time()) if CHEN_ID.encode() not in e.raw]
    with engine.begin() as conn:  # a journal of some size, so that the planner weighs what a scan would cost
        journal.append(conn, [replace(e, id=None) for _ in range(150) for e in others], "node-a")
        while message_text.catch_up(conn, 1000):
            pass
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE messages, message_text")  # as autovacuum keeps a store
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":  # a GIN index is costed above a scan of a table this small
            conn.exec_driver_sql("SET enable_seqscan = off")
        query = queries.id_query(conn, text=CHEN_ID, limit=50)
        compiled = query.compile(dialect=engine.dialect)
        explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
        named = compiled.params
        params = tuple(named[k] for k in compiled.positiontup or ()) if compiled.positional else named
        plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(explain + str(compiled), params))
    if engine.dialect.name == "sqlite":
        assert "SCAN message_text VIRTUAL TABLE" in plan and "USE TEMP B-TREE" not in plan
    else:
        assert "Bitmap Index Scan on ix_message_text_trgm" in plan
    assert "raw" not in str(compiled)  # the raw messages are not read


def test_a_term_shorter_than_three_characters_is_found_by_a_scan_that_says_so(engine: Engine) -> None:
    assert looked_for(engine, Search(text=CHEN[:2])) == (holding(CHEN[:2]), "scan")


@pytest.mark.parametrize("term", ["%", "_", "\\"])
def test_like_wildcards_in_a_scanned_term_match_only_themselves(engine: Engine, term: str) -> None:
    assert looked_for(engine, Search(text=term)) == (holding(term), "scan")


def test_pruned_content_is_no_longer_found(engine: Engine) -> None:
    with engine.begin() as conn:
        chen = queries.find_ids(conn, text=CHEN)
        retention.drop_content(conn, chen[:1])
        retention.drop_messages(conn, chen[1:])
    assert looked_for(engine, Search(text=CHEN)) == (set(), "index")
    assert looked_for(engine, Search(text=CHEN_ID)) == (set(), "index")
    # what the others hold is still found, the index whole (SQLite: its deletes named the text that was indexed)
    assert looked_for(engine, Search(text="ADT^A04"))[0] == holding("ADT^A04") - holding(CHEN)
    if engine.dialect.name == "sqlite":
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO message_text (message_text) VALUES ('integrity-check')"))


def test_pruning_messages_not_yet_indexed_leaves_the_index_whole(engine: Engine) -> None:
    again = journal_again(engine)
    with engine.begin() as conn:
        retention.drop_content(conn, again[:2])
        retention.drop_messages(conn, again[2:])
        assert message_text.catch_up(conn, 1000) == 0
    assert looked_for(engine, Search(text=CHEN)) == (holding(CHEN), "index")
    if engine.dialect.name == "sqlite":
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO message_text (message_text) VALUES ('integrity-check')"))


def test_reprocessing_a_message_does_not_index_it_again(engine: Engine) -> None:
    with engine.begin() as conn:
        chen = queries.find_ids(conn, text=CHEN)
        reprocess(conn, chen, time.time(), reason="test")
    assert looked_for(engine, Search(text=CHEN)) == (holding(CHEN), "index")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM message_text")).scalar() == len(HIS)


def test_journaling_does_not_index_and_catch_up_indexes_oldest_first_in_bounded_batches(engine: Engine) -> None:
    again = journal_again(engine)
    assert not indexed_ids(engine) & set(again)
    with engine.begin() as conn:
        assert message_text.catch_up(conn, 2) == 2
    assert indexed_ids(engine) & set(again) == set(again[:2])
    with engine.begin() as conn:
        assert message_text.catch_up(conn, 1000) == len(again) - 2
        assert message_text.catch_up(conn, 1000) == 0


def test_a_message_not_yet_indexed_is_found_and_after_catch_up_through_the_index(engine: Engine) -> None:
    again = set(journal_again(engine))
    with engine.connect() as conn:
        found = set(queries.find_ids(conn, text=CHEN))
        by_index = {r.id for r in conn.execute(queries.id_query(conn, text=CHEN))}
    assert found - by_index == found & again != set()  # the new ones: found by the scan of what is not indexed
    assert by_index == found - again
    with engine.begin() as conn:
        message_text.catch_up(conn, 1000)
    with engine.connect() as conn:
        assert {r.id for r in conn.execute(queries.id_query(conn, text=CHEN))} == found


def test_a_message_committed_below_the_highest_indexed_id_is_still_indexed(engine: Engine) -> None:
    """PostgreSQL: nodes draw ids at insert and commit in any order (SQLite's one writer commits them in order)."""
    if engine.dialect.name == "sqlite":
        pytest.skip("one writer: ids commit in order")
    early, *later = journal_again(engine)
    with engine.begin() as conn:
        message_text.add(conn, [(i, b"later", None) for i in later])  # the later messages, indexed first
        assert message_text.catch_up(conn, 1000) == 1
    assert early in indexed_ids(engine)


def test_the_migration_leaves_the_index_empty_and_searches_still_find_the_messages_before_it(
    store_url: str,
) -> None:
    engine = open_engine(store_url)
    try:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0014_messages_channel_status")
            conn.execute(
                insert(messages),
                [
                    {c: getattr(e, c) for c in ("channel", "source", "received_at", "raw", "charset", "status")}
                    | {"message_type": e.message_type, "control_id": e.control_id, "content_hash": e.content_hash}
                    for e in received(time.time())
                ],
            )
        migrate(engine)
        assert not indexed_ids(engine)
        assert looked_for(engine, Search(text=CHEN)) == (holding(CHEN), "index")
        with engine.begin() as conn:
            assert message_text.catch_up(conn, 1000) == len(HIS)
        assert looked_for(engine, Search(text=CHEN)) == (holding(CHEN), "index")
    finally:
        engine.dispose()

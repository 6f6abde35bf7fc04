"""The database source's reading side against real SQLite, PostgreSQL and MariaDB databases holding a vendor view."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from engine.connectors.database import json_value, message_of, read_page, source_engine
from engine.store.journal import content_hash
from tests.support.source_db import KINDS, SourceDb, open_source_db


@pytest.fixture(params=KINDS)
def his(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SourceDb]:
    yield from open_source_db(request.param, tmp_path)


def page(db: SourceDb, mark: object, *, seen: frozenset[str] = frozenset(), limit: int = 100, op: str = ">="):
    return read_page(
        source_engine(db.url, 10),
        db.query(op),
        table="his.outpatient_visit",
        watermark_column="updated_at",
        mark=mark,
        seen=seen,
        limit=limit,
        digest=content_hash,
    )


def test_a_row_becomes_a_utf8_json_message_with_its_table_watermark_and_columns(his: SourceDb) -> None:
    visit_no = his.add_visit(1, "2026-11-20 10:42:31")
    [(raw, mark)] = page(his, "2000-01-01 00:00:00").rows
    message = orjson.loads(raw)
    assert message["table"] == "his.outpatient_visit"
    assert message["watermark"] == mark
    row = message["row"]
    assert row["visit_no"] == visit_no
    assert row["name"] == "陈国华"
    assert "陈国华".encode() in raw  # UTF-8, not escaped
    assert row["fee"] in ("36.50", 36.5)  # Decimal as a string (SQLite has no decimal type: a number)
    assert row["updated_at"].replace("T", " ") == "2026-11-20 10:42:31"
    assert mark == row["updated_at"]


def test_column_values_are_written_as_documented() -> None:
    assert json_value(Decimal("36.50")) == "36.50"
    assert json_value(dt.date(2026, 11, 20)) == "2026-11-20"
    assert json_value(dt.datetime(2026, 11, 20, 9, 30)) == "2026-11-20T09:30:00"
    assert json_value(dt.timedelta(hours=9, minutes=5)) == "09:05:00"  # MySQL TIME
    assert json_value(b"\x00\xff") == "AP8="
    assert json_value(None) is None
    raw, mark = message_of("his.x", "id", {"id": 7, "note": None})
    assert orjson.loads(raw) == {"table": "his.x", "watermark": 7, "row": {"id": 7, "note": None}}
    assert mark == 7


def test_a_poll_reads_rows_after_the_watermark_in_order_and_at_most_the_batch_size(his: SourceDb) -> None:
    his.add_visit(1, "2026-11-20 08:00:00")
    his.add_visit(2, "2026-11-20 09:00:00")
    his.add_visit(3, "2026-11-20 10:00:00")
    his.add_visit(4, "2026-11-20 11:00:00")
    rows = page(his, "2026-11-20 08:30:00", limit=2, op=">").rows
    assert [orjson.loads(raw)["row"]["visit_no"][-1] for raw, _ in rows] == ["2", "3"]


def test_rows_at_the_kept_watermark_that_were_journaled_are_passed_over_not_counted(his: SourceDb) -> None:
    for n in range(1, 5):
        his.add_visit(n, "2026-11-20 10:00:00")  # one batch job stamped them all alike
    his.add_visit(5, "2026-11-20 11:00:00")
    first = page(his, "2000-01-01 00:00:00", limit=3)
    mark = first.rows[-1][1]
    seen = frozenset(content_hash(raw) for raw, _ in first.rows)
    second = page(his, mark, seen=seen, limit=3)
    assert second.skipped == 3
    assert [orjson.loads(raw)["row"]["visit_no"][-1] for raw, _ in second.rows] == ["4", "5"]


def test_the_connection_is_read_only_a_writing_query_fails_and_changes_nothing(his: SourceDb) -> None:
    his.add_visit(1, "2026-11-20 10:00:00")
    before = his.snapshot()
    writing = f"DELETE FROM {his.table} WHERE updated_at >= :watermark RETURNING visit_no, updated_at"
    if his.kind == "postgresql":  # a query streams through a cursor, which cannot DELETE: a function that does
        his.execute(
            f"CREATE FUNCTION {his.table}_purge(w timestamp) RETURNS TABLE (visit_no varchar, updated_at timestamp) "
            f"AS $$ DELETE FROM {his.table} WHERE updated_at >= w RETURNING visit_no, updated_at $$ LANGUAGE sql"
        )
        writing = f"SELECT * FROM {his.table}_purge(CAST(:watermark AS timestamp))"
    try:
        with pytest.raises(SQLAlchemyError, match=r"(?i)read.?only"):
            read_page(
                source_engine(his.url, 10),
                writing,
                table="his.outpatient_visit",
                watermark_column="updated_at",
                mark="2000-01-01 00:00:00",
                seen=frozenset(),
                limit=10,
                digest=content_hash,
            )
    finally:
        if his.kind == "postgresql":
            his.execute(f"DROP FUNCTION {his.table}_purge")
    assert his.snapshot() == before


def test_a_query_without_the_watermark_column_is_refused_with_the_columns_it_has(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'his.db'}"
    with create_engine(url).begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER, name TEXT)"))
    with pytest.raises(LookupError, match=r"no column 'updated_at'.*id, name"):
        read_page(
            source_engine(url, 10),
            "SELECT * FROM t WHERE id > :watermark",
            table="x",
            watermark_column="updated_at",
            mark=0,
            seen=frozenset(),
            limit=10,
            digest=content_hash,
        )


def test_an_integer_watermark_starts_below_every_id_at_zero(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'his.db'}"
    with create_engine(url).begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)"))
        conn.execute(text("CREATE VIEW v AS SELECT id, name FROM t"))
        conn.execute(text("INSERT INTO t (id, name) VALUES (1, '甲'), (2, '乙')"))
    found = read_page(
        source_engine(url, 10),
        "SELECT * FROM v WHERE id > :watermark ORDER BY id",
        table="x",
        watermark_column="id",
        mark=0,
        seen=frozenset(),
        limit=10,
        digest=content_hash,
    )
    assert [mark for _, mark in found.rows] == [1, 2]


def channel_errors(tmp_path: Path, source: str, environ: dict[str, str]) -> tuple[list[str], object]:
    from engine.config import load_config

    (tmp_path / "channels").mkdir()
    (tmp_path / "engine.yaml").write_text("store: sqlite:///store.db\nchannels: channels\n", encoding="utf-8")
    (tmp_path / "channels" / "his.yaml").write_text(f"channel: his\nsource:\n{source}", encoding="utf-8")
    result = load_config(tmp_path / "engine.yaml", environ=environ, check_environment=False)
    channel = result.config.channels.get("his") if result.config is not None else None
    return [str(e) for e in result.errors], channel


def test_a_query_without_the_watermark_parameter_is_a_configuration_error_at_its_line(tmp_path: Path) -> None:
    errors, _ = channel_errors(
        tmp_path,
        "  type: database\n  url: sqlite:///his.db\n  query: SELECT * FROM v_outpatient_visit\n"
        "  watermark: updated_at\n  message_type: his.outpatient_visit\n",
        {},
    )
    [error] = errors
    assert error.startswith(f"{tmp_path / 'channels' / 'his.yaml'}:5:10: source.query: ")
    assert ":watermark" in error


def test_the_url_takes_the_password_from_the_environment(tmp_path: Path) -> None:
    errors, channel = channel_errors(
        tmp_path,
        "  type: database\n  url: mysql+pymysql://reader:${HIS_DB_PASSWORD}@his-db:3306/his\n"
        "  query: SELECT * FROM v WHERE id > :watermark ORDER BY id\n  watermark: id\n  message_type: his.x\n",
        {"HIS_DB_PASSWORD": "s3cret"},
    )
    assert errors == []
    assert channel.source.url == "mysql+pymysql://reader:s3cret@his-db:3306/his"  # type: ignore[attr-defined]

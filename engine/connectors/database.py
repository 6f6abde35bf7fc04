"""Rows of a database view as messages, read through a read-only connection (docs/database-source.md).

Each row becomes ``{"table": <message_type>, "watermark": <value>, "row": {column: value}}`` in UTF-8 JSON:
dates and times in ISO 8601 (as the driver gives them; SQLite's text is kept as stored), Decimal as a string
(exact), bytes in base64, NULL as null. The connection never writes: SQLite opens the file with ``mode=ro``,
PostgreSQL and MySQL/MariaDB run each poll in a READ ONLY transaction.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool


def json_value(value: Any) -> Any:
    """A column value as the message's JSON holds it."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):  # MySQL TIME columns: a time of day as hh:mm:ss
        seconds = int(value.total_seconds())
        return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    return str(value)


def message_of(table: str, watermark: str, row: Mapping[Any, Any]) -> tuple[bytes, Any]:
    """One row's message bytes and its watermark value (JSON form)."""
    values = {str(k): json_value(v) for k, v in row.items()}
    mark = values.get(watermark)
    return orjson.dumps({"table": table, "watermark": mark, "row": values}), mark


def read_only_url(url: str) -> URL:
    """SQLite files open with ``mode=ro`` (the driver refuses every write); other URLs are unchanged."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return parsed
    if parsed.database.startswith("file:"):
        return parsed.update_query_dict({"mode": "ro", "uri": "true"})
    return parsed.set(database=f"file:{parsed.database}").update_query_dict({"mode": "ro", "uri": "true"})


def source_engine(url: str, timeout: float) -> Engine:
    """An engine whose every connection is read-only and gives up after ``timeout`` seconds.

    No pool: a poll connects afresh, so a database that went away and came back needs nothing special.
    """
    parsed = read_only_url(url)
    backend = parsed.get_backend_name()
    connect_args: dict[str, Any] = {}
    first: tuple[str, ...] = ()
    if backend == "sqlite":
        connect_args = {"timeout": timeout}
    elif backend == "postgresql":
        connect_args = {"connect_timeout": max(1, int(timeout))}
        first = ("SET TRANSACTION READ ONLY", f"SET LOCAL statement_timeout = {int(timeout * 1000)}")
    elif backend in ("mysql", "mariadb"):
        connect_args = {"connect_timeout": max(1, int(timeout)), "read_timeout": max(1, int(timeout))}
        if "charset" not in parsed.query:
            connect_args["charset"] = "utf8mb4"
        first = ("START TRANSACTION READ ONLY",)
    engine = create_engine(parsed, poolclass=NullPool, connect_args=connect_args)
    if first:

        def read_only(conn: Connection) -> None:
            # on the driver's cursor: the statement the transaction begins for may stream (a server-side cursor)
            cursor = conn.connection.cursor()
            try:
                for statement in first:
                    cursor.execute(statement)
            finally:
                cursor.close()

        event.listen(engine, "begin", read_only)
    return engine


@dataclass
class Page:
    """What one poll read: new rows as (message bytes, watermark value), in the query's order."""

    rows: list[tuple[bytes, Any]]
    skipped: int  # rows at the kept watermark that were journaled before (re-read by ``>=``)


def read_page(
    engine: Engine,
    query: str,
    *,
    table: str,
    watermark_column: str,
    mark: Any,
    seen: frozenset[str],
    limit: int,
    digest: Callable[[bytes], str],
) -> Page:
    """Up to ``limit`` rows not yet journaled, reading from the kept watermark ``mark``.

    Rows whose watermark equals ``mark`` and whose content hash is in ``seen`` were journaled by an earlier
    poll and are passed over without counting toward ``limit``, so a long run of equal values still moves on.
    """
    rows: list[tuple[bytes, Any]] = []
    skipped = 0
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, max_row_buffer=limit).execute(
            text(query), {"watermark": mark}
        )
        columns = list(result.keys())
        if watermark_column not in columns:
            raise LookupError(
                f"the query returns no column {watermark_column!r} (watermark:); it returns " + ", ".join(columns)
            )
        for row in result.mappings():
            raw, value = message_of(table, watermark_column, row)
            if value == mark and digest(raw) in seen:
                skipped += 1
                continue
            rows.append((raw, value))
            if len(rows) >= limit:
                break
        result.close()
        conn.rollback()
    return Page(rows, skipped)


def count_rows(engine: Engine, query: str, mark: Any) -> int:
    """How many rows the source's query gives from ``mark`` on (a backfill's progress bar)."""
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM ({query}) AS q"), {"watermark": mark}).scalar_one())

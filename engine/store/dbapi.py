"""The intake's statements go to the database driver directly.

Measured here (bench notes in docs/benchmarks.md): SQLAlchemy Core adds 30–50 µs to each statement it compiles
and runs, and the intake transaction has four; on a single MLLP connection that alone would cap throughput
below 1,000 msg/s. These helpers run plain SQL on the connection SQLAlchemy has open, inside its transaction.
SQL is written with `?` placeholders; PostgreSQL's driver gets `%s`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection


def _sql(conn: Connection, text: str) -> str:
    return text if conn.dialect.name == "sqlite" else text.replace("?", "%s")


def cursor(conn: Connection) -> Any:
    return conn.connection.driver_connection.cursor()  # type: ignore[union-attr]


def fetchall(conn: Connection, text: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    cur = cursor(conn)
    cur.execute(_sql(conn, text), params)
    return list(cur.fetchall())


def executemany(conn: Connection, text: str, rows: Sequence[Sequence[Any]]) -> None:
    if rows:
        cursor(conn).executemany(_sql(conn, text), rows)


def insert_returning_ids(conn: Connection, text: str, rows: Sequence[Sequence[Any]]) -> list[int]:
    """Insert rows and return their new ids, in order.

    SQLite: one executemany, then the ids are the last rowid and the ones just before it. That holds because
    SQLite has one writer at a time and gives an INTEGER PRIMARY KEY table max(rowid) + 1 for each new row.
    PostgreSQL: one pipelined executemany with RETURNING.
    """
    if not rows:
        return []
    cur = cursor(conn)
    if conn.dialect.name == "sqlite":
        cur.executemany(text, rows)
        last = cur.execute("SELECT last_insert_rowid()").fetchone()[0]
        return list(range(last - len(rows) + 1, last + 1))
    cur.executemany(_sql(conn, text) + " RETURNING id", rows, returning=True)
    ids = []
    while True:
        ids.append(cur.fetchone()[0])
        if not cur.nextset():
            return ids

"""The journal's text index: each message's text (its raw bytes decoded in its own charset), written in the
transaction that journals the message, so a content search looks up an index instead of reading every raw message.

SQLite: ``message_text``, an FTS5 table with the trigram tokenizer, case-sensitive as the scan it replaces, and
contentless: the text is the raw message's, kept once, in the journal; a row goes by FTS5's 'delete' command, which
wants the text that was indexed, so it is decoded again from the raw message. A quoted term is matched as a
substring of three characters or more.
PostgreSQL: ``message_text`` (message_id, body) with a pg_trgm GIN index (``ix_message_text_trgm``) that answers
``body LIKE '%term%'``. Without the extension the table has no such index and searches scan the journal instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Engine, literal
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ColumnElement, TableClause, column, table

from engine.store import dbapi

MIN_TERM = 3  # characters: a trigram index finds nothing shorter
TRIGRAM_INDEX = "ix_message_text_trgm"  # PostgreSQL


def searchable(raw: bytes, charset: str | None) -> str:
    """The text a search looks in: the raw message as its sender wrote it (PostgreSQL's text holds no NUL)."""
    try:
        decoded = raw.decode(charset or "utf-8", "replace")
    except LookupError:  # a charset Python does not know: the bytes as UTF-8, as the console shows them
        decoded = raw.decode("utf-8", "replace")
    return decoded.replace("\x00", " ")


def add(conn: Connection, rows: Sequence[tuple[int, bytes, str | None]]) -> None:
    """Index these (message id, raw, charset) in the caller's transaction."""
    texts = [(i, searchable(raw, charset)) for i, raw, charset in rows if raw]
    if conn.dialect.name == "sqlite":
        dbapi.executemany(conn, "INSERT INTO message_text (rowid, body) VALUES (?, ?)", texts)
    else:
        dbapi.executemany(conn, "INSERT INTO message_text (message_id, body) VALUES (?, ?)", texts)


def drop(conn: Connection, ids: Sequence[int]) -> None:
    """Take these messages out of the index (before their raw content goes: SQLite needs it to delete)."""
    if not ids:
        return
    marks = ", ".join("?" * len(ids))
    if conn.dialect.name != "sqlite":
        dbapi.executemany(conn, f"DELETE FROM message_text WHERE message_id IN ({marks})", [list(ids)])
        return
    held = dbapi.fetchall(conn, f"SELECT id, raw, charset FROM messages WHERE id IN ({marks})", list(ids))
    dbapi.executemany(
        conn,
        "INSERT INTO message_text (message_text, rowid, body) VALUES ('delete', ?, ?)",
        [(i, searchable(raw, charset)) for i, raw, charset in held if raw],
    )


def indexed(conn: Connection) -> bool:
    """Whether a search of MIN_TERM characters or more is an index lookup here (PostgreSQL: pg_trgm's index)."""
    if conn.dialect.name == "sqlite":
        return True
    found = dbapi.fetchall(
        conn, "SELECT 1 FROM pg_indexes WHERE indexname = ? AND schemaname = current_schema()", [TRIGRAM_INDEX]
    )
    return bool(found)


def matches(conn: Connection, term: str) -> tuple[TableClause, ColumnElement[int], ColumnElement[bool]]:
    """The index as a table to join the journal to: the table, its message id column, and the condition that the
    message holds ``term`` (of MIN_TERM characters or more)."""
    if conn.dialect.name == "sqlite":
        fts = table("message_text", column("rowid"), column("message_text"))
        phrase = '"' + term.replace('"', '""') + '"'  # one phrase: the term's trigrams, in a row
        return fts, fts.c.rowid, fts.c.message_text.op("MATCH")(literal(phrase))
    texts = table("message_text", column("message_id"), column("body"))
    pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return texts, texts.c.message_id, texts.c.body.like(literal(pattern), escape="\\")


def create_sqlite(conn: Connection) -> None:
    conn.exec_driver_sql(
        "CREATE VIRTUAL TABLE message_text USING fts5(body, content='', tokenize='trigram case_sensitive 1')"
    )


def create_postgresql(conn: Connection) -> None:
    conn.exec_driver_sql(
        "CREATE TABLE message_text (message_id BIGINT PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,"
        " body TEXT NOT NULL)"
    )


def create_trigram_index(conn: Connection) -> bool:
    """pg_trgm's index of the texts, if the extension is there or may be created; whether it was made. (Built
    once the table is filled: a GIN index is built from sorted entries many times faster than row by row.)"""
    with conn.begin_nested() as attempt:
        try:
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except DBAPIError:  # not installed on the server, or not ours to create: searches scan
            attempt.rollback()
            return False
    # The operator class where the extension lives (another schema than the store's, when a DBA installed it)
    schema = conn.exec_driver_sql(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'"
    ).scalar_one()
    quoted = '"' + schema.replace('"', '""') + '"'
    conn.exec_driver_sql(f"CREATE INDEX {TRIGRAM_INDEX} ON message_text USING gin (body {quoted}.gin_trgm_ops)")
    return True


def fill(conn: Connection, after: int, limit: int) -> int | None:
    """Index the next ``limit`` journaled messages with content after id ``after`` (a migration's chunk); the
    last id done, None when there were none."""
    rows = dbapi.fetchall(
        conn,
        "SELECT id, raw, charset FROM messages WHERE id > ? AND length(raw) > 0 ORDER BY id LIMIT ?",
        [after, limit],
    )
    add(conn, [(r[0], r[1], r[2]) for r in rows])
    return rows[-1][0] if rows else None


def missing_index_note(engine: Engine) -> str | None:
    """What to tell the operator when content searches on this store scan (PostgreSQL without pg_trgm)."""
    if engine.dialect.name == "sqlite":
        return None
    with engine.connect() as conn:
        if indexed(conn):
            return None
    return (
        "content search scans the journal: the pg_trgm extension could not be created, so message_text has no"
        f" trigram index; as a superuser: CREATE EXTENSION pg_trgm; CREATE INDEX {TRIGRAM_INDEX} ON message_text"
        " USING gin (body gin_trgm_ops)"
    )

"""The journal's text index: each message's text (its raw bytes decoded in its own charset), so a content search
looks up an index instead of reading every raw message. Written apart from the intake (catch_up, run by the daemon
every second and by a backfill after its commits): indexing in the journaling transaction cut the ACK rate 4-5x.
A search reads the index and scans what was journaled since it last caught up (unindexed).

SQLite: ``message_text``, an FTS5 table with the trigram tokenizer, case-sensitive as the scan it replaces, and
contentless: the text is the raw message's, kept once, in the journal; a row goes by FTS5's 'delete' command, which
wants the text that was indexed, so it is decoded again from the raw message. A quoted term is matched as a
substring of three characters or more.
PostgreSQL: ``message_text`` (message_id, body) with a pg_trgm GIN index (``ix_message_text_trgm``) that answers
``body LIKE '%term%'``. Without the extension the table has no such index and searches scan the journal instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Engine, exists, func, literal, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ColumnElement, TableClause, column, table

from engine.store import dbapi
from engine.store.schema import messages

MIN_TERM = 3  # characters: a trigram index finds nothing shorter
TRIGRAM_INDEX = "ix_message_text_trgm"  # PostgreSQL
# PostgreSQL: ids are drawn at insert and committed in any order across nodes, so a message may commit below the
# highest indexed id; catch_up looks back this many ids for those. (SQLite has one writer: ids commit in order.)
LOOK_BACK = 10_000


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
    if conn.dialect.name == "sqlite":  # one writer at a time, who saw what is indexed
        dbapi.executemany(conn, "INSERT INTO message_text (rowid, body) VALUES (?, ?)", texts)
    else:  # another node's catch_up may have indexed it meanwhile
        dbapi.executemany(
            conn, "INSERT INTO message_text (message_id, body) VALUES (?, ?) ON CONFLICT DO NOTHING", texts
        )


def unindexed(conn: Connection) -> ColumnElement[bool]:
    """The journal's rows the index does not hold yet: above its highest id (less LOOK_BACK on PostgreSQL) and
    without an index row. (SQLite: FTS5 keeps its rowids in the shadow table message_text_docsize.)"""
    if conn.dialect.name == "sqlite":
        ids, margin = table("message_text_docsize", column("id")).c.id, 0
    else:
        ids, margin = table("message_text", column("message_id")).c.message_id, LOOK_BACK
    highest = select(func.coalesce(func.max(ids), 0) - margin).scalar_subquery()
    return (messages.c.id > highest) & ~exists().where(ids == messages.c.id)


def catch_up(conn: Connection, limit: int) -> int:
    """Index up to ``limit`` journaled messages with content the index does not hold yet, oldest first; how many."""
    query = (
        select(messages.c.id, messages.c.raw, messages.c.charset)
        .where(unindexed(conn), func.length(messages.c.raw) > 0)
        .order_by(messages.c.id)
        .limit(limit)
    )
    rows = [(r.id, r.raw, r.charset) for r in conn.execute(query)]
    add(conn, rows)
    return len(rows)


def drop(conn: Connection, ids: Sequence[int]) -> None:
    """Take these messages out of the index (before their raw content goes: SQLite needs it to delete)."""
    if not ids:
        return
    marks = ", ".join("?" * len(ids))
    if conn.dialect.name != "sqlite":
        dbapi.executemany(conn, f"DELETE FROM message_text WHERE message_id IN ({marks})", [list(ids)])
        return
    held = dbapi.fetchall(  # only what was indexed: a 'delete' of a row never inserted would corrupt the index
        conn,
        f"SELECT id, raw, charset FROM messages WHERE id IN ({marks})"
        " AND EXISTS (SELECT 1 FROM message_text_docsize d WHERE d.id = messages.id)",
        list(ids),
    )
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

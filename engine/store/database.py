"""Open the store: one SQLAlchemy engine per URL, with the durability settings the journal relies on."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from engine.store import locks

MIGRATIONS = Path(__file__).with_name("migrations")


WRITER = {"sqlite_begin_immediate": True}  # execution options of a connection that writes (engine.runtime.writer)
BUSY_TIMEOUT = 30.0  # seconds a writer waits for another process's write lock before it fails
LOOK_CLOSELY = 0.0005  # seconds between a writer's looks at a write lock another process holds


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction, committed on exit. On SQLite it takes the write lock at BEGIN (see _sqlite_begin): a
    transaction that reads first would otherwise fail at once when another process wrote in between."""
    with engine.connect().execution_options(**WRITER) as conn, conn.begin():
        yield conn


def _sqlite_pragmas(dbapi_connection, _record, synchronous: str = "FULL") -> None:  # type: ignore[no-untyped-def]
    # WAL lets readers (CLI, delivery) run beside the writer; FULL makes each commit an fsync, which is what
    # "ACK only after the message is durable" requires. The driver's own transaction handling is off: SQLAlchemy
    # begins transactions (see _sqlite_begin), so SAVEPOINTs work and a writer can take the lock up front.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    if cursor.execute("PRAGMA page_count").fetchone()[0] == 0:  # a new file: let pruning give space back
        cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")  # (on a file with tables it would wait for a write lock)
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA synchronous={synchronous}")
    cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")
    cursor.close()


def _sqlite_begin(conn) -> None:  # type: ignore[no-untyped-def]
    # Two processes write one SQLite file (the daemon and its record process). A transaction that reads and
    # then writes would fail at once with "database is locked" if the other wrote in between (WAL snapshots
    # cannot be upgraded); BEGIN IMMEDIATE takes the write lock first, waiting up to busy_timeout instead.
    if conn.get_execution_options().get("sqlite_begin_immediate"):
        _begin_looking_closely(conn)
    else:
        conn.exec_driver_sql("BEGIN")


def _begin_looking_closely(conn) -> None:  # type: ignore[no-untyped-def]
    """BEGIN IMMEDIATE, looking at a held write lock every LOOK_CLOSELY seconds. SQLite's own wait (busy_timeout)
    sleeps 1, 2, 5, 10 ... 100 ms between looks, so the daemon's intake would sleep past the short gaps a bulk
    writer in another process leaves between its transactions (engine/runtime/pacing.py), and its senders' ACKs
    with it; and a bulk writer would sleep long after each live commit."""
    driver = conn.connection.driver_connection
    driver.execute("PRAGMA busy_timeout=0")
    try:
        deadline = time.monotonic() + BUSY_TIMEOUT
        while time.monotonic() < deadline:
            try:
                driver.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                    raise
            time.sleep(LOOK_CLOSELY)
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # the last look: fails as any writer's wait does
    finally:
        driver.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")


def open_engine(url: str, *, fsync_each_commit: bool = True) -> Engine:
    """An engine for the store URL; SQLite files get WAL + synchronous=FULL, their directory is created.

    ``fsync_each_commit=False`` (SQLite: synchronous=NORMAL) is for work whose transaction carries its own
    redo: the record process writes the record and marks the deliveries SENT in one transaction, so a commit
    that a power cut takes back leaves the deliveries QUEUED and they are simply done again. Its commits then
    hold the write lock for microseconds instead of an fsync, and the intake's ACKs do not wait behind them.
    The intake always fsyncs (an ACK promises durability).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        synchronous = "FULL" if fsync_each_commit else "NORMAL"
        event.listen(engine, "connect", lambda c, r: _sqlite_pragmas(c, r, synchronous))
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def reclaim(engine: Engine) -> None:
    """Give the pages pruning freed back to the file system (SQLite; PostgreSQL's autovacuum does its own)."""
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        try:  # the driver steps a pragma once, which frees one page; a script runs it to the end
            driver = raw.driver_connection
            assert driver is not None
            driver.executescript("PRAGMA incremental_vacuum; PRAGMA wal_checkpoint(PASSIVE);")
        finally:
            raw.close()


def refresh_statistics(engine: Engine) -> None:
    """Give SQLite's query planner statistics of the tables as they are now (ANALYZE, sampling at most a few
    thousand rows per index, so it takes milliseconds on any size). Without them the planner guesses, and an
    index lookup of the FHIR search can join its tables in the wrong order: 3-4x slower measured on 5,000
    residents. PostgreSQL's autovacuum keeps its own statistics."""
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        try:
            driver = raw.driver_connection
            assert driver is not None
            driver.executescript("PRAGMA analysis_limit=2000; ANALYZE;")
        finally:
            raw.close()


def missing_file(url: str) -> Path | None:
    """The SQLite file a store URL names when it does not exist (None: it exists, or the store is a server's).

    Commands that read the store say so instead of creating an empty one: a wrong path, or an engine.yaml
    copied away from its var/, would otherwise show an empty engine as if nothing had happened."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    path = Path(parsed.database)
    return None if path.exists() else path.resolve()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent; the daemon and the CLI call it at start).

    Nodes started at the same moment on a new store would both create the tables (one dies on the
    alembic_version key): the migration holds the store's lock, so the second waits, then finds it done."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with writing(engine) as connection:
        locks.wait_for_schema_lock(connection, "migrations")
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")

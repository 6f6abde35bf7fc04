"""One node at a time for cluster-wide jobs: a PostgreSQL advisory lock held until the transaction ends.

SQLite is one node by construction, so there the lock is always granted (its writers take the file's lock).
"""

from __future__ import annotations

import hashlib

from sqlalchemy import Connection, text


def _key(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


def try_lock(conn: Connection, name: str) -> bool:
    """True when this transaction now holds the lock ``name`` (released at commit or rollback)."""
    if conn.dialect.name != "postgresql":
        return True
    return bool(conn.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _key(name)}).scalar_one())


def wait_for_schema_lock(conn: Connection, name: str) -> None:
    """Hold the lock ``name`` of the connection's schema (one store) until the transaction ends, waiting for it:
    two nodes started together must not both create the tables (the second finds them made)."""
    if conn.dialect.name != "postgresql":
        return
    schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _key(f"{name}:{schema}")})

"""One node at a time for cluster-wide jobs: a PostgreSQL advisory lock held until the transaction ends.

SQLite is one node by construction, so there the lock is always granted.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import Connection, text


def try_lock(conn: Connection, name: str) -> bool:
    """True when this transaction now holds the lock ``name`` (released at commit or rollback)."""
    if conn.dialect.name != "postgresql":
        return True
    key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)
    return bool(conn.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key}).scalar_one())

"""Console sign-in sessions, kept server-side: the store holds the cookie's sha256 and its expiry, never the
cookie, so a copy of the database signs no one in. A session carries no roles: they are read from the user on
each request, so a role change or ``users disable`` counts at once."""

from __future__ import annotations

import hashlib

from sqlalchemy import Connection

from engine.domain.roles import Role, User
from engine.store import dbapi


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(conn: Connection, secret: str, user: str, now: float, expires: float) -> None:
    """A new session; the expired ones are dropped on the way (sign-ins are rare, the table stays small)."""
    dbapi.executemany(conn, "DELETE FROM console_sessions WHERE expires_at <= ?", [(now,)])
    dbapi.executemany(
        conn,
        "INSERT INTO console_sessions (hash, user_name, created_at, expires_at) VALUES (?, ?, ?, ?)",
        [(_digest(secret), user, now, expires)],
    )


def user_of(conn: Connection, secret: str, now: float) -> User | None:
    """Who the session is signed in as, while it has not expired and the user is not disabled."""
    rows = dbapi.fetchall(
        conn,
        "SELECT u.name, u.roles FROM console_sessions s JOIN console_users u ON u.name = s.user_name"
        " WHERE s.hash = ? AND s.expires_at > ? AND u.disabled_at IS NULL",
        [_digest(secret), now],
    )
    if not rows:
        return None
    name, roles = rows[0]
    return User(name, frozenset(Role(r) for r in roles.split()))


def end(conn: Connection, secret: str) -> None:
    dbapi.executemany(conn, "DELETE FROM console_sessions WHERE hash = ?", [(_digest(secret),)])

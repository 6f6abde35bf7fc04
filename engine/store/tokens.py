"""Bearer tokens of the FHIR API, stored as their sha256 only: the store never holds a usable token."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from engine.store import dbapi


@dataclass(frozen=True, slots=True)
class Token:
    id: str
    scopes: tuple[str, ...]
    patient: str | None
    expires_at: float
    user: str | None = None
    created_at: float = 0.0
    revoked_at: float | None = None


_COLUMNS = "id, scopes, patient, expires_at, user_name, created_at, revoked_at"


def _token(row: tuple[Any, ...]) -> Token:
    ident, scopes, patient, expires, user, created, revoked = row
    return Token(ident, tuple(scopes.split()), patient, expires, user, created, revoked)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(
    conn: Connection,
    token_id: str,
    secret: str,
    scopes: tuple[str, ...],
    patient: str | None,
    now: float,
    expires: float,
    user: str | None = None,
) -> None:
    dbapi.executemany(
        conn,
        "INSERT INTO fhir_tokens (id, hash, scopes, patient, user_name, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(token_id, digest(secret), " ".join(scopes), patient, user, now, expires)],
    )


def valid(conn: Connection, secret: str, now: float) -> Token | None:
    """The token whose secret this is, if it has neither expired nor been revoked."""
    rows = dbapi.fetchall(
        conn,
        f"SELECT {_COLUMNS} FROM fhir_tokens WHERE hash = ? AND expires_at > ? AND revoked_at IS NULL",
        [digest(secret), now],
    )
    return _token(rows[0]) if rows else None


def listed(conn: Connection) -> list[Token]:
    """Every token, newest first; the hash stays in the store."""
    return [_token(r) for r in dbapi.fetchall(conn, f"SELECT {_COLUMNS} FROM fhir_tokens ORDER BY created_at DESC", [])]


def revoke(conn: Connection, token_id: str, now: float) -> Token | None:
    """Revoke the token (refused from now on); the token as it was, or None when there is no such token."""
    rows = dbapi.fetchall(conn, f"SELECT {_COLUMNS} FROM fhir_tokens WHERE id = ?", [token_id])
    if not rows:
        return None
    dbapi.executemany(
        conn, "UPDATE fhir_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", [(now, token_id)]
    )
    return _token(rows[0])

"""Bearer tokens of the FHIR API, stored as their sha256 only: the store never holds a usable token."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import Connection

from engine.store import dbapi


@dataclass(frozen=True, slots=True)
class Token:
    id: str
    scopes: tuple[str, ...]
    patient: str | None
    expires_at: float


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
) -> None:
    dbapi.executemany(
        conn,
        "INSERT INTO fhir_tokens (id, hash, scopes, patient, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
        [(token_id, digest(secret), " ".join(scopes), patient, now, expires)],
    )


def valid(conn: Connection, secret: str, now: float) -> Token | None:
    """The token whose secret this is, if it has not expired."""
    rows = dbapi.fetchall(
        conn,
        "SELECT id, scopes, patient, expires_at FROM fhir_tokens WHERE hash = ? AND expires_at > ?",
        [digest(secret), now],
    )
    return Token(rows[0][0], tuple(rows[0][1].split()), rows[0][2], rows[0][3]) if rows else None

"""The contract register: the newest version of each family-doctor contract, with the person it belongs to."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from sqlalchemy import Connection

from engine.domain.contract import Contract, Status
from engine.domain.contract.snapshot import from_json, to_json
from engine.store import dbapi

CHUNK = 500


def held(conn: Connection, source_system: str, contract_id: str) -> Contract | None:
    rows = dbapi.fetchall(
        conn, "SELECT snapshot FROM contracts WHERE source_system = ? AND contract_id = ?", (source_system, contract_id)
    )
    return from_json(orjson.loads(rows[0][0])) if rows else None


def keep(conn: Connection, contract: Contract, person_id: str, now: float) -> None:
    """Store ``contract`` as the version held (the caller has checked it is newer)."""
    dbapi.executemany(
        conn,
        "INSERT INTO contracts (source_system, contract_id, person_id, version, status, snapshot, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source_system, contract_id) DO UPDATE SET"
        " person_id = excluded.person_id, version = excluded.version, status = excluded.status,"
        " snapshot = excluded.snapshot, updated_at = excluded.updated_at",
        [
            (
                contract.source_system,
                contract.contract_id,
                person_id,
                contract.version,
                contract.status.value,
                orjson.dumps(to_json(contract)).decode(),
                now,
            )
        ],
    )


def of_persons(conn: Connection, persons: Sequence[str], status: Status | None = None) -> dict[str, list[Contract]]:
    """Each person's contracts (only those in ``status`` when given), newest version of each."""
    out: dict[str, list[Contract]] = {}
    values = list(dict.fromkeys(persons))
    for i in range(0, len(values), CHUNK):
        part = values[i : i + CHUNK]
        query = f"SELECT person_id, snapshot FROM contracts WHERE person_id IN ({', '.join('?' * len(part))})"
        params: list[str] = list(part)
        if status is not None:
            query += " AND status = ?"
            params.append(status.value)
        for person, snapshot in dbapi.fetchall(conn, query, params):
            out.setdefault(person, []).append(from_json(orjson.loads(snapshot)))
    return out


def counts(conn: Connection) -> dict[str, int]:
    """Contracts held, by status."""
    return {
        status: n for status, n in dbapi.fetchall(conn, "SELECT status, COUNT(*) FROM contracts GROUP BY status", ())
    }

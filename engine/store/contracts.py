"""The contract register: the newest version of each family-doctor contract, with the person it belongs to."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from sqlalchemy import Connection

from engine.domain.contract import Contract
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


def of_persons(conn: Connection, persons: Sequence[str]) -> dict[str, list[Contract]]:
    """Each person's contracts, newest version of each, those of persons merged into them included."""
    out: dict[str, list[Contract]] = {}
    values = list(dict.fromkeys(persons))
    for i in range(0, len(values), CHUNK):
        part = values[i : i + CHUNK]
        marks = ", ".join("?" * len(part))
        query = (
            "SELECT COALESCE(p.merged_into, c.person_id), c.snapshot FROM contracts c"
            f" LEFT JOIN record_persons p ON p.id = c.person_id WHERE c.person_id IN ({marks})"
            f" OR p.merged_into IN ({marks})"
        )
        for person, snapshot in dbapi.fetchall(conn, query, [*part, *part]):
            out.setdefault(person, []).append(from_json(orjson.loads(snapshot)))
    return out

"""The enterprise Patient's SQL: a person's source Patients, the types and resources of its whole record (for
``$everything``, paged), and when a retired person was merged away.

Every resource of the record carries its enterprise person (``record_resources.person_id``, re-pointed by
merges), so the whole record of a person is one indexed range of (person_id, type).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from engine.store import dbapi
from engine.store.fhir_read import Stored

_FROM = (
    "SELECT r.id, r.type, r.person_id, v.version, v.body, v.source_system, v.at FROM record_resources r"
    " JOIN record_versions v ON v.resource_id = r.id AND v.version = r.version"
)


def _stored(rows: Sequence[Sequence[Any]]) -> list[Stored]:
    return [Stored(r[0], r[1], r[2], r[3], bytes(r[4]), r[5], r[6]) for r in rows]


def patients(conn: Connection, person: str) -> list[Stored]:
    """The current Patient resource of each source of the person (merged persons' included), oldest first."""
    rows = dbapi.fetchall(
        conn, f"{_FROM} WHERE r.person_id = ? AND r.type = 'Patient' ORDER BY v.at, r.id", [person]
    )
    return _stored(rows)


def types_of(conn: Connection, person: str) -> list[str]:
    """The resource types the person's record holds."""
    rows = dbapi.fetchall(conn, "SELECT DISTINCT type FROM record_resources WHERE person_id = ?", [person])
    return sorted(r[0] for r in rows)


def everything(
    conn: Connection, person: str, types: Sequence[str], since: float | None, count: int, offset: int
) -> tuple[int, list[Stored]]:
    """(how many, the page of ``count`` after ``offset``) of the person's current resources of ``types`` whose
    current version was recorded at or after ``since``: Patients first, then by type and id (a stable order)."""
    if not types:
        return 0, []
    where = f"r.person_id = ? AND r.type IN ({', '.join('?' * len(types))})"
    params: list[Any] = [person, *types]
    if since is not None:
        where += " AND v.at >= ?"
        params.append(since)
    joined = (
        "FROM record_resources r JOIN record_versions v ON v.resource_id = r.id AND v.version = r.version"
        f" WHERE {where}"
    )
    total = int(dbapi.fetchall(conn, f"SELECT COUNT(*) {joined}", params)[0][0])
    if count == 0 or offset >= total:
        return total, []
    rows = dbapi.fetchall(
        conn,
        f"{_FROM} WHERE {where} ORDER BY CASE WHEN r.type = 'Patient' THEN 0 ELSE 1 END, r.type, r.id"
        " LIMIT ? OFFSET ?",
        [*params, count, offset],
    )
    return total, _stored(rows)


def retired_at(conn: Connection, person: str) -> float | None:
    """When the merge that retired this person was made (None: it stands on its own)."""
    rows = dbapi.fetchall(
        conn,
        "SELECT at FROM record_merges WHERE retired = ? AND undone_at IS NULL ORDER BY id DESC LIMIT 1",
        [person],
    )
    return float(rows[0][0]) if rows else None

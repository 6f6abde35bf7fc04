"""The record read for a Bulk Data export: the types it holds, and each type a keyset page at a time.

A page holds, per resource, the version that was current at the job's transaction time, so a job reads one
consistent state of the record however long it runs and whatever is written meanwhile (and starts over the same
after a restart). Pages are short read transactions; nothing holds the database for the whole export.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from engine.store import dbapi
from engine.store.fhir_read import Stored


def held_types(conn: Connection) -> list[str]:
    return sorted(r[0] for r in dbapi.fetchall(conn, "SELECT DISTINCT type FROM record_resources", []))


def page(
    conn: Connection,
    kind: str,
    *,
    until: float,
    since: float | None,
    persons: Sequence[str] | None,
    after: str,
    limit: int,
) -> list[Stored]:
    """Up to ``limit`` resources of ``kind`` with ids after ``after``, in id order, each as it stood at ``until``
    (left out when it did not exist yet), recorded after ``since``; of ``persons`` only, unless None."""
    sql = (
        "SELECT r.id, r.type, r.person_id, v.version, v.body, v.source_system, v.at"
        " FROM record_resources r JOIN record_versions v ON v.resource_id = r.id AND v.version ="
        " (SELECT MAX(w.version) FROM record_versions w WHERE w.resource_id = r.id AND w.at <= ?)"
        " WHERE r.type = ? AND r.id > ?"
    )
    params: list[Any] = [until, kind, after]
    if since is not None:
        sql += " AND v.at > ?"
        params.append(since)
    if persons is not None:
        if not persons:
            return []
        sql += f" AND r.person_id IN ({', '.join('?' * len(persons))})"
        params.extend(persons)
    rows = dbapi.fetchall(conn, sql + " ORDER BY r.id LIMIT ?", [*params, limit])
    return [Stored(r[0], r[1], r[2], r[3], bytes(r[4]), r[5], r[6]) for r in rows]

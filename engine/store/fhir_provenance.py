"""The Provenance resources' SQL: where each version of a resource came from, as record_versions keeps it
(message, channel, mapping and its version, source system, when), with the journaled message's control id."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from engine.store import dbapi


@dataclass(frozen=True, slots=True)
class Origin:
    """One version of a resource and what said it."""

    resource_id: str
    type: str
    person_id: str
    version: int
    source_system: str
    message_id: int | None
    control_id: str | None  # None when retention pruned the journal row, or no message said it
    channel: str
    mapping: str
    mapping_version: str
    at: float


def origins(conn: Connection, resource_id: str, kind: str | None = None, version: int | None = None) -> list[Origin]:
    """The versions of one resource (of ``kind``, when given), newest first, or just ``version``."""
    sql = (
        "SELECT r.id, r.type, r.person_id, v.version, v.source_system, v.message_id, m.control_id, v.channel,"
        " v.mapping, v.mapping_version, v.at FROM record_resources r"
        " JOIN record_versions v ON v.resource_id = r.id LEFT JOIN messages m ON m.id = v.message_id"
        " WHERE r.id = ?"
    )
    params: list[object] = [resource_id]
    if kind is not None:
        sql += " AND r.type = ?"
        params.append(kind)
    if version is not None:
        sql += " AND v.version = ?"
        params.append(version)
    return [Origin(*row) for row in dbapi.fetchall(conn, sql + " ORDER BY v.version DESC", params)]

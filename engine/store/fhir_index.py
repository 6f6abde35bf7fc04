"""The FHIR search index's SQL: a resource's rows replaced whenever a version of it is written.

The rows come from engine/domain/fhir_search.entries; this module only stores and looks them up. When what is
indexed changes, the newest migration that changes it calls `reindex` (and earlier ones only make tables, since
`replace` writes to every table of today's index).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import orjson
from sqlalchemy import Connection

from engine.domain.fhir_search import Entries, entries
from engine.store import dbapi

TABLES = (
    "fhir_search_token",
    "fhir_search_string",
    "fhir_search_date",
    "fhir_search_quantity",
    "fhir_search_reference",
)
MAX = 255  # the value columns' length: a longer value is indexed cut, so only a search by its start finds it


def replace(conn: Connection, indexed: Mapping[str, tuple[str, Entries]], new: Collection[str] = ()) -> None:
    """Each resource's index rows replaced by ``indexed[resource id] = (type, entries)``; resources in ``new`` were
    created in this transaction and have no rows to delete."""
    if not indexed:
        return
    ids = [(rid,) for rid in indexed if rid not in new]
    for table in TABLES:
        if ids:
            dbapi.executemany(conn, f"DELETE FROM {table} WHERE resource_id = ?", ids)
    dbapi.executemany(
        conn,
        "INSERT INTO fhir_search_token (resource_id, type, param, system, value) VALUES (?, ?, ?, ?, ?)",
        [(rid, kind, p, s[:MAX], v[:MAX]) for rid, (kind, e) in indexed.items() for p, s, v in sorted(e.tokens)],
    )
    dbapi.executemany(
        conn,
        "INSERT INTO fhir_search_string (resource_id, type, param, value_normalised) VALUES (?, ?, ?, ?)",
        [(rid, kind, p, v[:MAX]) for rid, (kind, e) in indexed.items() for p, v in sorted(e.strings)],
    )
    dbapi.executemany(
        conn,
        "INSERT INTO fhir_search_date (resource_id, type, param, low, high) VALUES (?, ?, ?, ?, ?)",
        [(rid, kind, p, lo, hi) for rid, (kind, e) in indexed.items() for p, lo, hi in sorted(e.dates)],
    )
    dbapi.executemany(
        conn,
        "INSERT INTO fhir_search_quantity (resource_id, type, param, system, code, value) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (rid, kind, p, s[:MAX], c[:MAX], v)
            for rid, (kind, e) in indexed.items()
            for p, s, c, v in sorted(e.quantities)
        ],
    )
    dbapi.executemany(
        conn,
        "INSERT INTO fhir_search_reference (resource_id, type, param, target) VALUES (?, ?, ?, ?)",
        [(rid, kind, p, t[:MAX]) for rid, (kind, e) in indexed.items() for p, t in sorted(e.references)],
    )


def by_token(conn: Connection, kind: str, param: str, value: str, system: str | None = None) -> list[str]:
    """The ids of the resources of ``kind`` whose ``param`` is ``value`` (in ``system`` when given)."""
    sql = "SELECT DISTINCT resource_id FROM fhir_search_token WHERE type = ? AND param = ? AND value = ?"
    params: list[str] = [kind, param, value[:MAX]]
    if system is not None:
        sql += " AND system = ?"
        params.append(system[:MAX])
    return sorted(row[0] for row in dbapi.fetchall(conn, sql, params))



def reindex(conn: Connection, page: int = 5000) -> None:
    """Every resource's current version indexed again, a page of resources at a time (a migration's step)."""
    after = ""
    while True:
        rows = dbapi.fetchall(
            conn,
            "SELECT r.id, r.type, v.body FROM record_resources r JOIN record_versions v ON v.resource_id = r.id"
            " AND v.version = r.version WHERE r.id > ? ORDER BY r.id LIMIT ?",
            [after, page],
        )
        if not rows:
            return
        replace(conn, {rid: (kind, entries(orjson.loads(body))) for rid, kind, body in rows})
        after = rows[-1][0]

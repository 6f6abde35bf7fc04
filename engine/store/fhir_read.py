"""The FHIR read API's SQL: current and past versions of one resource, and searches over the search index.

A search is a list of conditions on the index tables (``Condition``), each an ``IN`` sub-select, so the
database answers it from the indexes of migration 0008; the caller builds them from the request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from engine.store import dbapi

_COLUMNS = "r.id, r.type, r.person_id, v.version, v.body, v.source_system, v.at"


@dataclass(frozen=True, slots=True)
class Stored:
    """One version of a resource as stored: the body with store ids, and where and when it came from."""

    id: str
    type: str
    person_id: str
    version: int
    body: bytes
    source_system: str
    at: float


@dataclass(frozen=True, slots=True)
class Condition:
    """One search parameter's test: ``sql`` selects resource_id from an index table; any alternative matches."""

    sql: str
    params: tuple[Any, ...]


def _stored(rows: Sequence[Sequence[Any]]) -> list[Stored]:
    return [Stored(r[0], r[1], r[2], r[3], bytes(r[4]), r[5], r[6]) for r in rows]


def current(conn: Connection, kind: str, resource_id: str) -> Stored | None:
    rows = dbapi.fetchall(
        conn,
        f"SELECT {_COLUMNS} FROM record_resources r JOIN record_versions v ON v.resource_id = r.id"
        " AND v.version = r.version WHERE r.id = ? AND r.type = ?",
        [resource_id, kind],
    )
    return next(iter(_stored(rows)), None)


def history(conn: Connection, kind: str, resource_id: str, version: int | None = None) -> list[Stored]:
    """Every version of the resource, newest first (FHIR's order), or just ``version``."""
    sql = (
        f"SELECT {_COLUMNS} FROM record_resources r JOIN record_versions v ON v.resource_id = r.id"
        " WHERE r.id = ? AND r.type = ?"
    )
    params: list[Any] = [resource_id, kind]
    if version is not None:
        sql += " AND v.version = ?"
        params.append(version)
    return _stored(dbapi.fetchall(conn, sql + " ORDER BY v.version DESC", params))


def person_of_patient(conn: Connection, resource_id: str) -> str | None:
    """The enterprise person a stored Patient resource belongs to."""
    rows = dbapi.fetchall(
        conn, "SELECT person_id FROM record_resources WHERE id = ? AND type = 'Patient'", [resource_id]
    )
    return rows[0][0] if rows else None


def token(kind: str, param: str, system: str | None, value: str) -> Condition:
    sql = "SELECT resource_id FROM fhir_search_token WHERE type = ? AND param = ? AND value = ?"
    if system is None:
        return Condition(sql, (kind, param, value))
    return Condition(sql + " AND system = ?", (kind, param, value, system))


def string_prefix(kind: str, param: str, prefix: str) -> Condition:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    sql = (
        "SELECT resource_id FROM fhir_search_string"
        " WHERE type = ? AND param = ? AND value_normalised LIKE ? ESCAPE '\\'"
    )
    return Condition(sql, (kind, param, escaped + "%"))


def date(kind: str, param: str, test: str, bounds: Sequence[str]) -> Condition:
    """``test`` compares the index's low and high with the ``?`` placeholders, bound to ``bounds`` in order."""
    sql = f"SELECT resource_id FROM fhir_search_date WHERE type = ? AND param = ? AND {test}"
    return Condition(sql, (kind, param, *bounds))


def quantity(
    kind: str, param: str, test: str, bounds: Sequence[float], system: str | None, code: str | None
) -> Condition:
    """``test`` compares the index's ``value`` with the ``?`` placeholders, bound to ``bounds`` in order."""
    sql = f"SELECT resource_id FROM fhir_search_quantity WHERE type = ? AND param = ? AND {test}"
    params: list[Any] = [kind, param, *bounds]
    for column, given in (("system", system), ("code", code)):
        if given:
            sql += f" AND {column} = ?"
            params.append(given)
    return Condition(sql, tuple(params))


def reference(kind: str, param: str, targets: Sequence[str]) -> Condition:
    """Resources whose ``param`` points at one of ``targets`` ("Type/id")."""
    marks = ", ".join("?" * len(targets))
    sql = f"SELECT resource_id FROM fhir_search_reference WHERE target IN ({marks}) AND type = ? AND param = ?"
    return Condition(sql, (*targets, kind, param))


def resource_id(ident: str) -> Condition:
    return Condition("SELECT id FROM record_resources WHERE id = ?", (ident,))


def last_updated(kind: str, test: str, bounds: Sequence[float]) -> Condition:
    """``test`` compares ``updated_at`` (epoch seconds) with the ``?`` placeholders, bound to ``bounds``."""
    return Condition(f"SELECT id FROM record_resources WHERE type = ? AND {test}", (kind, *bounds))


def type_of(conn: Connection, ident: str) -> str | None:
    rows = dbapi.fetchall(conn, "SELECT type FROM record_resources WHERE id = ?", [ident])
    return rows[0][0] if rows else None


def currents(conn: Connection, ids: Sequence[str]) -> list[Stored]:
    """The current versions of these resources (those that exist), in id order."""
    out: list[Stored] = []
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        out += _stored(
            dbapi.fetchall(
                conn,
                f"SELECT {_COLUMNS} FROM record_resources r JOIN record_versions v ON v.resource_id = r.id"
                f" AND v.version = r.version WHERE r.id IN ({', '.join('?' * len(part))})",
                part,
            )
        )
    return sorted(out, key=lambda s: s.id)


def targets(conn: Connection, resource_ids: Sequence[str], param: str) -> list[str]:
    """Where the ``param`` references of these resources point ("Type/id"), each once."""
    if not resource_ids:
        return []
    marks = ", ".join("?" * len(resource_ids))
    sql = f"SELECT DISTINCT target FROM fhir_search_reference WHERE resource_id IN ({marks}) AND param = ?"
    return sorted(r[0] for r in dbapi.fetchall(conn, sql, [*resource_ids, param]))


def referring(conn: Connection, kind: str, param: str, targets: Sequence[str], limit: int) -> list[str]:
    """The ids of resources of ``kind`` whose ``param`` points at one of ``targets``, at most ``limit``."""
    if not targets:
        return []
    found = reference(kind, param, targets)
    return [r[0] for r in dbapi.fetchall(conn, found.sql + " ORDER BY resource_id LIMIT ?", [*found.params, limit])]


@dataclass(frozen=True, slots=True)
class Order:
    """One _sort key: an SQL expression over the resource row ``r`` and its parameters, ascending or not."""

    sql: str
    params: tuple[Any, ...]
    descending: bool


def by_id(descending: bool) -> Order:
    return Order("r.id", (), descending)


def by_last_updated(descending: bool) -> Order:
    return Order("r.updated_at", (), descending)


def by_date(param: str, descending: bool) -> Order:
    """By when the parameter's values begin (the latest beginning first when descending, so a stay still open sorts by
    its admission); resources without it last."""
    edge, missing = ("MAX(d.low)", "''") if descending else ("MIN(d.low)", "'~'")
    sql = f"COALESCE((SELECT {edge} FROM fhir_search_date d WHERE d.resource_id = r.id AND d.param = ?), {missing})"
    return Order(sql, (param,), descending)


def search(
    conn: Connection,
    kind: str,
    persons: Sequence[str] | None,
    conditions: Sequence[Sequence[Condition]],
    count: int,
    offset: int,
    order: Sequence[Order] = (),
) -> tuple[int, list[Stored]]:
    """(how many match, the page of ``count`` after ``offset``): every group of ``conditions`` holds (AND), one
    condition of a group is enough (OR); ``persons`` limits the search to those persons' resources. Matches come
    in ``order``, then by id."""
    where = ["r.type = ?"]
    params: list[Any] = [kind]
    if persons is not None:
        if not persons:
            return 0, []
        where.append(f"r.person_id IN ({', '.join('?' * len(persons))})")
        params.extend(persons)
    for group in conditions:
        where.append("r.id IN (" + " UNION ".join(c.sql for c in group) + ")")
        params.extend(p for c in group for p in c.params)
    clause = " AND ".join(where)
    total = dbapi.fetchall(conn, f"SELECT COUNT(*) FROM record_resources r WHERE {clause}", params)[0][0]
    if count == 0:
        return int(total), []
    keys = [*order, *([] if any(o.sql == "r.id" for o in order) else [by_id(False)])]
    ordering = ", ".join(f"{o.sql} {'DESC' if o.descending else 'ASC'}" for o in keys)
    rows = dbapi.fetchall(
        conn,
        f"SELECT {_COLUMNS} FROM record_resources r JOIN record_versions v ON v.resource_id = r.id"
        f" AND v.version = r.version WHERE {clause} ORDER BY {ordering} LIMIT ? OFFSET ?",
        [*params, *(p for o in keys for p in o.params), count, offset],
    )
    return int(total), _stored(rows)

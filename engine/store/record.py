"""The unified health record's tables: resources per person, their versions, further sources, merges.

Write helpers take whole batches (one statement each, through the driver: `dbapi`), because the record is
written once per delivered batch inside the delivery transaction. Read helpers serve the CLI.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection

from engine.domain.record import references
from engine.domain.record.identity import Key
from engine.store import audit, dbapi
from engine.store.persons import CHUNK


@dataclass(slots=True)
class Row:
    """A resource's row as the writer keeps it while a batch changes it."""

    id: str
    person_id: str
    type: str
    source_system: str
    source_key: str
    digest: str
    version: int
    updated_at: float


@dataclass(frozen=True, slots=True)
class Version:
    resource_id: str
    version: int
    body: bytes
    source_system: str
    message_id: int | None
    channel: str
    mapping: str
    mapping_version: str
    at: float


@dataclass(frozen=True, slots=True)
class Link:
    """A further source that stated a resource's fact identically."""

    resource_id: str
    source_system: str
    source_key: str
    message_id: int | None
    channel: str
    mapping: str
    mapping_version: str
    at: float


_ROW = "r.id, r.person_id, r.type, r.source_system, r.source_key, r.digest, r.version, r.updated_at"


def _chunks(values: Sequence[Any]) -> Iterable[tuple[Sequence[Any], str]]:
    for i in range(0, len(values), CHUNK):
        part = values[i : i + CHUNK]
        yield part, ", ".join("?" * len(part))


def by_keys(conn: Connection, keys: Iterable[str]) -> list[Row]:
    """Resources owned under these source keys (any source, any type: the caller filters)."""
    out: list[Row] = []
    for part, marks in _chunks(sorted(set(keys))):
        # "source_key != ''" lets SQLite use the partial index
        query = f"SELECT {_ROW} FROM record_resources r WHERE r.source_key IN ({marks}) AND r.source_key != ''"
        out.extend(Row(*r) for r in dbapi.fetchall(conn, query, part))
    return out


def linked_by_keys(conn: Connection, keys: Iterable[str]) -> list[tuple[str, str, Row]]:
    """(source system, source key, resource) for further sources linked under these keys."""
    out: list[tuple[str, str, Row]] = []
    for part, marks in _chunks(sorted(set(keys))):
        query = (
            f"SELECT l.source_system, l.source_key, {_ROW} FROM record_links l"
            f" JOIN record_resources r ON r.id = l.resource_id WHERE l.source_key IN ({marks})"
        )
        out.extend((r[0], r[1], Row(*r[2:])) for r in dbapi.fetchall(conn, query, part))
    return out


def by_facts(conn: Connection, pairs: Iterable[tuple[str, str]]) -> list[Row]:
    """Resources whose (person, digest of current content) is one of these pairs."""
    wanted = sorted(set(pairs))
    out: list[Row] = []
    for i in range(0, len(wanted), CHUNK // 2):
        part = wanted[i : i + CHUNK // 2]
        # A VALUES list joined on the (person, digest) index: one probe per pair, on SQLite and PostgreSQL.
        query = (
            f"WITH wanted (person_id, digest) AS (VALUES {', '.join(['(?, ?)'] * len(part))})"
            f" SELECT {_ROW} FROM wanted w JOIN record_resources r ON r.person_id = w.person_id AND r.digest = w.digest"
        )
        out.extend(Row(*r) for r in dbapi.fetchall(conn, query, [v for pair in part for v in pair]))
    return out


def patients(conn: Connection, persons: Iterable[str]) -> list[Row]:
    """Every source's Patient resource of these persons, least recently updated first.

    Sorted here, not by ORDER BY: with it SQLite walks every Patient on file by (type, updated_at) instead of
    looking up these persons' rows by (person_id, type), a cost that grows with the record (~1 ms at 3,000)."""
    out: list[Row] = []
    for part, marks in _chunks(sorted(set(persons))):
        query = f"SELECT {_ROW} FROM record_resources r WHERE r.person_id IN ({marks}) AND r.type = 'Patient'"
        out.extend(Row(*r) for r in dbapi.fetchall(conn, query, part))
    return sorted(out, key=lambda r: (r.updated_at, r.id))


def last_merge(conn: Connection) -> int:
    """The id of the newest merge (0: none yet): a batch compares it to see whether resolving merged persons."""
    return int(dbapi.fetchall(conn, "SELECT COALESCE(MAX(id), 0) FROM record_merges", [])[0][0])


def write(
    conn: Connection,
    *,
    created: Sequence[Row],
    changed: Sequence[Row],
    versions: Sequence[Version],
    links: Sequence[Link],
    unlinked: Sequence[tuple[str, str, str]],
) -> None:
    """Store a batch's outcome: new resources, changed rows, their versions, links added and removed."""
    dbapi.executemany(
        conn,
        "INSERT INTO record_resources (id, person_id, type, source_system, source_key, digest, version, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (r.id, r.person_id, r.type, r.source_system, r.source_key, r.digest, r.version, r.updated_at)
            for r in created
        ],
    )
    dbapi.executemany(
        conn,
        "UPDATE record_resources SET person_id = ?, digest = ?, version = ?, updated_at = ? WHERE id = ?",
        [(r.person_id, r.digest, r.version, r.updated_at, r.id) for r in changed],
    )
    dbapi.executemany(
        conn,
        "INSERT INTO record_versions (resource_id, version, body, source_system, message_id, channel, mapping,"
        " mapping_version, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                v.resource_id,
                v.version,
                v.body,
                v.source_system,
                v.message_id,
                v.channel,
                v.mapping,
                v.mapping_version,
                v.at,
            )
            for v in versions
        ],
    )
    dbapi.executemany(
        conn,
        "DELETE FROM record_links WHERE resource_id = ? AND source_system = ? AND source_key = ?",
        unlinked,
    )
    dbapi.executemany(
        conn,
        "INSERT INTO record_links (resource_id, source_system, source_key, message_id, channel, mapping,"
        " mapping_version, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [
            (k.resource_id, k.source_system, k.source_key, k.message_id, k.channel, k.mapping, k.mapping_version, k.at)
            for k in links
        ],
    )


def move_person(
    conn: Connection,
    surviving: str,
    retired: str,
    identifiers: Sequence[Key],
    records: Sequence[str],
    *,
    message_id: int | None,
    now: float,
    actor: str,
) -> int:
    """Re-point the retired person's resources to the surviving one; keep and audit what moved. Returns the merge id."""
    resources = [r[0] for r in dbapi.fetchall(conn, "SELECT id FROM record_resources WHERE person_id = ?", [retired])]
    dbapi.executemany(conn, "UPDATE record_resources SET person_id = ? WHERE person_id = ?", [(surviving, retired)])
    dbapi.executemany(conn, "UPDATE record_persons SET merged_into = ? WHERE id = ?", [(surviving, retired)])
    [merge_id] = dbapi.insert_returning_ids(
        conn,
        "INSERT INTO record_merges (at, surviving, retired, message_id, identifiers, resources, records)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (
                now,
                surviving,
                retired,
                message_id,
                orjson.dumps(identifiers).decode(),
                orjson.dumps(resources).decode(),
                orjson.dumps(list(records)).decode(),
            )
        ],
    )
    # The audit names persons and counts, not identifiers: those are personal data, kept in record_merges only.
    detail = {
        "merge": merge_id,
        "retired": retired,
        "message_id": message_id,
        "identifiers": len(identifiers),
        "resources": len(resources),
        "records": len(records),
    }
    audit.record(conn, "record.merge", f"person:{surviving}", detail, actor=actor, at=now)
    return merge_id


@dataclass(frozen=True, slots=True)
class Merge:
    """What one merge moved, kept so an unmerge gives back exactly that."""

    surviving: str
    retired: str
    identifiers: list[Key]
    resources: list[str]
    records: list[str]  # MPI records
    undone_at: float | None


def merge(conn: Connection, merge_id: int) -> Merge | None:
    rows = dbapi.fetchall(
        conn,
        "SELECT surviving, retired, identifiers, resources, records, undone_at FROM record_merges WHERE id = ?",
        [merge_id],
    )
    if not rows:
        return None
    surviving, retired, identifiers, resources, records, undone = rows[0]
    keys = [(system, value) for system, value in orjson.loads(identifiers)]
    return Merge(surviving, retired, keys, orjson.loads(resources), orjson.loads(records), undone)


def undo_merge(conn: Connection, merge_id: int, merge: Merge, now: float) -> None:
    """The merge's resources back to the retired person, which stands on its own again (identifiers and MPI
    records are given back by their own tables' helpers)."""
    dbapi.executemany(
        conn,
        "UPDATE record_resources SET person_id = ? WHERE id = ? AND person_id = ?",
        [(merge.retired, r, merge.surviving) for r in merge.resources],
    )
    dbapi.executemany(conn, "UPDATE record_persons SET merged_into = NULL WHERE id = ?", [(merge.retired,)])
    dbapi.executemany(conn, "UPDATE record_merges SET undone_at = ? WHERE id = ?", [(now, merge_id)])


def move_source_resources(conn: Connection, holder: str, person: str, source_system: str) -> None:
    """The resources one source recorded for ``holder``, to ``person`` (an operator moved that source's record)."""
    dbapi.executemany(
        conn,
        "UPDATE record_resources SET person_id = ? WHERE person_id = ? AND source_system = ?",
        [(person, holder, source_system)],
    )


# --- reading -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Source:
    """Where a resource's content came from: one message of one source, through one mapping."""

    source_system: str
    message_id: int | None
    channel: str
    mapping: str
    mapping_version: str
    at: float


@dataclass(frozen=True, slots=True)
class Current:
    """A resource's current version with its provenance (the owner's version first, then further sources)."""

    id: str
    type: str
    version: int
    body: dict[str, Any]
    sources: list[Source] = field(default_factory=list)


def surviving(conn: Connection, person: str) -> str | None:
    """The person a stored person id stands for today (following merges), or None if there is none."""
    seen: set[str] = set()
    current: str | None = person
    while current is not None and current not in seen:
        seen.add(current)
        rows = dbapi.fetchall(conn, "SELECT merged_into FROM record_persons WHERE id = ?", [current])
        if not rows:
            return None
        if rows[0][0] is None:
            return current
        current = rows[0][0]
    return current


def persons_by_identifier(conn: Connection, value: str, system: str | None = None) -> list[str]:
    """Persons holding an identifier with this value (and system, when given)."""
    query = "SELECT DISTINCT person_id FROM record_identifiers WHERE value = ?"
    params = [value]
    if system is not None:
        query += " AND system = ?"
        params.append(system)
    return sorted(r[0] for r in dbapi.fetchall(conn, query, params))


def merged_persons(conn: Connection, person: str) -> list[str]:
    """The person and every person merged into it, directly or through others."""
    return merged_persons_of(conn, [person])[person]


def merged_persons_of(conn: Connection, persons: Sequence[str]) -> dict[str, list[str]]:
    """``merged_persons`` of each person: one query per level of merges for all of them."""
    retired: dict[str, list[str]] = {}
    seen = set(persons)
    level = list(dict.fromkeys(persons))
    while level:
        found: list[tuple[Any, ...]] = []
        for part, marks in _chunks(level):
            query = f"SELECT merged_into, id FROM record_persons WHERE merged_into IN ({marks}) ORDER BY id"
            found += dbapi.fetchall(conn, query, part)
        for survivor, person in found:
            retired.setdefault(survivor, []).append(person)
        level = list(dict.fromkeys(p for _, p in found if p not in seen))
        seen.update(level)
    out: dict[str, list[str]] = {}
    for person in persons:
        everyone, todo = [person], [person]
        while todo:
            for r in retired.get(todo.pop(), []):
                if r not in everyone:
                    everyone.append(r)
                    todo.append(r)
        out[person] = everyone
    return out


def current(conn: Connection, person: str, repoint: Mapping[str, str] | None = None) -> list[Current]:
    """Every current resource of the person, with each one's provenance.

    ``repoint`` rewrites references on the way out, e.g. "Patient/<retired person>" to the survivor after a
    merge: the stored versions stay as they were said.
    """
    return current_of(conn, {person: repoint or {}})[person]


def current_of(conn: Connection, repoints: Mapping[str, Mapping[str, str]]) -> dict[str, list[Current]]:
    """``current`` of each person (the keys, each with its ``repoint``): two queries for all of them."""
    persons = list(repoints)
    out: dict[str, dict[str, Current]] = {p: {} for p in persons}
    owner: dict[str, str] = {}
    for part, marks in _chunks(persons):
        rows = dbapi.fetchall(
            conn,
            "SELECT r.person_id, r.id, r.type, r.version, v.body, v.source_system, v.message_id, v.channel,"
            " v.mapping, v.mapping_version, v.at FROM record_resources r"
            " JOIN record_versions v ON v.resource_id = r.id AND v.version = r.version"
            f" WHERE r.person_id IN ({marks}) ORDER BY r.person_id, r.type, v.at, r.id",
            part,
        )
        for r in rows:
            body = orjson.loads(references.repoint(r[4], repoints[r[0]]))
            out[r[0]][r[1]] = Current(r[1], r[2], r[3], body, [Source(*r[5:])])
            owner[r[1]] = r[0]
    for part, marks in _chunks(persons):
        links = dbapi.fetchall(
            conn,
            "SELECT l.resource_id, l.source_system, l.message_id, l.channel, l.mapping, l.mapping_version, l.at"
            f" FROM record_links l JOIN record_resources r ON r.id = l.resource_id WHERE r.person_id IN ({marks})"
            " ORDER BY l.at",
            part,
        )
        for link in links:
            out[owner[link[0]]][link[0]].sources.append(Source(*link[1:]))
    return {p: list(found.values()) for p, found in out.items()}


def versions(conn: Connection, resource_id: str) -> list[tuple[int, dict[str, Any], Source]]:
    """Every version of a resource, oldest first."""
    rows = dbapi.fetchall(
        conn,
        "SELECT version, body, source_system, message_id, channel, mapping, mapping_version, at"
        " FROM record_versions WHERE resource_id = ? ORDER BY version",
        [resource_id],
    )
    return [(r[0], orjson.loads(r[1]), Source(*r[2:])) for r in rows]


@dataclass(frozen=True, slots=True)
class MergeEntry:
    """One line of a person's merge history."""

    id: int
    retired: str
    at: float
    undone_at: float | None


def merges_into(conn: Connection, person: str) -> list[MergeEntry]:
    """The merges that made `person` the surviving one, oldest first (undone ones too)."""
    rows = dbapi.fetchall(
        conn, "SELECT id, retired, at, undone_at FROM record_merges WHERE surviving = ? ORDER BY id", [person]
    )
    return [MergeEntry(*row) for row in rows]


def surviving_persons(conn: Connection, after: str, limit: int) -> list[str]:
    """Up to `limit` person ids after `after` that were not merged into another, in id order (a keyset page)."""
    rows = dbapi.fetchall(
        conn, "SELECT id FROM record_persons WHERE merged_into IS NULL AND id > ? ORDER BY id LIMIT ?", [after, limit]
    )
    return [row[0] for row in rows]

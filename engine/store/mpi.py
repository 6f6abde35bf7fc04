"""The MPI's tables: source records with their features, blocking keys, term counts, reviews, decisions.

Plain SQL through the DB-API cursor (as the record store does): an arriving patient costs a handful of
indexed statements, inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection

from engine.store import dbapi

CHUNK = 500
ALL = "*"  # mpi_terms field whose single row counts every record

AUTO, MANUAL = "AUTO", "MANUAL"
NEW, MATCH, REVIEW = "NEW", "MATCH", "REVIEW"


@dataclass(slots=True)
class StoredRecord:
    id: str
    source_system: str
    local_id: str
    person_id: str
    state: str
    link_source: str
    probability: float | None
    rule: str
    features: dict[str, Any]
    updated_at: float


_COLUMNS = "id, source_system, local_id, person_id, state, link_source, probability, rule, features, updated_at"


def _record(row: Sequence[Any]) -> StoredRecord:
    return StoredRecord(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], orjson.loads(row[8]), row[9])


def _in(conn: Connection, query: str, values: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run ``query`` (with one ``{}`` for an IN list) over values in chunks."""
    out: list[tuple[Any, ...]] = []
    for i in range(0, len(values), CHUNK):
        part = values[i : i + CHUNK]
        out.extend(dbapi.fetchall(conn, query.format(", ".join("?" * len(part))), part))
    return out


def by_local(conn: Connection, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], StoredRecord]:
    """The stored records of (source system, local id) keys.

    Per source system, so the lookup is a seek in the (source_system, local_id) unique index: local_id alone
    is its second column, and a ``local_id IN`` scanned the whole table (measured at 1,000,000 persons:
    bench/mpi_incremental.py).
    """
    wanted = set(keys)
    by_system: dict[str, list[str]] = {}
    for system, local in sorted(wanted):
        by_system.setdefault(system, []).append(local)
    found: dict[tuple[str, str], StoredRecord] = {}
    query = f"SELECT {_COLUMNS} FROM mpi_records WHERE source_system = ? AND local_id IN ({{}})"
    for system, locals_ in by_system.items():
        for i in range(0, len(locals_), CHUNK):
            part = locals_[i : i + CHUNK]
            for row in dbapi.fetchall(conn, query.format(", ".join("?" * len(part))), [system, *part]):
                record = _record(row)
                found[(record.source_system, record.local_id)] = record
    return found


def by_ids(conn: Connection, ids: Iterable[str]) -> list[StoredRecord]:
    return [_record(r) for r in _in(conn, f"SELECT {_COLUMNS} FROM mpi_records WHERE id IN ({{}})", sorted(set(ids)))]


def of_persons(conn: Connection, persons: Iterable[str]) -> list[StoredRecord]:
    query = f"SELECT {_COLUMNS} FROM mpi_records WHERE person_id IN ({{}}) ORDER BY updated_at, id"
    return [_record(r) for r in _in(conn, query, sorted(set(persons)))]


def candidates(conn: Connection, keys: Sequence[str], max_block: int) -> list[StoredRecord]:
    """Every record of every person that shares a blocking key with ``keys``; blocks over max_block skipped.

    One statement (blocks, their sizes, their records' persons, those persons' records): an arriving record
    pays one round trip instead of three.
    """
    if not keys:
        return []
    out: list[StoredRecord] = []
    for i in range(0, len(keys), CHUNK):
        part = list(keys[i : i + CHUNK])
        marks = ", ".join("?" * len(part))
        query = (
            f"SELECT {_COLUMNS} FROM mpi_records WHERE person_id IN ("
            " SELECT r.person_id FROM mpi_blocks b JOIN mpi_records r ON r.id = b.record_id"
            f" WHERE b.key IN (SELECT key FROM mpi_blocks WHERE key IN ({marks}) GROUP BY key HAVING count(*) <= ?))"
            " ORDER BY updated_at, id"
        )
        out.extend(_record(r) for r in dbapi.fetchall(conn, query, [*part, max_block]))
    if len(keys) > CHUNK:  # a person reached through several chunks: once, in the order of_persons gives
        unique = {r.id: r for r in out}
        out = sorted(unique.values(), key=lambda r: (r.updated_at, r.id))
    return out


def blocks(
    conn: Connection, keys: Iterable[str], limit: int
) -> tuple[dict[str, int], dict[str, list[tuple[str, str]]]]:
    """Each key's block size, and the (record, person) members of the blocks of at most ``limit`` records: what
    a batch's arriving records are matched against, read once for the batch (pipeline/mpi_pool.py)."""
    wanted = sorted(set(keys))
    sizes: dict[str, int] = {}
    query = "SELECT key, count(*) FROM mpi_blocks WHERE key IN ({}) GROUP BY key"
    for key, size in _in(conn, query, wanted):
        sizes[key] = size
    members: dict[str, list[tuple[str, str]]] = {}
    small = [k for k in wanted if sizes.get(k, 0) <= limit]
    query = (
        "SELECT b.key, r.id, r.person_id FROM mpi_blocks b JOIN mpi_records r ON r.id = b.record_id"
        " WHERE b.key IN ({}) ORDER BY b.key, r.id"
    )
    for key, record_id, person in _in(conn, query, small):
        members.setdefault(key, []).append((record_id, person))
    return sizes, members


def persons_holding(conn: Connection, keys: Sequence[str]) -> set[str]:
    """The persons with a record holding any of these keys (a search, not a match)."""
    found: set[str] = set()
    for i in range(0, len(keys), CHUNK):
        part = list(keys[i : i + CHUNK])
        query = (
            "SELECT DISTINCT r.person_id FROM mpi_blocks b JOIN mpi_records r ON r.id = b.record_id"
            f" WHERE b.key IN ({', '.join('?' * len(part))})"
        )
        found.update(row[0] for row in dbapi.fetchall(conn, query, part))
    return found


def insert(conn: Connection, records: Sequence[StoredRecord], keys: Mapping[str, Sequence[str]]) -> None:
    dbapi.executemany(
        conn,
        f"INSERT INTO mpi_records ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                r.id,
                r.source_system,
                r.local_id,
                r.person_id,
                r.state,
                r.link_source,
                r.probability,
                r.rule,
                orjson.dumps(r.features).decode(),
                r.updated_at,
            )
            for r in records
        ],
    )
    dbapi.executemany(
        conn,
        "INSERT INTO mpi_blocks (key, record_id) VALUES (?, ?)",
        [(k, r.id) for r in records for k in keys.get(r.id, ())],
    )


def replace_features(
    conn: Connection, record: StoredRecord, features: Mapping[str, Any], keys: Sequence[str], now: float
) -> None:
    dbapi.executemany(
        conn,
        "UPDATE mpi_records SET features = ?, updated_at = ? WHERE id = ?",
        [(orjson.dumps(dict(features)).decode(), now, record.id)],
    )
    dbapi.executemany(conn, "DELETE FROM mpi_blocks WHERE record_id = ?", [(record.id,)])
    dbapi.executemany(conn, "INSERT INTO mpi_blocks (key, record_id) VALUES (?, ?)", [(k, record.id) for k in keys])


def place(
    conn: Connection,
    record_ids: Sequence[str],
    person: str,
    *,
    state: str,
    link_source: str,
    probability: float | None,
    rule: str,
    now: float,
) -> None:
    """Give records to a person, saying how that was decided."""
    dbapi.executemany(
        conn,
        "UPDATE mpi_records SET person_id = ?, state = ?, link_source = ?, probability = ?, rule = ?, updated_at = ?"
        " WHERE id = ?",
        [(person, state, link_source, probability, rule, now, r) for r in record_ids],
    )


def assign(conn: Connection, record_ids: Sequence[str], person: str, *, holder: str | None = None) -> None:
    """Give records to a person, leaving how they were decided; with ``holder``, only those it still holds."""
    if holder is None:
        dbapi.executemany(conn, "UPDATE mpi_records SET person_id = ? WHERE id = ?", [(person, r) for r in record_ids])
    else:
        dbapi.executemany(
            conn,
            "UPDATE mpi_records SET person_id = ? WHERE id = ? AND person_id = ?",
            [(person, r, holder) for r in record_ids],
        )


def set_state(conn: Connection, record_id: str, state: str, *, was: str) -> None:
    dbapi.executemany(conn, "UPDATE mpi_records SET state = ? WHERE id = ? AND state = ?", [(state, record_id, was)])


def all_ids(conn: Connection) -> list[str]:
    """Every record's id, least recently updated first."""
    return [r[0] for r in dbapi.fetchall(conn, "SELECT id FROM mpi_records ORDER BY updated_at, id", [])]


def repoint(conn: Connection, surviving: str, retired: str) -> list[str]:
    """Move every record of the retired person to the surviving one; returns their ids."""
    moved = [r[0] for r in dbapi.fetchall(conn, "SELECT id FROM mpi_records WHERE person_id = ?", [retired])]
    dbapi.executemany(conn, "UPDATE mpi_records SET person_id = ? WHERE person_id = ?", [(surviving, retired)])
    return moved


# --- term frequencies --------------------------------------------------------------------------------------


def count_terms(conn: Connection, pairs: Iterable[tuple[str, str]], delta: int = 1) -> None:
    """Add ``delta`` to the count of each (field, value), and to the total of all records once per call.

    The total first, then the terms in order: every writer takes these rows in one order, so two record workers
    adding new residents at once wait for each other instead of deadlocking (bench/scale_out.py)."""
    add_counts(conn, dict.fromkeys(pairs, delta), delta)


def add_counts(conn: Connection, terms: Mapping[tuple[str, str], int], records: int) -> None:
    """``count_terms`` for a batch: each term's summed change, and ``records`` to the total (in the same order)."""
    rows = [(ALL, "", records), *((field, value, delta) for (field, value), delta in sorted(terms.items()))]
    dbapi.executemany(
        conn,
        'INSERT INTO mpi_terms (field, value, "count") VALUES (?, ?, ?)'
        ' ON CONFLICT (field, value) DO UPDATE SET "count" = mpi_terms."count" + excluded."count"',
        rows,
    )


def frequencies(conn: Connection, pairs: Iterable[tuple[str, str]]) -> dict[str, dict[str, tuple[int, int]]]:
    """(records holding it, all records) for each (field, value) the store has seen."""
    wanted = sorted(set(pairs))
    out: dict[str, dict[str, tuple[int, int]]] = {}
    if not wanted:
        return out
    counts = term_counts(conn, wanted)
    total = counts.get((ALL, ""), 0)
    if not total:
        return out
    for field, value in wanted:
        if (field, value) in counts:
            out.setdefault(field, {})[value] = (counts[(field, value)], total)
    return out


def term_counts(conn: Connection, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """The stored count of each (field, value) the store has seen, and of (ALL, "") when any record is counted."""
    wanted = sorted(set(pairs))
    values = sorted({v for _, v in wanted} | {""})
    fields = sorted({f for f, _ in wanted} | {ALL})
    # The fields too, so SQLite seeks the (field, value) key instead of scanning every term.
    query = f'SELECT field, value, "count" FROM mpi_terms WHERE field IN ({", ".join("?" * len(fields))})'
    query += " AND value IN ({})"
    counts: dict[tuple[str, str], int] = {}
    for i in range(0, len(values), CHUNK):
        part = values[i : i + CHUNK]
        for f, v, c in dbapi.fetchall(conn, query.format(", ".join("?" * len(part))), [*fields, *part]):
            counts[(f, v)] = c
    return counts


# --- reviews and manual decisions ----------------------------------------------------------------------------


@dataclass(slots=True)
class Review:
    id: int
    record_id: str
    candidate: str
    probability: float
    status: str
    created_at: float
    decided_at: float | None
    decided_by: str | None
    reason: str | None


def open_review(conn: Connection, record_id: str, candidate: str, probability: float, now: float) -> None:
    dbapi.executemany(
        conn,
        "INSERT INTO mpi_reviews (record_id, candidate, probability, status, created_at) VALUES (?, ?, ?, 'open', ?)",
        [(record_id, candidate, probability, now)],
    )


def reviews(conn: Connection, status: str | None = "open", review_id: int | None = None) -> list[Review]:
    query = "SELECT id, record_id, candidate, probability, status, created_at, decided_at, decided_by, reason"
    query += " FROM mpi_reviews WHERE 1 = 1"
    params: list[Any] = []
    if status is not None:
        query += " AND status = ?"
        params.append(status)
    if review_id is not None:
        query += " AND id = ?"
        params.append(review_id)
    return [Review(*row) for row in dbapi.fetchall(conn, query + " ORDER BY id", params)]


def reviews_of(conn: Connection, record_id: str, candidate: str) -> list[int]:
    """Ids of the open reviews of a record against a person (so an update does not queue the same one twice)."""
    query = "SELECT id FROM mpi_reviews WHERE record_id = ? AND candidate = ? AND status = 'open'"
    return [r[0] for r in dbapi.fetchall(conn, query, [record_id, candidate])]


def close_reviews(
    conn: Connection, record_id: str, status: str, actor: str, reason: str | None, now: float, review_id: int | None
) -> None:
    """Close the record's open reviews: the one decided gets ``status``, any others are void."""
    dbapi.executemany(
        conn,
        "UPDATE mpi_reviews SET status = CASE WHEN id = ? THEN ? ELSE 'void' END, decided_at = ?, decided_by = ?,"
        " reason = ? WHERE record_id = ? AND status = 'open'",
        [(review_id or -1, status, now, actor, reason, record_id)],
    )


def decide(
    conn: Connection, record_id: str, person: str, same: bool, actor: str, reason: str | None, now: float
) -> None:
    dbapi.executemany(conn, "DELETE FROM mpi_decisions WHERE record_id = ? AND person_id = ?", [(record_id, person)])
    dbapi.executemany(
        conn,
        "INSERT INTO mpi_decisions (record_id, person_id, same, actor, at, reason) VALUES (?, ?, ?, ?, ?, ?)",
        [(record_id, person, 1 if same else 0, actor, now, reason)],
    )


def not_same(conn: Connection, record_ids: Sequence[str]) -> set[tuple[str, str]]:
    """(record, person) pairs an operator said are never the same."""
    query = "SELECT record_id, person_id FROM mpi_decisions WHERE same = 0 AND record_id IN ({})"
    return {(r, p) for r, p in _in(conn, query, list(record_ids))}


def count(conn: Connection) -> int:
    """How many source records the index holds (a batch's progress total)."""
    return int(dbapi.fetchall(conn, "SELECT COUNT(*) FROM mpi_records", [])[0][0])

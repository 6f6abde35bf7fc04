"""Person resolution: which enterprise person a Patient is, behind one interface.

`PersonResolver` is what the record needs from identity; the master patient index
(``engine.pipeline.mpi.MpiResolver``) answers it.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Connection

from engine.domain.record.identity import Key
from engine.store import dbapi

CHUNK = 500  # bound parameters per IN list: far below every driver's limit


@dataclass(frozen=True, slots=True)
class Identification:
    """A Patient one source sent: its identifiers (FHIR Identifier dicts) and the whole resource."""

    source_system: str
    identifiers: Sequence[Mapping[str, Any]]
    patient: Mapping[str, Any] = field(default_factory=dict)


class PersonResolver(Protocol):
    def resolve(self, conn: Connection, requests: Sequence[Identification], now: float) -> list[str]:
        """The enterprise person of each request, in order, registering every identifier of each.

        A batch, so one lookup serves all of it; a later request sees the persons earlier ones created.
        """
        ...

    def find(self, conn: Connection, identifiers: Sequence[Mapping[str, Any]]) -> str | None:
        """The person these identifiers name today, registering nothing (None when none is known)."""
        ...

    def merge_persons(
        self,
        conn: Connection,
        surviving: str,
        retired: str,
        *,
        actor: str,
        reason: str,
        now: float,
        message_id: int | None = None,
    ) -> int:
        """Give everything of the retired person to the surviving one, kept for an unmerge; the merge id."""
        ...


_made = itertools.count()


def new_id(now: float) -> str:
    """32 hex digits: milliseconds since the epoch, a counter of this process, then 64 random bits.

    Time first, so new rows append to the end of each index instead of landing on random pages: measured,
    that made the record's inserts and its COMMIT cheaper than with uuid4. The counter orders the ids one
    process makes within a millisecond as it made them, so a tie broken by id (two persons the MPI scores alike)
    goes to the older one, whether the messages came in one batch or one by one.
    """
    return f"{int(now * 1000):012x}{next(_made) & 0xFFFF:04x}{os.urandom(8).hex()}"


def lookup(conn: Connection, keys: Iterable[Key]) -> dict[Key, str]:
    """The person holding each known (system, value)."""
    wanted = set(keys)
    values = sorted({value for _, value in wanted})
    found: dict[Key, str] = {}
    for i in range(0, len(values), CHUNK):
        part = values[i : i + CHUNK]
        query = f"SELECT system, value, person_id FROM record_identifiers WHERE value IN ({', '.join('?' * len(part))})"
        for system, value, person in dbapi.fetchall(conn, query, part):
            if (system, value) in wanted:
                found[(system, value)] = person
    return found


def create(conn: Connection, person: str, now: float) -> None:
    """A new enterprise person (the MPI found nobody it is)."""
    create_all(conn, [person], now)


def create_all(conn: Connection, persons: Sequence[str], now: float) -> None:
    dbapi.executemany(conn, "INSERT INTO record_persons (id, created_at) VALUES (?, ?)", [(p, now) for p in persons])


def identifiers_of(conn: Connection, person: str) -> list[Key]:
    """The (system, value) pairs a person holds, sorted."""
    query = "SELECT system, value FROM record_identifiers WHERE person_id = ? ORDER BY system, value"
    return [(system, value) for system, value in dbapi.fetchall(conn, query, [person])]


def register(conn: Connection, person: str, source_system: str, keys: Sequence[Key], now: float) -> None:
    """Identifiers nobody holds yet, given to ``person`` as ``source_system`` sent them."""
    register_all(conn, [(person, source_system, keys)], now)


def register_all(conn: Connection, grants: Sequence[tuple[str, str, Sequence[Key]]], now: float) -> None:
    """``register`` for each (person, source system, identifiers), in one statement."""
    dbapi.executemany(
        conn,
        "INSERT INTO record_identifiers (value, system, person_id, source_system, created_at) VALUES (?, ?, ?, ?, ?)",
        [(value, system, person, source, now) for person, source, keys in grants for system, value in keys],
    )


def give_identifiers(conn: Connection, surviving: str, retired: str) -> list[Key]:
    """Every identifier of the retired person to the surviving one (a merge); returns what moved."""
    moved = identifiers_of(conn, retired)
    dbapi.executemany(
        conn, "UPDATE record_identifiers SET person_id = ? WHERE person_id = ?", [(surviving, retired)]
    )
    return moved


def move_identifiers(conn: Connection, keys: Iterable[Key], holder: str, person: str) -> None:
    """These identifiers, where ``holder`` holds them, to ``person``."""
    dbapi.executemany(
        conn,
        "UPDATE record_identifiers SET person_id = ? WHERE system = ? AND value = ? AND person_id = ?",
        [(person, system, value, holder) for system, value in keys],
    )


def identifiers_from(conn: Connection, person: str, source_system: str) -> list[Key]:
    """The identifiers one system registered for the person or a person merged into it, oldest first."""
    return [
        (system, value)
        for system, value in dbapi.fetchall(
            conn,
            "SELECT i.system, i.value FROM record_identifiers i JOIN record_persons p ON p.id = i.person_id"
            " WHERE (p.id = ? OR p.merged_into = ?) AND i.source_system = ? ORDER BY i.created_at",
            (person, person, source_system),
        )
    ]


def first_values(conn: Connection, persons: Sequence[str], system: str) -> dict[str, str]:
    """Each person's first registered identifier value of ``system`` (persons without one are absent)."""
    found: dict[str, str] = {}
    for i in range(0, len(persons), CHUNK):
        part = persons[i : i + CHUNK]
        marks = ", ".join("?" * len(part))
        query = f"SELECT person_id, value FROM record_identifiers WHERE system = ? AND person_id IN ({marks})"
        found.update(dbapi.fetchall(conn, query + " ORDER BY created_at DESC", (system, *part)))  # earliest wins
    return found

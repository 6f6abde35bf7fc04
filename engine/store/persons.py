"""Person resolution: which enterprise person a Patient's identifiers name, behind one interface.

`PersonResolver` is what the record needs from identity; the deterministic resolver here answers it from
identifiers alone (resident ID first, then the source's MRN, else a new person) until the MPI issue brings
probabilistic matching, links and unmerge behind the same interface.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from sqlalchemy import Connection

from engine.domain.record import identity
from engine.domain.record.identity import Key
from engine.store import dbapi

log = structlog.get_logger("huitong.record")
CHUNK = 500  # bound parameters per IN list: far below every driver's limit


@dataclass(frozen=True, slots=True)
class Identification:
    """The identifiers (FHIR Identifier dicts) of a Patient one source sent."""

    source_system: str
    identifiers: Sequence[Mapping[str, Any]]


class PersonResolver(Protocol):
    def resolve(self, conn: Connection, requests: Sequence[Identification], now: float) -> list[str]:
        """The enterprise person of each request, in order, registering every identifier of each.

        A batch, so one lookup serves all of it; a later request sees the persons earlier ones created.
        """
        ...

    def find(self, conn: Connection, identifiers: Sequence[Mapping[str, Any]]) -> str | None:
        """The person these identifiers name today, registering nothing (None when none is known)."""
        ...

    def merge(self, conn: Connection, surviving: str, retired: str) -> list[Key]:
        """Give the retired person's identifiers to the surviving one; returns what moved (for unmerge)."""
        ...


def new_id(now: float) -> str:
    """32 hex digits: milliseconds since the epoch, then 80 random bits.

    Time first, so new rows append to the end of each index instead of landing on random pages: measured,
    that made the record's inserts and its COMMIT cheaper than with uuid4.
    """
    return f"{int(now * 1000):012x}{os.urandom(10).hex()}"


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


class DeterministicResolver:
    """Resident ID, then the source's MRN (system + value), else a new person."""

    def resolve(self, conn: Connection, requests: Sequence[Identification], now: float) -> list[str]:
        known = lookup(conn, (k for r in requests for k in identity.keys(r.identifiers)))
        new_persons: list[tuple[str, float]] = []
        new_identifiers: list[tuple[str, str, str, str, float]] = []
        persons: list[str] = []
        for request in requests:
            residents, mrns = identity.by_trust(request.identifiers)
            by_resident = next((known[k] for k in residents if k in known), None)
            by_mrn = next((known[k] for k in mrns if k in known), None)
            if by_resident and by_mrn and by_resident != by_mrn:
                # Two persons disagree; merging them is the MPI's decision, never a silent one here.
                log.warning(
                    "record.identity_conflict",
                    chosen=by_resident,
                    other=by_mrn,
                    source_system=request.source_system,
                    reason="the resident ID and the MRN belong to different persons; kept the resident ID's",
                )
            person = by_resident or by_mrn
            if person is None:
                person = new_id(now)
                new_persons.append((person, now))
            for k in identity.keys(request.identifiers):
                if k not in known:
                    known[k] = person
                    new_identifiers.append((k[1], k[0], person, request.source_system, now))
            persons.append(person)
        dbapi.executemany(conn, "INSERT INTO record_persons (id, created_at) VALUES (?, ?)", new_persons)
        dbapi.executemany(
            conn,
            "INSERT INTO record_identifiers (value, system, person_id, source_system, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            new_identifiers,
        )
        return persons

    def find(self, conn: Connection, identifiers: Sequence[Mapping[str, Any]]) -> str | None:
        residents, mrns = identity.by_trust(identifiers)
        others = identity.keys(identifiers)
        known = lookup(conn, others)
        return next((known[k] for k in [*residents, *mrns, *others] if k in known), None)

    def merge(self, conn: Connection, surviving: str, retired: str) -> list[Key]:
        moved = dbapi.fetchall(
            conn, "SELECT system, value FROM record_identifiers WHERE person_id = ? ORDER BY system, value", [retired]
        )
        dbapi.executemany(
            conn, "UPDATE record_identifiers SET person_id = ? WHERE person_id = ?", [(surviving, retired)]
        )
        return [(system, value) for system, value in moved]

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

"""An operator's search of the MPI (`huitong mpi search`): the persons a resident ID, name, phone may be.

Unlike matching an arriving record, a search also offers every person holding the searched phone and name
(as written, traditional or simplified, or in pinyin), scored like the blocked candidates.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from engine.domain.mpi import blocking
from engine.domain.mpi.matcher import Candidate, PersonScore
from engine.pipeline.mpi import MpiResolver
from engine.store import mpi as store


def search(conn: Connection, resolver: MpiResolver, row: dict[str, Any], limit: int) -> list[PersonScore]:
    """The best `limit` persons at least possible, matched by an identity rule, or holding phone and name."""
    exact = _holding(conn, row)
    candidates = resolver.candidates(conn, row)
    known = {c.record_id for c in candidates}
    candidates += [
        Candidate(r.id, r.person_id, r.features) for r in store.of_persons(conn, sorted(exact)) if r.id not in known
    ]
    found = resolver.matcher.persons(row, candidates, resolver.frequencies(conn, [row]))
    possible = resolver.settings.thresholds.possible
    return [s for s in found if s.probability >= possible or s.rule or s.person_id in exact][:limit]


def _holding(conn: Connection, row: dict[str, Any]) -> set[str]:
    """Persons on file with the searched phone and name (as written, traditional or simplified, or in pinyin)."""
    groups = [blocking.search_keys(row, ("phone",)), blocking.search_keys(row, ("name", "name_py"))]
    found = [store.persons_holding(conn, keys) for keys in groups if keys]
    return set.intersection(*found) if found else set()

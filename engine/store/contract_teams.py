"""Family-doctor teams and the residents contracted with them now, from the contract register.

A team is known by the id its contracts give it (``team.id`` of the snapshot); its residents are the persons of
its ACTIVE contracts, each as the person who stands for them today (after merges). The register is read a page at
a time; what is kept is one entry per team and its members' ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson
from sqlalchemy import Connection

from engine.store import dbapi, record

PAGE = 500


@dataclass(slots=True)
class Team:
    team_id: str
    name: str
    source_systems: set[str] = field(default_factory=set)
    members: set[str] = field(default_factory=set)


def teams(conn: Connection, team_id: str | None = None) -> dict[str, Team]:
    """Every team with an ACTIVE contract (or just ``team_id``'s), by team id."""
    out: dict[str, Team] = {}
    after: tuple[str, str] = ("", "")
    while True:
        rows = dbapi.fetchall(
            conn,
            "SELECT source_system, contract_id, person_id, snapshot FROM contracts WHERE status = 'ACTIVE'"
            " AND (source_system > ? OR (source_system = ? AND contract_id > ?))"
            " ORDER BY source_system, contract_id LIMIT ?",
            [after[0], after[0], after[1], PAGE],
        )
        for source_system, _, person, snapshot in rows:
            held = orjson.loads(snapshot)["team"]
            if team_id is not None and held["id"] != team_id:
                continue
            team = out.setdefault(held["id"], Team(held["id"], held["name"]))
            team.source_systems.add(source_system)
            team.members.add(record.surviving(conn, person) or person)
        if len(rows) < PAGE:
            return out
        after = (rows[-1][0], rows[-1][1])

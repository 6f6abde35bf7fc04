"""The audit trail: who changed or read what, when and why (reprocessing, MPI decisions, merges, prunes,
contracts, tokens, every read through the FHIR API); searched by `huitong audit` and served as AuditEvent."""

from __future__ import annotations

import getpass
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, func, select

from engine.store import dbapi
from engine.store.schema import audit


def who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def record(
    conn: Connection,
    action: str,
    target: str,
    detail: dict[str, Any],
    *,
    actor: str | None = None,
    at: float | None = None,
) -> None:
    # Plain SQL through the cursor: the MPI audits every automatic link, and a compiled insert cost ~350 µs.
    dbapi.executemany(
        conn,
        "INSERT INTO audit (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
        [(time.time() if at is None else at, actor or who(), action, target, orjson.dumps(detail).decode())],
    )


@dataclass(frozen=True, slots=True)
class Entry:
    """One row of the trail, its detail decoded."""

    id: int
    at: float
    actor: str
    action: str
    target: str
    detail: dict[str, Any]


def search(
    conn: Connection,
    *,
    targets: Sequence[str] | None = None,
    actors: Sequence[str] | None = None,
    actions: Sequence[str] | None = None,
    since: float | None = None,
    until: float | None = None,
    limit: int,
    offset: int = 0,
) -> tuple[int, list[Entry]]:
    """How many rows match (each filter given must hold; a list is any of its values), and a page of them,
    newest first. ``since`` is inclusive, ``until`` exclusive."""
    where: list[ColumnElement[bool]] = []
    for column, values in ((audit.c.target, targets), (audit.c.actor, actors), (audit.c.action, actions)):
        if values is not None:
            where.append(column.in_(list(values)))
    if since is not None:
        where.append(audit.c.at >= since)
    if until is not None:
        where.append(audit.c.at < until)
    total = conn.execute(select(func.count()).select_from(audit).where(*where)).scalar_one()
    rows = conn.execute(
        select(audit.c.id, audit.c.at, audit.c.actor, audit.c.action, audit.c.target, audit.c.detail)
        .where(*where)
        .order_by(audit.c.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return int(total), [_entry(r) for r in rows]


def entry(conn: Connection, entry_id: int) -> Entry | None:
    row = conn.execute(
        select(audit.c.id, audit.c.at, audit.c.actor, audit.c.action, audit.c.target, audit.c.detail).where(
            audit.c.id == entry_id
        )
    ).first()
    return None if row is None else _entry(row)


def _entry(row: Any) -> Entry:
    return Entry(int(row[0]), float(row[1]), row[2], row[3], row[4], orjson.loads(row[5]) if row[5] else {})

"""The care_tasks table: each person's tasks as last computed, so that a refresh can tell what changed.

One row per task id. The `task` column holds the whole task as JSON (its evidence and trigger, and the period it
was planned in, which a later refresh needs to recompute it); the other columns are copies to filter on.
Plain SQL through the DB-API cursor, as the record and MPI stores do: "end" is quoted, a reserved word in both
SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
from sqlalchemy import Connection

from engine.domain.care import Evidence, Period, Task, TaskState
from engine.store import dbapi


@dataclass(frozen=True)
class StoredTask:
    person_id: str
    task: Task
    period: Period  # the span the task was planned for
    updated_at: float


_COLUMNS = "person_id, task, updated_at"


def of_persons(conn: Connection, person_ids: Sequence[str]) -> dict[str, list[StoredTask]]:
    """Each person's stored tasks, by window start; one query per 500 persons."""
    out: dict[str, list[StoredTask]] = {p: [] for p in person_ids}
    for i in range(0, len(person_ids), 500):
        part = list(person_ids[i : i + 500])
        rows = dbapi.fetchall(
            conn,
            f"SELECT {_COLUMNS} FROM care_tasks WHERE person_id IN ({', '.join('?' * len(part))})"
            ' ORDER BY start, "end", rule, id',
            part,
        )
        for row in rows:
            out[row[0]].append(_decode(*row))
    return out


def listing(conn: Connection, *, state: TaskState | None = None, person_id: str | None = None) -> list[StoredTask]:
    """Stored tasks, optionally of one state and/or one person, by person then window start."""
    where, params = [], []
    if state is not None:
        where.append("state = ?")
        params.append(state.value)
    if person_id is not None:
        where.append("person_id = ?")
        params.append(person_id)
    query = f"SELECT {_COLUMNS} FROM care_tasks" + (f" WHERE {' AND '.join(where)}" if where else "")
    rows = dbapi.fetchall(conn, query + ' ORDER BY person_id, start, "end", rule, id', params)
    return [_decode(*row) for row in rows]


def search(
    conn: Connection,
    *,
    ids: Sequence[str] | None = None,
    persons: Sequence[str] | None = None,
    states: Sequence[TaskState] | None = None,
    rules: Sequence[str] | None = None,
    count: int,
    offset: int,
) -> tuple[int, list[StoredTask]]:
    """(how many tasks match, the page of ``count`` after ``offset``, by id); each filter given narrows the match."""
    where, params = [], []
    for column, values in (("id", ids), ("person_id", persons), ("state", states), ("rule", rules)):
        if values is not None:
            if not values:
                return 0, []
            where.append(f"{column} IN ({', '.join('?' * len(values))})")
            params += [v.value if isinstance(v, TaskState) else v for v in values]
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    total = dbapi.fetchall(conn, f"SELECT COUNT(*) FROM care_tasks{clause}", params)[0][0]
    rows = dbapi.fetchall(
        conn, f"SELECT {_COLUMNS} FROM care_tasks{clause} ORDER BY id LIMIT ? OFFSET ?", [*params, count, offset]
    )
    return int(total), [_decode(*row) for row in rows]


def upsert(conn: Connection, tasks: Sequence[StoredTask]) -> None:
    """Insert new tasks and overwrite stored ones with the same id (their state, evidence and time)."""
    if not tasks:
        return
    dbapi.executemany(
        conn,
        'INSERT INTO care_tasks (id, person_id, rule, label, start, "end", state, task, updated_at)'
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ' ON CONFLICT (id) DO UPDATE SET person_id = excluded.person_id, rule = excluded.rule,'
        ' label = excluded.label, start = excluded.start, "end" = excluded."end", state = excluded.state,'
        " task = excluded.task, updated_at = excluded.updated_at",
        [
            (
                s.task.id,
                s.person_id,
                s.task.rule,
                s.task.label,
                s.task.start.isoformat(),
                s.task.end.isoformat(),
                s.task.state.value,
                orjson.dumps(_encode(s.task, s.period)).decode(),
                s.updated_at,
            )
            for s in tasks
        ],
    )


def persons(conn: Connection) -> list[str]:
    """Every person of the record that is not merged into another: whom a full refresh covers."""
    rows = dbapi.fetchall(conn, "SELECT id FROM record_persons WHERE merged_into IS NULL ORDER BY id", [])
    return [r[0] for r in rows]


def _encode(task: Task, period: Period) -> dict[str, Any]:
    return {
        "id": task.id,
        "rule": task.rule,
        "label": task.label,
        "name": task.name,
        "start": task.start.isoformat(),
        "end": task.end.isoformat(),
        "state": task.state.value,
        "source": task.source,
        "evidence": _evidence_out(task.evidence),
        "trigger": _evidence_out(task.trigger),
        "period": {"start": period.start.isoformat(), "end": period.end.isoformat()},
    }


def _decode(person_id: str, text: str, updated_at: float) -> StoredTask:
    d = orjson.loads(text)
    task = Task(
        d["id"],
        d["rule"],
        d["label"],
        d["name"],
        date.fromisoformat(d["start"]),
        date.fromisoformat(d["end"]),
        TaskState(d["state"]),
        d["source"],
        _evidence_in(d["evidence"]),
        _evidence_in(d["trigger"]),
    )
    period = Period(date.fromisoformat(d["period"]["start"]), date.fromisoformat(d["period"]["end"]))
    return StoredTask(person_id, task, period, updated_at)


def _evidence_out(e: Evidence | None) -> dict[str, Any] | None:
    if e is None:
        return None
    return {"resource": e.resource, "fact": e.fact, "on": e.on.isoformat() if e.on else None, "source": e.source}


def _evidence_in(d: Mapping[str, Any] | None) -> Evidence | None:
    if d is None:
        return None
    return Evidence(d["resource"], d["fact"], date.fromisoformat(d["on"]) if d["on"] else None, d["source"])


def crossing(conn: Connection, on: date) -> list[str]:
    """Persons with a task whose window opened (PLANNED, start reached) or closed (DUE, end passed) by ``on``:
    the ones whose state moves with the calendar alone."""
    day = on.isoformat()
    rows = dbapi.fetchall(
        conn,
        "SELECT DISTINCT person_id FROM care_tasks WHERE (state = 'PLANNED' AND start <= ?)"
        ' OR (state = \'DUE\' AND "end" < ?) ORDER BY person_id',
        [day, day],
    )
    return [r[0] for r in rows]

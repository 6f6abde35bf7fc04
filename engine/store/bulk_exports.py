"""FHIR Bulk Data export jobs as rows: asked for, claimed by the daemon's exporter, finished, expired.

A job's row is its only state: the exporter claims it (accepted -> running), reports progress into it, and a
progress report that finds no row tells the exporter the job was cancelled (DELETE removes the row).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Row, delete, func, insert, select, update

from engine.store.schema import fhir_exports as t


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    token_id: str
    level: str  # system, patient or group
    group_id: str | None
    request: str
    types: tuple[str, ...]
    since: float | None
    transaction_time: float
    status: str  # accepted, running, completed or failed
    progress: str = ""
    output: tuple[dict[str, Any], ...] = ()  # the files written: type, name, count
    error: str | None = None
    expires_at: float | None = None


def _job(row: Row[Any]) -> Job:
    values = row._asdict()
    values["types"] = tuple(orjson.loads(values["types"]))
    values["output"] = tuple(orjson.loads(values["output"]))
    return Job(**values)


def create(conn: Connection, job: Job) -> None:
    values = {f: getattr(job, f) for f in Job.__dataclass_fields__}
    values["types"] = orjson.dumps(list(job.types)).decode()
    values["output"] = orjson.dumps(list(job.output)).decode()
    conn.execute(insert(t).values(**values))


def get(conn: Connection, job_id: str) -> Job | None:
    row = conn.execute(select(t).where(t.c.id == job_id)).first()
    return _job(row) if row is not None else None


def claim(conn: Connection) -> Job | None:
    """The oldest accepted job, now running; None when none waits (or another exporter took it first)."""
    row = conn.execute(
        select(t).where(t.c.status == "accepted").order_by(t.c.transaction_time, t.c.id).limit(1)
    ).first()
    if row is None:
        return None
    taken = conn.execute(update(t).where(t.c.id == row.id, t.c.status == "accepted").values(status="running"))
    return _job(row) if taken.rowcount == 1 else None


def report(conn: Connection, job_id: str, progress: str) -> bool:
    """Write the job's progress; False when the job is gone (cancelled)."""
    return conn.execute(update(t).where(t.c.id == job_id).values(progress=progress)).rowcount == 1


def finish(
    conn: Connection, job_id: str, output: Sequence[dict[str, Any]], error: str | None, expires_at: float
) -> bool:
    """Mark the job completed (``error`` None) or failed; False when it was cancelled meanwhile."""
    done = update(t).where(t.c.id == job_id)
    return (
        conn.execute(
            done.values(
                status="completed" if error is None else "failed",
                progress="",
                output=orjson.dumps(list(output)).decode(),
                error=error,
                expires_at=expires_at,
            )
        ).rowcount
        == 1
    )


def remove(conn: Connection, job_id: str) -> bool:
    return conn.execute(delete(t).where(t.c.id == job_id)).rowcount == 1


def requeue_running(conn: Connection) -> list[str]:
    """Jobs a stopped daemon left running, accepted again (they start over); their ids, whose files are stale."""
    ids = list(conn.execute(select(t.c.id).where(t.c.status == "running")).scalars())
    if ids:
        conn.execute(update(t).where(t.c.id.in_(ids)).values(status="accepted", progress=""))
    return ids


def expired(conn: Connection, now: float) -> list[str]:
    return list(conn.execute(select(t.c.id).where(t.c.expires_at <= now)).scalars())


def next_expiry(conn: Connection) -> float | None:
    """When the next finished job expires (None: none is finished)."""
    return conn.execute(select(func.min(t.c.expires_at))).scalar()


def known(conn: Connection, job_ids: Sequence[str]) -> set[str]:
    """Which of these job ids still have a row (files of the others are left-overs)."""
    found: set[str] = set()
    for i in range(0, len(job_ids), 500):
        found.update(conn.execute(select(t.c.id).where(t.c.id.in_(job_ids[i : i + 500]))).scalars())
    return found

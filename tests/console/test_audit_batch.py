"""Audit rows of concurrent reads on the HTTP surfaces: all on disk before each answer, in fewer commits."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, event

from engine.api.audit_batch import AuditBatch
from engine.store import audit
from engine.store.database import migrate, open_engine


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = open_engine(store_url)
    migrate(engine)
    yield engine
    engine.dispose()


def test_sixteen_concurrent_reads_are_all_audited_when_answered_in_fewer_commits(engine: Engine) -> None:
    commits: list[None] = []
    event.listen(engine, "commit", lambda _conn: commits.append(None))
    batch = AuditBatch(engine)

    async def read(i: int) -> int:
        await batch.record([("console.read", f"person-{i}", {"view": "record"}, f"user:u{i}")])
        with engine.connect() as conn:  # the reader's own row is there when its answer would leave
            total, _ = audit.search(conn, targets=[f"person-{i}"], limit=1)
        return total

    async def sixteen() -> list[int]:
        return await asyncio.gather(*(read(i) for i in range(16)))

    assert asyncio.run(sixteen()) == [1] * 16
    assert len(commits) < 16
    with engine.connect() as conn:
        assert audit.search(conn, actions=["console.read"], limit=1)[0] == 16


def test_a_failed_commit_reaches_every_reader_of_its_batch(engine: Engine) -> None:
    batch = AuditBatch(engine)
    unserialisable = {"view": object()}

    async def both() -> list[object]:
        return await asyncio.gather(
            batch.record([("console.read", "p1", unserialisable, "user:a")]),
            batch.record([("console.read", "p2", {"view": "record"}, "user:b")]),
            return_exceptions=True,
        )

    outcomes = asyncio.run(both())
    assert all(isinstance(o, TypeError) for o in outcomes)
    with engine.connect() as conn:
        assert audit.search(conn, targets=["p1", "p2"], limit=1)[0] == 0  # nothing half-written

"""The record stage works a batch at a time: the county's HIS messages recorded in one batch leave the record and
the care tasks that recording them one at a time leaves; a resident seen several times in a batch has the tasks
refreshed once; a message sent again unchanged writes nothing new."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine

from engine.config.mappings import load_mappings
from engine.domain.delivery import Delivery, Result, settle
from engine.domain.mapping import Mapped
from engine.domain.retry import RetryPolicy
from engine.pipeline.care_loop import CareLoop
from engine.pipeline.care_tasks import TaskChange
from engine.pipeline.mapping import map_message
from engine.pipeline.record import AppliedSummary, Provenance
from engine.pipeline.stages.record import RecordStage
from engine.store import dbapi
from engine.store.database import migrate, open_engine
from engine.store.fhir_index import TABLES
from tests.care.rules import shipped_care
from tests.record.test_record_batches import contents, wipe
from tests.support.corpus import SAMPLES
from tests.support.daemon import MAPPINGS
from tests.support.mpi import shipped_resolver

HIS = sorted((SAMPLES / "county" / "his").glob("*.hl7"))  # 16 messages, 陈桂兰 five times, 张淑珍 three
POLICY = RetryPolicy(5, "fixed", 1.0, 1.0, 2.0)


class Loop(CareLoop):
    """The care loop as shipped, keeping what it was asked: each batch's summaries and the persons refreshed."""

    def __init__(self) -> None:
        super().__init__(care_rules=shipped_care())
        self.summaries: list[AppliedSummary] = []
        self.refreshed: list[list[str]] = []

    def after_record(
        self,
        conn: Connection,
        items: Sequence[tuple[Mapped, Provenance]],
        summaries: Sequence[AppliedSummary],
        now: float,
    ) -> None:
        self.summaries.extend(summaries)
        super().after_record(conn, items, summaries, now)

    def refresh_tasks(self, conn: Connection, persons: Sequence[str], on: Any, now: float) -> list[TaskChange]:
        self.refreshed.append(list(persons))
        return super().refresh_tasks(conn, persons, on, now)


@pytest.fixture(params=["sqlite", "postgresql"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Engine, Engine]]:
    """Two empty stores on one backend: one for message by message, one for the batch."""
    from tests.conftest import postgres_schema_url

    schemas: list[Iterator[str]] = []
    engines = []
    for name in ("one", "batch"):
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / name}.db"
        else:
            schemas.append(postgres_schema_url())
            url = next(schemas[-1])
        engines.append(open_engine(url))
        migrate(engines[-1])
        wipe(engines[-1])
    yield engines[0], engines[1]
    for engine in engines:
        engine.dispose()
    for schema in schemas:
        next(schema, None)


def record(store: Engine, paths: Sequence[Path], batches: Sequence[int], first_id: int = 1) -> Loop:
    """The messages mapped, then written as a record worker writes them, ``batches`` messages per transaction."""
    mappings, errors = load_mappings(MAPPINGS)
    assert not errors
    loop = Loop()

    def mapper(d: Delivery) -> Mapped:
        return map_message(mappings, None, d.raw, format="hl7v2", charset="gb18030", source_system="his.county")

    stage = RecordStage("his", "his.county", mapper, shipped_resolver(), loop, POLICY)
    rows = [
        Delivery(n, n, "his", "record", "QUEUED", 0, path.read_bytes(), "ADT", f"C{n}")
        for n, path in enumerate(paths, first_id)
    ]
    start = 0
    for size in batches:
        batch = rows[start : start + size]
        results: list[Result] = [settle(row, asyncio.run(stage.send(row)), POLICY, 0.0) for row in batch]
        with store.begin() as conn:
            written = stage.write(conn, results)
        assert [r.error for r in written] == [None] * len(batch)
        start += size
    return loop


def tasks(store: Engine, names: dict[str, str]) -> list[tuple[str, ...]]:
    """Each stored task as (person, rule, label, window, state), the person by the name the record gives it."""
    with store.connect() as conn:
        rows = dbapi.fetchall(conn, 'SELECT person_id, rule, label, start, "end", state FROM care_tasks', [])
    return sorted((names[person], *rest) for person, *rest in rows)


def person_names(summaries: Sequence[AppliedSummary]) -> dict[str, str]:
    names: dict[str, str] = {}
    for n, summary in enumerate(summaries, 1):
        if summary.person_id is not None:
            names.setdefault(summary.person_id, f"person of message {n}")
    return names


def test_the_county_messages_in_one_batch_leave_the_record_and_tasks_of_one_at_a_time(
    stores: tuple[Engine, Engine],
) -> None:
    one, batch = stores
    alone = record(one, HIS, [1] * len(HIS))
    together = record(batch, HIS, [len(HIS)])
    assert contents(batch, together.summaries) == contents(one, alone.summaries)
    expected = tasks(one, person_names(alone.summaries))
    assert expected, "the county's hypertensive and diabetic residents have tasks"
    assert tasks(batch, person_names(together.summaries)) == expected


def test_a_resident_seen_several_times_in_a_batch_has_the_tasks_refreshed_once(stores: tuple[Engine, Engine]) -> None:
    _, batch = stores
    loop = record(batch, HIS, [len(HIS)])
    [refreshed] = loop.refreshed
    persons = [s.person_id for s in loop.summaries if s.person_id is not None]
    assert len(persons) > len(set(persons)), "the county's messages name some residents more than once"
    assert sorted(refreshed) == sorted(set(persons))


def rows_of(store: Engine) -> dict[str, int]:
    with store.connect() as conn:
        return {
            table: dbapi.fetchall(conn, f"SELECT COUNT(*) FROM {table}", [])[0][0]
            for table in ("record_resources", "record_versions", "record_identifiers", "mpi_records", *TABLES)
        }


def test_a_registration_sent_again_unchanged_writes_no_version_and_no_index_rows(
    stores: tuple[Engine, Engine],
) -> None:
    store, _ = stores
    [first] = record(store, HIS[:1], [1]).summaries
    before = rows_of(store)
    [again] = record(store, HIS[:1], [1], first_id=2).summaries
    assert (again.created, again.versioned, again.unchanged) == (0, 0, first.created)
    assert rows_of(store) == before

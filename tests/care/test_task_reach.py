"""Service reach: each task state change passed on once to the task-events channels, in the form each asks for."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date

import orjson
import pytest

from engine.config import TaskEventsSource
from engine.pipeline.care_events import CareEvents
from engine.pipeline.care_loop import CareLoop
from engine.store import care_tasks, dbapi
from tests.care.rules import shipped_care
from tests.care.test_task_store import Store, hypertensive


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    yield from hypertensive(store_url)


def loop() -> CareLoop:
    events = CareEvents(
        tasks={
            "worklist": TaskEventsSource(type="task-events", format="fhir"),
            "sms": TaskEventsSource(type="task-events", format="json", states=("OVERDUE",)),
        },
        node="test",
    )
    return CareLoop(events, care_rules=shipped_care())


def refresh(store: Store, on: str) -> None:
    with store.engine.begin() as conn:
        loop().refresh_tasks(conn, care_tasks.persons(conn), date.fromisoformat(on), time.time())


def journaled(store: Store) -> list[tuple[str, str, bytes]]:
    with store.engine.connect() as conn:
        rows = dbapi.fetchall(conn, "SELECT channel, message_type, raw FROM messages ORDER BY id", ())
    return [(c, t, bytes(r)) for c, t, r in rows]


def test_due_tasks_reach_the_worklist_as_fhir_tasks_and_only_states_asked_for_reach_the_gateway(store: Store) -> None:
    refresh(store, "2026-05-20")
    sent = journaled(store)
    assert {c for c, _, _ in sent} == {"worklist"}  # the gateway takes OVERDUE only
    assert sorted(t for _, t, _ in sent) == ["task.due", "task.due"]
    task = orjson.loads(sent[0][2])["entry"][0]
    assert task["resource"]["resourceType"] == "Task" and task["request"]["method"] == "PUT"


def test_the_same_state_is_passed_on_once(store: Store) -> None:
    refresh(store, "2026-05-20")
    refresh(store, "2026-05-21")
    assert len(journaled(store)) == 2


def test_a_window_that_closes_unserved_is_passed_on_as_overdue_to_both(store: Store) -> None:
    refresh(store, "2026-05-20")
    with store.engine.connect() as conn:
        assert care_tasks.crossing(conn, date(2026, 7, 1)) != []
        assert care_tasks.crossing(conn, date(2026, 5, 21)) == []
    refresh(store, "2026-07-01")
    later = journaled(store)[2:]
    overdue = [(c, orjson.loads(raw)) for c, t, raw in later if t == "task.overdue"]
    assert {c for c, _ in overdue} == {"worklist", "sms"}
    sms = next(body for c, body in overdue if c == "sms")
    assert (sms["before"], sms["state"]) == ("DUE", "OVERDUE") and sms["order_key"]

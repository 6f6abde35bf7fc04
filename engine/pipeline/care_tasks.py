"""Care tasks kept current: recompute each person's tasks from the unified record, store what changed, and say so.

The record is read as `record assess` reads it (engine/views/assessment.py); the pure rules of mappings/care/
decide the tasks and their states on a given date. The store holds each task's last state, so a refresh returns
only what is new or moved (DUE->DONE when a matching service arrived from any source, DUE->OVERDUE when the
window passed, ...): calling it twice returns nothing the second time, which is what lets service reach send
once per task state change.

Choices:
- A stored task that the record no longer calls for (its label is gone, the uncontrolled reading that triggered it
  was corrected) is kept as it was, not deleted: the doctor may have acted on it, and a push already made about it
  stays explained. It simply stops changing.
- Tasks are planned for the calendar year of `on`. A past year is recomputed too while it still holds a PLANNED or
  DUE task, so that a window open at the turn of the year is still judged (DONE or OVERDUE) after it; only tasks
  already stored are taken from a past year.
- A change of evidence alone (another reading inside the same window) is stored but is not a change of state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from sqlalchemy import Connection

from engine.domain.care import CareRules, Period, Task, TaskState, labels_of, tasks_for
from engine.domain.care.task_fhir import TaskChange
from engine.domain.record.precedence import Rules
from engine.store import care_tasks
from engine.store.care_tasks import StoredTask
from engine.views.assessment import resources_of
from engine.views.record_view import person_views

__all__ = ["TaskChange", "period_of", "refresh"]

_OPEN = frozenset({TaskState.PLANNED, TaskState.DUE})


def period_of(on: date) -> Period:
    """The span tasks are planned for: the calendar year of `on`, as `record assess` plans them."""
    return Period(date(on.year, 1, 1), date(on.year, 12, 31))


def refresh(
    conn: Connection,
    person_ids: Iterable[str],
    on: date,
    now: float,
    rules: CareRules,
    *,
    precedence: Mapping[str, Rules] | None = None,
) -> list[TaskChange]:
    """Recompute the persons' tasks on `on`, store the new and changed ones, return the changes of state.

    `rules` are those of mappings/care/; `precedence` is engine.yaml's record.precedence (which source's birth date
    counts, and so the resident's age), as `record assess` uses it.
    """
    changes: list[TaskChange] = []
    write: list[StoredTask] = []
    persons = list(dict.fromkeys(person_ids))
    held = care_tasks.of_persons(conn, persons)
    views = person_views(conn, persons, precedence or {})
    for person in persons:
        stored = {s.task.id: s for s in held[person]}
        resources = resources_of(views[person])
        labels = labels_of(rules.labels, resources, on)
        current = period_of(on)
        past = {s.period for s in stored.values() if s.task.state in _OPEN and s.period != current}
        computed: dict[str, tuple[Task, Period]] = {}
        for period in sorted(past, key=lambda p: p.start):
            for task in tasks_for(rules.tasks, labels, resources, on, period):
                if task.id in stored:
                    computed[task.id] = (task, period)
        for task in tasks_for(rules.tasks, labels, resources, on, current):
            computed[task.id] = (task, current)
        for task, period in computed.values():
            before = stored.get(task.id)
            if before is not None and before.task == task and before.period == period:
                continue
            write.append(StoredTask(person, task, period, now))
            if before is None or before.task.state is not task.state:
                changes.append(TaskChange(person, task, before.task.state if before else None))
    care_tasks.upsert(conn, write)
    return changes

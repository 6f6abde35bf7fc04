"""Care tasks as FHIR R4 Task: the family doctor's worklist read by another system (the loop's task step).

Tasks are no record resources: they live in care_tasks, recomputed by the care loop, so they have no version
history; ``meta.lastUpdated`` is when the loop last changed the task. ``Task.for`` is the enterprise Patient
(``Patient/<person id>``), readable through the same API.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Connection

from engine.domain.care.task_fhir import CARE_CODES, fhir_task, states_of
from engine.store import care_tasks
from engine.store.care_tasks import StoredTask
from engine.views.fhir import BadRequest, instant, paging, person

PARAMETERS = {"patient": "reference", "status": "token", "code": "token", "_id": "token"}


def resource(stored: StoredTask) -> dict[str, Any]:
    body = fhir_task(stored.task, resident_id=None, person_id=stored.person_id, doctor=None)
    return {"resourceType": "Task", "id": stored.task.id, "meta": {"lastUpdated": instant(stored.updated_at)}, **body}


def read(conn: Connection, ident: str) -> StoredTask | None:
    _, found = care_tasks.search(conn, ids=[ident], count=1, offset=0)
    return found[0] if found else None


def search(
    conn: Connection, base: str, query: Sequence[tuple[str, str]], max_count: int, bound: str | None
) -> tuple[dict[str, Any], list[StoredTask]]:
    """A searchset Bundle of tasks by ``patient``, ``status`` (FHIR's), ``code`` (the care rule), ``_id``."""
    count, offset = paging(query, max_count)
    asked: dict[str, list[str]] = {}
    for name, value in query:
        if name in ("_count", "_offset", "_format"):
            continue
        if name not in PARAMETERS:
            raise BadRequest(f"{name} is not a search parameter served for Task; these are: {', '.join(PARAMETERS)}")
        values = [v for v in value.split(",") if v]
        if not values:
            raise BadRequest(f"{name}: a value is required")
        asked[name] = values
    persons = None
    if "patient" in asked:
        persons = sorted({p for v in asked["patient"] if (p := person(conn, v)) is not None})
    if bound is not None:
        persons = [bound] if persons is None or bound in persons else []
    states = None if "status" not in asked else [s for v in asked["status"] for s in states_of(v)]
    rules = None if "code" not in asked else [v.removeprefix(f"{CARE_CODES}|") for v in asked["code"]]
    total, page = care_tasks.search(
        conn, ids=asked.get("_id"), persons=persons, states=states, rules=rules, count=count, offset=offset
    )
    kept = [(n, v) for n, v in query if n not in ("_count", "_offset", "_format")]
    links = [{"relation": "self", "url": _url(base, kept, count, offset)}]
    if count and offset + count < total:
        links.append({"relation": "next", "url": _url(base, kept, count, offset + count)})
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
        "entry": [
            {"fullUrl": f"{base}/Task/{s.task.id}", "resource": resource(s), "search": {"mode": "match"}} for s in page
        ],
    }, page


def _url(base: str, kept: list[tuple[str, str]], count: int, offset: int) -> str:
    return f"{base}/Task?{urlencode([*kept, ('_count', str(count)), *([('_offset', str(offset))] if offset else [])])}"

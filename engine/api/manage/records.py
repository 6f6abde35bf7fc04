"""/api/v1/persons/{person}/record and /api/v1/tasks: a resident's 360° view (huitong record show, with contracts
and tasks) and the care tasks (huitong tasks list). Both show residents' data: ``clinical``, and audited."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import Connection

from engine.domain.care import TaskState
from engine.domain.care.task_fhir import task_fields
from engine.domain.instants import local_iso
from engine.domain.roles import Role
from engine.store import care_tasks
from engine.views.record_view import find_person
from engine.views.resident_file import resident_file

from ..console import Part
from . import openapi
from .common import API, MAX_LIMIT, BadRequest, answer, int_param, json_errors
from .openapi import Param
from .people_service import People, require_all

READ = (Role.CLINICAL,)
STATES = tuple(s.value for s in TaskState)


async def resident(people: People, request: web.Request, text: str) -> dict[str, Any]:
    """The person ``text`` names (person id, resident ID, system|value), their record, contracts and tasks."""
    user = require_all(request, READ)
    precedence = people.config().record.precedence

    def job(conn: Connection) -> dict[str, Any]:
        return resident_file(conn, find_person(conn, text), precedence)

    found: dict[str, Any] = await people.read(job)
    await people.seen(request, user, [found["person"]], "record")
    return found


async def tasks(people: People, request: web.Request) -> dict[str, Any]:
    """A page of care tasks, filtered by state, person and rule (by task id, like FHIR Task search)."""
    user = require_all(request, READ)
    query = request.query
    state = query.get("state", "").upper()
    if state and state not in STATES:
        raise BadRequest(f"state: one of {', '.join(STATES)}, not {state!r}")
    limit, offset = int_param(request, "limit", 50, 1, MAX_LIMIT), int_param(request, "offset", 0, 0, 10_000_000)
    who, rule = query.get("person", ""), query.get("rule", "")

    def job(conn: Connection) -> tuple[int, list[care_tasks.StoredTask]]:
        return care_tasks.search(
            conn,
            persons=[find_person(conn, who)] if who else None,
            states=[TaskState(state)] if state else None,
            rules=[rule] if rule else None,
            count=limit,
            offset=offset,
        )

    total, page = await people.read(job)
    await people.seen(request, user, [s.person_id for s in page], "tasks")
    return {
        "total": total,
        "offset": offset,
        "tasks": [{**task_fields(s.person_id, s.task), "updated_at": local_iso(s.updated_at)} for s in page],
    }


def part(people: People) -> Part:
    def add(app: web.Application) -> None:
        async def record(request: web.Request) -> web.Response:
            return answer(await resident(people, request, request.match_info["person"]))

        async def task_list(request: web.Request) -> web.Response:
            return answer(await tasks(people, request))

        app.router.add_get(API + "/persons/{person}/record", json_errors(record))
        openapi.register(
            app, "GET", "/persons/{person}/record",
            "a resident's 360° view: demographics with sources, the record in time order, contracts, tasks", READ,
            params=[Param("person", "path", "person id, resident ID (18 digits), or a source MRN as system|value")],
            not_found="no person, or several, hold that identifier",
        )
        app.router.add_get(API + "/tasks", json_errors(task_list))
        openapi.register(
            app, "GET", "/tasks", "care tasks, a page at a time", READ,
            params=[
                Param("state", "query", "PLANNED, DUE, OVERDUE, DONE or LOST"),
                Param("person", "query", "person id, resident ID, or system|value"),
                Param("rule", "query", "the care rule that made the task"),
                Param("limit", "query", f"tasks per page (default 50, at most {MAX_LIMIT})", "integer"),
                Param("offset", "query", "tasks to skip", "integer"),
            ],
            not_found="no person holds that identifier",
        )

    return add

"""/api/v1/audit: the audit trail, newest first, a page at a time (huitong audit --json: details whole, which
is why it needs ``admin``). Reading the trail is not itself audited, as with FHIR AuditEvent."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import Connection

from engine.domain.instants import local_iso
from engine.domain.roles import Role
from engine.store import audit, record
from engine.views.record_view import find_person

from ..access import require
from ..console import Part
from . import openapi
from .common import API, MAX_LIMIT, answer, int_param, json_errors, time_param
from .openapi import Param
from .people_service import People


async def trail(people: People, request: web.Request) -> dict[str, Any]:
    """Rows matching every filter given (``actor`` and ``action`` repeatable), and how many match in all."""
    require(request, Role.ADMIN)
    query = request.query
    limit, offset = int_param(request, "limit", 50, 1, MAX_LIMIT), int_param(request, "offset", 0, 0, 10_000_000)
    since, until = time_param(request, "since"), time_param(request, "until")
    patient = query.get("patient", "")
    actors, actions = query.getall("actor", []) or None, query.getall("action", []) or None

    def job(conn: Connection) -> tuple[int, list[audit.Entry]]:
        targets = None
        if patient:
            persons = record.merged_persons(conn, find_person(conn, patient))
            targets = [t for p in persons for t in (p, f"person:{p}")]
        return audit.search(
            conn, targets=targets, actors=actors, actions=actions, since=since, until=until, limit=limit, offset=offset
        )

    total, rows = await people.read(job)
    return {
        "total": total,
        "offset": offset,
        "rows": [
            {"id": r.id, "at": local_iso(r.at), "actor": r.actor, "action": r.action, "target": r.target,
             "detail": r.detail}
            for r in rows
        ],
    }


def part(people: People) -> Part:
    def add(app: web.Application) -> None:
        async def search(request: web.Request) -> web.Response:
            return answer(await trail(people, request))

        app.router.add_get(API + "/audit", json_errors(search))
        openapi.register(
            app, "GET", "/audit", "the audit trail, newest first", (Role.ADMIN,),
            params=[
                Param("patient", "query", "rows about this resident (and persons merged into it)"),
                Param("actor", "query", "who: user:<name>, token:<id>, an operator's login, a channel"),
                Param("action", "query", "e.g. console.read, fhir.read, mpi.merge"),
                Param("since", "query", "from this ISO time on"),
                Param("until", "query", "before this ISO time"),
                Param("limit", "query", f"rows per page (default 50, at most {MAX_LIMIT})", "integer"),
                Param("offset", "query", "rows to skip", "integer"),
            ],
            not_found="no person holds that identifier",
        )

    return add

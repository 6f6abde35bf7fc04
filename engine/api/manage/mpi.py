"""/api/v1/mpi: the review queue, a review with its score waterfall, explain, a person's records, and the operator
changes (accept, reject, merge, unmerge, link, unlink) made by the same engine functions as `huitong mpi`.

Roles: the MPI shows residents' identities, so reading it needs ``clinical``; a change alters identities, so it
needs ``operator`` and ``clinical`` both (admin holds both). Reads of identities are audited; each change is
audited by the MPI itself with the user as actor, the person before and after, and the reason given.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web
from sqlalchemy import Connection

from engine.domain.roles import Role
from engine.store import mpi as store
from engine.views import mpi_review
from engine.views.record_view import find_person

from ..console import Part
from . import openapi
from .common import API, BadRequest, answer, json_body, json_errors
from .openapi import Param
from .people_service import People, actor, require_all, text_field

READ = (Role.CLINICAL,)
CHANGE = (Role.OPERATOR, Role.CLINICAL)
STATUSES = ("open", "accepted", "rejected", "all")
_REASON = {"type": "string", "description": "why: kept in the audit trail"}


def _reviews(conn: Connection, status: str) -> list[dict[str, Any]]:
    items = store.reviews(conn, None if status == "all" else status)
    sources = {r.id: r.source_system for r in store.by_ids(conn, [i.record_id for i in items])}
    return [{**mpi_review.review_json(r), "source_system": sources.get(r.record_id)} for r in items]


async def review_queue(people: People, request: web.Request) -> list[dict[str, Any]]:
    """The queue, oldest first: ids, source system and probability only (no personal data, so not audited)."""
    require_all(request, READ)
    status = request.query.get("status", "open")
    if status not in STATUSES:
        raise BadRequest(f"status: one of {', '.join(STATUSES)}, not {status!r}")
    result: list[dict[str, Any]] = await people.read(lambda conn: _reviews(conn, status))
    return result


async def review(people: People, request: web.Request, review_id: int) -> dict[str, Any]:
    """One review: the arriving record, the candidate's closest record and their waterfall (audited)."""
    user = require_all(request, READ)
    scorer = people.identities()
    detail: dict[str, Any] = await people.read(lambda conn: mpi_review.review_detail(conn, scorer, review_id))
    await people.seen(request, user, [detail["record"]["person"], detail["candidate"]["person"]], "mpi.review")
    return detail


async def decide(people: People, request: web.Request, review_id: int, verdict: str) -> dict[str, Any]:
    """Accept (the record is the candidate person) or reject (never the same person) a review."""
    user = require_all(request, CHANGE)
    reason = text_field(await json_body(request), "reason", required=False)
    mpi = people.identities()
    now = time.time()
    if verdict == "accept":
        person = await people.write(
            lambda conn: mpi.accept(conn, review_id, actor=actor(user), reason=reason, now=now)
        )
        return {"review": review_id, "status": "accepted", "person": person}
    await people.write(lambda conn: mpi.reject(conn, review_id, actor=actor(user), reason=reason, now=now))
    return {"review": review_id, "status": "rejected"}


def part(people: People) -> Part:
    def add(app: web.Application) -> None:
        async def queue(request: web.Request) -> web.Response:
            return answer(await review_queue(people, request))

        async def one(request: web.Request) -> web.Response:
            return answer(await review(people, request, int(request.match_info["id"])))

        async def accept(request: web.Request) -> web.Response:
            return answer(await decide(people, request, int(request.match_info["id"]), "accept"))

        async def reject(request: web.Request) -> web.Response:
            return answer(await decide(people, request, int(request.match_info["id"]), "reject"))

        async def explain(request: web.Request) -> web.Response:
            user = require_all(request, READ)
            a, b = request.query.get("a", ""), request.query.get("b", "")
            if not a or not b:
                raise BadRequest("a and b: two MPI record ids or persons are required")
            scorer = people.identities()

            def job(conn: Connection) -> dict[str, Any]:
                left, right = mpi_review.record_of(conn, a), mpi_review.record_of(conn, b)
                e = mpi_review.explain(scorer, conn, left, right)
                return {
                    "a": mpi_review.compared(left),
                    "b": mpi_review.compared(right),
                    **mpi_review.explanation_json(e, scorer.settings),
                }

            found: dict[str, Any] = await people.read(job)
            await people.seen(request, user, [found["a"]["person"], found["b"]["person"]], "mpi.explain")
            return answer(found)

        async def person(request: web.Request) -> web.Response:
            user = require_all(request, READ)
            text = request.match_info["person"]
            found: dict[str, Any] = await people.read(lambda conn: mpi_review.person_records(conn, text))
            await people.seen(request, user, [found["person"]], "mpi.person")
            return answer(found)

        async def merge(request: web.Request) -> web.Response:
            user = require_all(request, CHANGE)
            body = await json_body(request)
            surviving, retired = text_field(body, "surviving"), text_field(body, "retired")
            reason, mpi, now = text_field(body, "reason"), people.identities(), time.time()

            def job(conn: Connection) -> dict[str, Any]:
                kept, gone = find_person(conn, surviving), find_person(conn, retired)
                merge_id = mpi.merge_persons(conn, kept, gone, actor=actor(user), reason=reason, now=now)
                return {"merge": merge_id, "surviving": kept, "retired": gone}

            return answer(await people.write(job))

        async def unmerge(request: web.Request) -> web.Response:
            user = require_all(request, CHANGE)
            merge_id = int(request.match_info["id"])
            reason, mpi, now = text_field(await json_body(request), "reason"), people.identities(), time.time()
            surviving, retired = await people.write(
                lambda conn: mpi.unmerge(conn, merge_id, actor=actor(user), reason=reason, now=now)
            )
            return answer({"merge": merge_id, "surviving": surviving, "retired": retired, "undone": True})

        async def link(request: web.Request) -> web.Response:
            user = require_all(request, CHANGE)
            body = await json_body(request)
            record, target = text_field(body, "record"), text_field(body, "person")
            reason, mpi, now = text_field(body, "reason"), people.identities(), time.time()

            def job(conn: Connection) -> str:
                found = find_person(conn, target)
                mpi.link(conn, record, found, actor=actor(user), reason=reason, now=now)
                return found

            return answer({"record": record, "person": await people.write(job)})

        async def unlink(request: web.Request) -> web.Response:
            user = require_all(request, CHANGE)
            body = await json_body(request)
            record, reason = text_field(body, "record"), text_field(body, "reason")
            mpi, now = people.identities(), time.time()
            found = await people.write(lambda conn: mpi.unlink(conn, record, actor=actor(user), reason=reason, now=now))
            return answer({"record": record, "person": found})

        review_id = Param("id", "path", "review id (huitong mpi review list)", "integer")
        routes = [
            ("GET", "/mpi/reviews", queue, "the review queue, oldest first", READ,
             [Param("status", "query", "open (default), accepted, rejected or all")], None),
            ("GET", "/mpi/reviews/{id}", one, "a review: both records and the score waterfall", READ,
             [review_id], None),
            ("POST", "/mpi/reviews/{id}/accept", accept, "the record is the candidate person", CHANGE,
             [review_id], {"type": "object", "properties": {"reason": _REASON}}),
            ("POST", "/mpi/reviews/{id}/reject", reject, "never the same person", CHANGE,
             [review_id], {"type": "object", "properties": {"reason": _REASON}}),
            ("GET", "/mpi/explain", explain, "why two records score what they score (a waterfall)", READ,
             [Param("a", "query", "MPI record id, or a person", required=True),
              Param("b", "query", "MPI record id, or a person", required=True)], None),
            ("GET", "/mpi/persons/{person}", person, "a person's source records, merges and open reviews", READ,
             [Param("person", "path", "person id, resident ID, or system|value")], None),
            ("POST", "/mpi/merge", merge, "merge the retired person into the surviving one", CHANGE, [],
             {"type": "object", "required": ["surviving", "retired", "reason"],
              "properties": {"surviving": {"type": "string"}, "retired": {"type": "string"}, "reason": _REASON}}),
            ("POST", "/mpi/merges/{id}/unmerge", unmerge, "undo a merge exactly", CHANGE,
             [Param("id", "path", "merge id (mpi/persons/{person})", "integer")],
             {"type": "object", "required": ["reason"], "properties": {"reason": _REASON}}),
            ("POST", "/mpi/link", link, "a source record is that person (sticky)", CHANGE, [],
             {"type": "object", "required": ["record", "person", "reason"],
              "properties": {"record": {"type": "string"}, "person": {"type": "string"}, "reason": _REASON}}),
            ("POST", "/mpi/unlink", unlink, "a source record is not its person (sticky)", CHANGE, [],
             {"type": "object", "required": ["record", "reason"],
              "properties": {"record": {"type": "string"}, "reason": _REASON}}),
        ]
        for method, path, handler, summary, roles, params, body in routes:
            route = path.replace("{id}", "{id:[0-9]{1,18}}")
            app.router.add_route(method, API + route, json_errors(handler))
            openapi.register(
                app, method, path, summary, roles, params=params, body=body,
                not_found="no such review, record, merge or person",
                conflict="the MPI cannot do it as asked (the error says why)" if method == "POST" else None,
            )

    return add


"""The console's operations pages: the dashboard (channels, the per-minute chart, queues, dead letters, nodes), the
message browser, and one message in full with reprocess -- built from the same views and the same audited reads
as the management API (engine/api/manage), which the pages' scripts call for the chart and for reprocessing."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web
from sqlalchemy import Connection, Engine

from engine.api.access import require
from engine.api.console import Part
from engine.api.manage.common import MAX_LIMIT, id_param, int_param, read
from engine.api.manage.messages import content_of, one, searched
from engine.api.manage.operations import Operations
from engine.api.shared_read import SharedRead
from engine.domain.outcome import MessageStatus
from engine.domain.roles import Role
from engine.views import messages

from .render import page, render, static

PAGE = 50


def part(store: Engine, ops: Operations) -> Part:
    shared = SharedRead()  # the dashboard's counts, read once for the operators who load it together

    async def go_to_dashboard(_request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/ui/")

    @page
    async def dashboard(request: web.Request) -> web.StreamResponse:
        require(request, Role.VIEWER)
        states = list(ops.channels())
        names, now = [s.name for s in states], time.time()

        def job(conn: Connection) -> dict[str, Any]:
            return {
                "totals": messages.channel_totals(conn, names),
                "queues": messages.queue_depths(conn, now),
                "dead_letters": messages.dead_letters(conn, channel=None, destination=None, limit=20, offset=0),
                "nodes": messages.nodes(conn, names, now),
            }

        shown = await shared.get(tuple(names), lambda: read(store, job))
        return render(request, "dashboard.html", channels=states, **shown)

    @page
    async def browser(request: web.Request) -> web.StreamResponse:
        offset = int_param(request, "offset", 0, 0, 10_000_000)
        limit = int_param(request, "limit", PAGE, 1, MAX_LIMIT)
        found = await searched(request, store, ops, limit=limit, offset=offset)
        query = {k: v for k, v in request.query.items() if k not in ("offset", "lang") and v}
        return render(
            request,
            "messages.html",
            found=[messages.summary(v) for v in found.messages],
            text_search=found.text_search,
            query=query,
            statuses=list(MessageStatus),
            channels=[s.name for s in ops.channels()],
            offset=offset,
            limit=limit,
        )

    @page
    async def message(request: web.Request) -> web.StreamResponse:
        require(request, Role.VIEWER)
        message_id = id_param(request)
        user = request["user"]
        if user.may(Role.CLINICAL):
            shown = await content_of(request, store, ops, message_id)
        else:
            shown = messages.summary(await one(store, message_id, with_content=False))
        return render(request, "message.html", message=shown)

    def add(app: web.Application) -> None:
        static(app)
        app.router.add_get("/", go_to_dashboard)
        app.router.add_get("/ui", go_to_dashboard)
        app.router.add_get("/ui/", dashboard)
        app.router.add_get("/ui/messages", browser)
        app.router.add_get("/ui/messages/{id}", message)

    return add

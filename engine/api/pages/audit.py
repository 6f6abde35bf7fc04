"""/ui/audit: the audit trail a page at a time, newest first, with the details masked as `huitong audit` masks them
(the full rows are in the management API, for an investigation)."""

from __future__ import annotations

import orjson
from aiohttp import web

from engine.domain.masking import mask_text

from ..console import Part
from ..manage import audit
from ..manage.people_service import People
from .render import page, render


def part(people: People) -> Part:
    def add(app: web.Application) -> None:
        async def show(request: web.Request) -> web.Response:
            trail = await audit.trail(people, request)
            rows = [{**r, "detail": mask_text(orjson.dumps(r["detail"]).decode())} for r in trail["rows"]]
            offset, shown = trail["offset"], len(rows)
            limit = int(request.query.get("limit", "50"))
            previous = request.rel_url.update_query(offset=max(0, offset - limit)) if offset > 0 else None
            more = request.rel_url.update_query(offset=offset + shown) if offset + shown < trail["total"] else None
            return render(
                request,
                "audit.html",
                trail=trail,
                rows=rows,
                first=offset + 1 if shown else 0,
                last=offset + shown,
                previous=str(previous) if previous is not None else None,
                next=str(more) if more is not None else None,
                request_query=request.query,
            )

        app.router.add_get("/ui/audit", page(show))

    return add

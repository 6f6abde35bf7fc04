"""/ui/mpi/reviews: the MPI review queue, and one review with its score waterfall (an ECharts chart of each
comparison's weight) and the accept/reject buttons, which call the management API."""

from __future__ import annotations

from aiohttp import web

from ..console import Part
from ..manage import mpi
from ..manage.people_service import People
from .render import page, render


def part(people: People) -> Part:
    def add(app: web.Application) -> None:
        async def queue(request: web.Request) -> web.Response:
            return render(request, "mpi_queue.html", reviews=await mpi.review_queue(people, request))

        async def one(request: web.Request) -> web.Response:
            detail = await mpi.review(people, request, int(request.match_info["id"]))
            return render(request, "mpi_review.html", detail=detail)

        app.router.add_get("/ui/mpi/reviews", page(queue))
        app.router.add_get("/ui/mpi/reviews/{id:[0-9]{1,18}}", page(one))

    return add

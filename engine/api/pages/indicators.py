"""/ui/indicators: the indicators of a period by institution and team, as an ECharts bar chart (one indicator at a
time, chosen on the page) and the whole table."""

from __future__ import annotations

from datetime import date

from aiohttp import web

from ..console import Part
from ..manage import indicators
from ..manage.people_service import People
from .i18n import language
from .render import page, render


def _this_quarter(today: date) -> str:
    return f"{today.year}Q{(today.month - 1) // 3 + 1}"


def part(people: People) -> Part:
    def add(app: web.Application) -> None:
        async def show(request: web.Request) -> web.Response:
            if "period" not in request.query:
                raise web.HTTPFound(request.rel_url.update_query(period=_this_quarter(date.today())))
            try:
                table = await indicators.table(people, request)
            except indicators.NotConfigured as exc:
                return render(request, "refused.html", 503, code=503, reason=str(exc))
            name = "name_en" if language(request) == "en" else "name_zh"
            return render(
                request,
                "indicators.html",
                table=table,
                names={i["code"]: i[name] for i in table["indicators"]},
                period=request.query["period"],
                org=request.query.get("org", ""),
                team=request.query.get("team", ""),
            )

        app.router.add_get("/ui/indicators", page(show))

    return add

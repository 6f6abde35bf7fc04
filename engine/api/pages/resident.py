"""/ui/residents: a resident's 360° view, the health-record browser: demographics with the systems each value came
from, the record in time order with each entry's sources, the family-doctor contracts and the care tasks."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from engine.domain.record.summary import describe

from ..console import Part
from ..manage import records
from ..manage.people_service import People
from .render import page, render


def _timeline(file: dict[str, Any]) -> list[dict[str, Any]]:
    """Every entry of every section, oldest first (undated ones last), each with its section."""
    entries = [{**e, "section": name} for name, items in file["sections"].items() for e in items]
    return sorted(entries, key=lambda e: (not e["date"], e["date"]))


def part(people: People) -> Part:
    def add(app: web.Application) -> None:
        async def resident(request: web.Request) -> web.Response:
            text = request.match_info.get("person") or request.query.get("q", "").strip()
            if not text:
                return render(request, "resident.html", query="", file=None)
            file = await records.resident(people, request, text)
            demographics = [
                (key, {"text": describe(d["value"]), "sources": d["sources"]})
                for key, d in file["demographics"].items()
            ]
            return render(
                request, "resident.html", query=text, file=file, demographics=demographics, timeline=_timeline(file)
            )

        app.router.add_get("/ui/residents", page(resident))
        app.router.add_get("/ui/residents/{person}", page(resident))

    return add

"""/api/v1/indicators: the family-doctor and public-health indicators of a period by institution and team
(huitong indicators, the same computation). Aggregates only, so ``viewer`` may read them; not audited."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from sqlalchemy import Connection

from engine.config.orgs import load_organisations, registry_file
from engine.domain.indicators import parse_period, to_json
from engine.domain.orgs import OrgTree, UnknownCode
from engine.domain.roles import Role
from engine.views.indicators import OutsideScope, indicator_rows, scope_of

from ..access import require
from ..console import Part
from . import openapi
from .common import API, BadRequest, answer, json_errors, refusal
from .openapi import Param
from .people_service import People


class NotConfigured(RuntimeError):
    """The engine has no organisation registry or indicator definitions to compute with (503 with the reason)."""


def _registry(config_path: Path) -> tuple[Path, OrgTree]:
    registry = registry_file(config_path)
    orgs, errors = load_organisations(registry)
    if orgs is None or errors:
        raise NotConfigured("; ".join(str(e) for e in errors) or f"no organisations in {registry}")
    return registry, orgs


async def table(people: People, request: web.Request) -> dict[str, Any]:
    """The rows of a period (``period``: 2026, 2026Q3, 2026-07), for ``org`` and what is below it, or ``team``."""
    require(request, Role.VIEWER)
    query = request.query
    try:
        period = parse_period(query.get("period", ""))
    except ValueError as exc:
        raise BadRequest(f"period: {exc}") from None
    config = people.config()
    inputs = config.rules.record_inputs
    if inputs is None:
        raise NotConfigured(f"no indicator definitions and record inputs in {config.mappings_dir}")
    org, team = query.get("org") or None, query.get("team") or None

    def job(conn: Connection) -> dict[str, Any]:
        registry, orgs = _registry(config.path)
        try:
            scope = scope_of(orgs, org, team)
        except (UnknownCode, OutsideScope) as exc:
            raise BadRequest(str(exc)) from None
        try:
            rows = indicator_rows(
                conn, config.record.precedence, orgs, config.rules.indicators, inputs, period, scope
            )
        except UnknownCode as exc:
            raise NotConfigured(f"the record names {exc}; add it to {registry}") from None
        return {
            "period": {"label": period.label, "start": period.start.isoformat(), "end": period.end.isoformat()},
            "indicators": [
                {"code": i.code, "name_zh": i.name_zh, "name_en": i.name_en, "unit": i.unit}
                for i in config.rules.indicators
            ],
            "rows": orjson.loads(to_json(rows, orgs)),
        }

    result: dict[str, Any] = await people.read(job)
    return result


def part(people: People) -> Part:
    def add(app: web.Application) -> None:
        async def indicators(request: web.Request) -> web.Response:
            try:
                return answer(await table(people, request))
            except NotConfigured as exc:
                return refusal(503, str(exc))

        app.router.add_get(API + "/indicators", json_errors(indicators))
        openapi.register(
            app, "GET", "/indicators", "indicators of a period by institution and family-doctor team",
            (Role.VIEWER,),
            params=[
                Param("period", "query", "2026 (a year), 2026Q3 (a quarter) or 2026-07 (a month)", required=True),
                Param("org", "query", "only this institution and those below it (organisations.yaml)"),
                Param("team", "query", "only this family-doctor team"),
            ],
        )

    return add

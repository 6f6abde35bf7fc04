"""The management API's OpenAPI 3.1 document, built from what the parts register: each part that adds a route
under /api/v1 describes it here, so the document lists exactly what the listener serves."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from engine.domain.roles import Role

PATHS = web.AppKey("openapi_paths", dict)  # {path: {method: operation}}
PREFIX = "/api/v1"
_JSON = {"application/json": {"schema": {"type": "object"}}}
_REFUSALS = {
    "400": "a parameter or the body is not what the operation takes (the error names it)",
    "401": "no login and no API token",
    "403": "the user lacks the role the operation needs",
}


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    where: str  # path | query
    description: str
    type: str = "string"  # JSON Schema type
    required: bool = False


def register(
    app: web.Application,
    method: str,
    path: str,
    summary: str,
    roles: Sequence[Role],
    *,
    params: Sequence[Param] = (),
    body: dict[str, Any] | None = None,
    not_found: str | None = None,
    conflict: str | None = None,
) -> None:
    """Describe one operation of ``path`` (an aiohttp route under /api/v1, ``{name}`` placeholders as in OpenAPI)."""
    responses = {"200": {"description": "done", "content": _JSON}}
    responses |= {code: {"description": text, "content": _JSON} for code, text in _REFUSALS.items()}
    if not_found:
        responses["404"] = {"description": not_found, "content": _JSON}
    if conflict:
        responses["409"] = {"description": conflict, "content": _JSON}
    operation: dict[str, Any] = {
        "summary": summary,
        "description": "Needs the role(s): " + " and ".join(r.value for r in roles) + ".",
        "x-roles": [r.value for r in roles],
        "parameters": [
            {
                "name": p.name,
                "in": p.where,
                "description": p.description,
                "required": p.required or p.where == "path",
                "schema": {"type": p.type, **({"minimum": 0} if p.type == "integer" else {})},
            }
            for p in params
        ],
        "responses": responses,
        "security": [{"session": []}, {"token": []}],
    }
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    app.setdefault(PATHS, {}).setdefault(PREFIX + path, {})[method.lower()] = operation


def document(app: web.Application) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Huitong management API", "version": "1"},
        "paths": dict(sorted(app.get(PATHS, {}).items())),
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "huitong_session"},
                "token": {"type": "http", "scheme": "bearer"},
            }
        },
    }


def part(app: web.Application) -> None:
    """GET /api/v1/openapi.json: the document of every operation registered (readable without a login, like a
    FHIR server's metadata: it holds no data)."""

    async def serve(_request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(document(app)), content_type="application/json")

    app.router.add_get(PREFIX + "/openapi.json", serve)

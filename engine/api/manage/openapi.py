"""The management API's OpenAPI 3.1 document (/api/v1/openapi.json), made of what each Part contributes: a Part
calls ``contribute`` with its paths and schemas, so adding an area adds entries and touches nothing else here.

The document is served to any signed-in user (viewer and up): it describes the API, never the engine's data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from engine.api.access import require
from engine.domain.roles import Role

from .common import API, answer, json_errors

_PATHS = web.AppKey("openapi_paths", dict[str, dict[str, Any]])
_SCHEMAS = web.AppKey("openapi_schemas", dict[str, Any])

ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}


def refusals(*statuses: int) -> dict[str, Any]:
    """Response entries for the refusals an operation can give, each an ``Error`` body."""
    texts = {
        400: "a parameter or the body is not valid (the error names it)",
        401: "no user: log in or send an API token",
        403: "the user lacks the role this needs",
        404: "no such item",
        409: "the item is not in a state that allows this",
        503: "the store could not be read or written",
    }
    return {
        str(s): {
            "description": texts[s],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for s in (*statuses, 401, 403, 503)
    }


def ok(schema: Mapping[str, Any], description: str = "the answer") -> dict[str, Any]:
    return {"200": {"description": description, "content": {"application/json": {"schema": dict(schema)}}}}


def contribute(app: web.Application, paths: Mapping[str, dict[str, Any]], schemas: Mapping[str, Any]) -> None:
    """Add a Part's paths (under /api/v1, written without it) and component schemas to the document; the first
    contribution also serves the document."""
    if _PATHS not in app:
        app[_PATHS] = {}
        app[_SCHEMAS] = {"Error": ERROR}
        app.router.add_get(f"{API}/openapi.json", _served)
    have_paths: dict[str, dict[str, Any]] = app[_PATHS]
    have_schemas: dict[str, Any] = app[_SCHEMAS]
    clash = sorted({*paths}.intersection(have_paths) | {*schemas}.intersection(have_schemas))
    if clash:
        raise ValueError(f"the OpenAPI document already has {clash}")
    have_paths.update(paths)
    have_schemas.update(schemas)


def document(app: web.Application) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Huitong management API",
            "version": "1",
            "description": "What the CLI can do on a running engine (docs/console.md). Every operation needs a user:"
            " a console session or an API token; message content needs the clinical (or admin) role, actions the"
            " operator role.",
        },
        "servers": [{"url": API}],
        "paths": dict(sorted(app[_PATHS].items())),
        "components": {"schemas": dict(sorted(app[_SCHEMAS].items()))},
    }


@json_errors
async def _served(request: web.Request) -> web.Response:
    require(request, Role.VIEWER)
    return answer(document(request.app))

"""The management API's OpenAPI 3.1 document (/api/v1/openapi.json), made of what each Part contributes: a Part
calls ``contribute`` with its paths and schemas, so adding an area adds entries and touches nothing else here.

The document is served to any signed-in user (viewer and up): it describes the API, never the engine's data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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


def _started(app: web.Application) -> None:
    """The document's registry on the application; the first Part to contribute also serves the document."""
    if _PATHS not in app:
        app[_PATHS] = {}
        app[_SCHEMAS] = {"Error": ERROR}
        app.router.add_get(f"{API}/openapi.json", _served)


def contribute(app: web.Application, paths: Mapping[str, dict[str, Any]], schemas: Mapping[str, Any]) -> None:
    """Add a Part's paths (under /api/v1, written without it) and component schemas to the document."""
    _started(app)
    have_paths: dict[str, dict[str, Any]] = app[_PATHS]
    have_schemas: dict[str, Any] = app[_SCHEMAS]
    clash = sorted({*paths}.intersection(have_paths) | {*schemas}.intersection(have_schemas))
    if clash:
        raise ValueError(f"the OpenAPI document already has {clash}")
    have_paths.update(paths)
    have_schemas.update(schemas)


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
    """Describe one operation of ``path`` (under /api/v1, written without it; ``{name}`` placeholders as in
    OpenAPI): the roles it needs, its parameters and body, and the refusals it can give."""
    _started(app)
    statuses = (400, *((404,) if not_found else ()), *((409,) if conflict else ()))
    responses = {**ok({"type": "object"}, "done"), **refusals(*statuses)}
    if not_found:
        responses["404"]["description"] = not_found
    if conflict:
        responses["409"]["description"] = conflict
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
    }
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    methods: dict[str, Any] = app[_PATHS].setdefault(path, {})
    if method.lower() in methods:
        raise ValueError(f"the OpenAPI document already has {method.upper()} {path}")
    methods[method.lower()] = operation


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

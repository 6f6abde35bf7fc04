"""The FHIR R4 read API's listener: routes, FHIR errors, and the store reads run off the event loop.

Every answer is FHIR JSON; every refusal an OperationOutcome with the right status (400, 404, 405), and a
failure of ours is logged and answered 503 (the store could not be read) rather than a bare 500.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import structlog
from aiohttp import web
from sqlalchemy import Engine

from engine.config import FhirApiSpec
from engine.connectors.http import HttpListener
from engine.connectors.tls import server_context
from engine.domain.formats.fhir import operation_outcome
from engine.store import fhir_read
from engine.views import fhir
from engine.views.fhir_capability import capability_statement

log = structlog.get_logger("huitong.fhir_api")
FHIR_JSON = "application/fhir+json"
BASE_PATH = "/fhir"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def reply(status: int, body: dict[str, Any]) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type=FHIR_JSON)


def refuse(status: int, code: str, text: str) -> web.Response:
    return reply(status, operation_outcome("error", code, text))


@web.middleware
async def _fhir_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except fhir.BadRequest as exc:
        return refuse(400, "invalid", str(exc))
    except web.HTTPNotFound:
        return refuse(404, "not-found", "no such FHIR endpoint here; see /fhir/metadata")
    except web.HTTPMethodNotAllowed:
        return refuse(405, "not-supported", "this server only reads: GET")
    except web.HTTPException as exc:
        return refuse(exc.status, "processing", exc.reason)
    except Exception:
        log.exception("fhir api request failed", path=request.path)  # the path holds ids only, never content
        return refuse(503, "transient", "the record could not be read; try again")


def application(store: Engine, spec: FhirApiSpec) -> web.Application:
    """GET metadata, search, read, history and vread under /fhir."""

    def base(request: web.Request) -> str:
        return f"{request.scheme}://{request.host}{BASE_PATH}"

    async def run(job: Callable[[Any], Any]) -> Any:
        def in_thread() -> Any:
            with store.connect() as conn:
                return job(conn)

        return await asyncio.to_thread(in_thread)

    def served(kind: str) -> None:
        if kind not in fhir.TYPES:
            raise web.HTTPNotFound

    async def metadata(request: web.Request) -> web.Response:
        return reply(200, capability_statement(base(request)))

    async def search(request: web.Request) -> web.Response:
        kind = request.match_info["type"]
        served(kind)
        query = list(request.query.items())
        return reply(200, await run(lambda conn: fhir.search(conn, base(request), kind, query, spec.max_count)))

    async def read(request: web.Request) -> web.Response:
        kind, ident = request.match_info["type"], request.match_info["id"]
        served(kind)
        stored = await run(lambda conn: fhir_read.current(conn, kind, ident))
        if stored is None:
            return refuse(404, "not-found", f"{kind}/{ident} is not in the record")
        return reply(200, fhir.resource(stored))

    async def history(request: web.Request) -> web.Response:
        kind, ident = request.match_info["type"], request.match_info["id"]
        served(kind)
        versions = await run(lambda conn: fhir_read.history(conn, kind, ident))
        if not versions:
            return refuse(404, "not-found", f"{kind}/{ident} is not in the record")
        return reply(200, fhir.history_bundle(base(request), versions))

    async def vread(request: web.Request) -> web.Response:
        kind, ident, vid = request.match_info["type"], request.match_info["id"], request.match_info["vid"]
        served(kind)
        version = int(vid) if vid.isascii() and vid.isdigit() and len(vid) < 10 else None
        found = [] if version is None else await run(lambda conn: fhir_read.history(conn, kind, ident, version))
        if not found:
            return refuse(404, "not-found", f"{kind}/{ident} has no version {vid}")
        return reply(200, fhir.resource(found[0]))

    app = web.Application(middlewares=[_fhir_errors])
    kind, ident = "{type:[A-Z][A-Za-z]{1,63}}", "{id:[A-Za-z0-9.-]{1,64}}"
    app.router.add_get(f"{BASE_PATH}/metadata", metadata)
    app.router.add_get(f"{BASE_PATH}/{kind}", search)
    app.router.add_get(f"{BASE_PATH}/{kind}/{ident}", read)
    app.router.add_get(f"{BASE_PATH}/{kind}/{ident}/_history", history)
    app.router.add_get(f"{BASE_PATH}/{kind}/{ident}/_history/{{vid}}", vread)
    return app


def listener(store: Engine, spec: FhirApiSpec) -> HttpListener:
    context = server_context(spec.tls) if spec.tls is not None else None
    return HttpListener(application(store, spec), spec.listen.host, spec.listen.port, ssl_context=context)

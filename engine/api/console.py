"""The operators' listener: one aiohttp application for the web console, the management API (/api/v1), /metrics
and the health probes (docs/console.md).

Each part of it is a ``Part``, a function that adds its routes (and what it needs on ``app``) to the application;
the daemon chooses the parts and wires them (engine/runtime/daemon.py), so the listener itself knows none of them.
``/healthz`` is the listener's own: the process answers, so it is alive.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from aiohttp.typedefs import Middleware

from engine.config import ConsoleSpec
from engine.connectors.http import HttpListener
from engine.connectors.tls import server_context
from engine.domain.roles import ANONYMOUS

Part = Callable[[web.Application], None]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _alive(_request: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


def application(parts: Sequence[Part], middlewares: Sequence[Middleware] = ()) -> web.Application:
    app = web.Application(middlewares=list(middlewares))
    app.router.add_get("/healthz", _alive)
    for part in parts:
        part(app)
    return app


def listener(spec: ConsoleSpec, parts: Sequence[Part], middlewares: Sequence[Middleware] = ()) -> HttpListener:
    context = server_context(spec.tls) if spec.tls is not None else None
    return HttpListener(application(parts, middlewares), spec.listen.host, spec.listen.port, ssl_context=context)


@web.middleware
async def open_access(request: web.Request, handler: Handler) -> web.StreamResponse:
    """``auth: none``: every request acts as the anonymous admin (the config said so; validate warns about it)."""
    request["user"] = ANONYMOUS
    return await handler(request)
